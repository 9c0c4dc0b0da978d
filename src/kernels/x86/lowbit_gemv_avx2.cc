// AVX2 inner loop of the W4A8 / W2A8 GEMV (lowbit_gemv.h). vpdpbusd is
// emulated exactly: vpmaddubsw (u8 activation x code 0..15, pair sums <= 7650,
// so no int16 saturation; the sub-slices are added as int16 too: at most
// 2 * 7650 for int4, 4 * 1530 for int2) then vpmaddwd with ones to int32.
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/lowbit_gemv.h"

namespace nibble::lowbit_gemv_detail {
namespace {

inline __m256i Broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int BITS>
void Dot(const uint8_t* w, int64_t groups, const uint8_t* a, int32_t* dot) {
  constexpr int kPer = 8 / BITS, kGroup = 4 * kPer;
  const __m256i mask = _mm256_set1_epi8(static_cast<char>((1 << BITS) - 1));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[8];  // 64 columns = 8 ymm of int32
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_si256();
  for (int64_t g = 0; g < groups; ++g, w += 256, a += kGroup) {
    __m256i av[kPer];
    for (int s = 0; s < kPer; ++s) av[s] = Broadcast4(a + 4 * s);
    for (int h = 0; h < 8; ++h) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * h));
      __m256i sum16 = _mm256_setzero_si256();
      for (int s = 0; s < kPer; ++s) {
        const __m256i codes = _mm256_and_si256(s == 0 ? v : _mm256_srli_epi16(v, BITS * s), mask);
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(av[s], codes));
      }
      acc[h] = _mm256_add_epi32(acc[h], _mm256_madd_epi16(sum16, ones));
    }
  }
  for (int h = 0; h < 8; ++h) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dot + 8 * h), acc[h]);
}

}  // namespace

void DotAvx2(const LowBitGemvPacked& pk, int64_t sb, const uint8_t* a, int32_t* dot) {
  const uint8_t* w = pk.w.data() + sb * pk.groups * 256;
  if (pk.w_bits == 4) Dot<4>(w, pk.groups, a, dot);
  else Dot<2>(w, pk.groups, a, dot);
}

}  // namespace nibble::lowbit_gemv_detail
