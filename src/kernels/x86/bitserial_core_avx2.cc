// AVX2 path of the bit-serial core (bitserial_core.h): no vector popcount, so
// bytes are counted with a nibble lookup (vpshufb) and the byte counts summed
// per 64-bit lane with vpsadbw. A weight block's 8 lanes are two ymm halves.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/bitserial_core.h"

namespace nibble::bitserial {
namespace {

inline __m256i ByteCounts(__m256i x, __m256i lut, __m256i low4) {
  const __m256i lo = _mm256_and_si256(x, low4);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low4);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

// One activation row x 4 weight lanes (half h of the block). Byte counts of
// the pairs with the same exponent t = i + j are added as bytes first (at most
// 4 pairs * 8 = 32 per byte, no overflow), then widened once per t.
template <int KA, int KW, bool XOR>
void RowHalf(const uint64_t* a, int64_t words, const uint64_t* w, int half, int32_t* out) {
  constexpr int T = KA + KW - 1;
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2,
                                       2, 3, 2, 3, 3, 4);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc[T];
  for (int t = 0; t < T; ++t) acc[t] = zero;
  for (int64_t wd = 0; wd < words; ++wd) {
    __m256i wv[KW];
    for (int j = 0; j < KW; ++j)
      wv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + (wd * KW + j) * kLanes + 4 * half));
    __m256i bytes[T];
    for (int t = 0; t < T; ++t) bytes[t] = zero;
    for (int i = 0; i < KA; ++i) {
      const __m256i av = _mm256_set1_epi64x(static_cast<long long>(a[wd * KA + i]));
      for (int j = 0; j < KW; ++j) {
        const __m256i x = XOR ? _mm256_xor_si256(av, wv[j]) : _mm256_and_si256(av, wv[j]);
        bytes[i + j] = _mm256_add_epi8(bytes[i + j], ByteCounts(x, lut, low4));
      }
    }
    for (int t = 0; t < T; ++t) acc[t] = _mm256_add_epi64(acc[t], _mm256_sad_epu8(bytes[t], zero));
  }
  __m256i s = acc[0];
  for (int t = 1; t < T; ++t) s = _mm256_add_epi64(s, _mm256_slli_epi64(acc[t], t));
  alignas(32) int64_t v[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), s);
  for (int l = 0; l < 4; ++l) out[4 * half + l] = static_cast<int32_t>(v[l]);
}

template <int KA, int KW, bool XOR>
void Rows(const uint64_t* a, int64_t rows, int64_t words, const uint64_t* w, int32_t* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int h = 0; h < 2; ++h) RowHalf<KA, KW, XOR>(a + r * words * KA, words, w, h, out + r * kLanes);
}

using RowsFn = void (*)(const uint64_t*, int64_t, int64_t, const uint64_t*, int32_t*);

template <int KA>
constexpr RowsFn Pick(int kw) {
  switch (kw) {
    case 1: return &Rows<KA, 1, false>;
    case 2: return &Rows<KA, 2, false>;
    case 3: return &Rows<KA, 3, false>;
    default: return &Rows<KA, 4, false>;
  }
}

}  // namespace

void BitDotRowsAvx2(BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words, const uint64_t* w,
                    int32_t* out) {
  if (op == BitOp::kXor) return Rows<1, 1, true>(a, rows, words, w, out);
  RowsFn fn = ka == 1 ? Pick<1>(kw) : ka == 2 ? Pick<2>(kw) : ka == 3 ? Pick<3>(kw) : Pick<4>(kw);
  fn(a, rows, words, w, out);
}

}  // namespace nibble::bitserial
