// AVX-512 VNNI inner loop of the W4A8 / W2A8 GEMV (lowbit_gemv.h): one
// superblock (64 columns = 4 zmm of int32) over all of K. Each 64-byte load
// holds 16 columns x 4 depth values x (8 / bits) codes; a shift and an AND give
// the byte operand of vpdpbusd (u8 activations, codes 0..15 as s8).
// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/x86/lowbit_gemv.h"

namespace nibble::lowbit_gemv_detail {
namespace {

inline __m512i Broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int BITS>
void Dot(const uint8_t* w, int64_t groups, const uint8_t* a, int32_t* dot) {
  constexpr int kPer = 8 / BITS, kGroup = 4 * kPer;
  const __m512i mask = _mm512_set1_epi8(static_cast<char>((1 << BITS) - 1));
  // Two accumulator sets (even / odd sub-slices) to halve the vpdpbusd dependency chains.
  __m512i acc[2][4];
  for (int h = 0; h < 2; ++h)
    for (int cb = 0; cb < 4; ++cb) acc[h][cb] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g, w += 256, a += kGroup) {
    __m512i av[kPer];
#pragma GCC unroll 4
    for (int s = 0; s < kPer; ++s) av[s] = Broadcast4(a + 4 * s);
#pragma GCC unroll 4
    for (int cb = 0; cb < 4; ++cb) {
      const __m512i v = _mm512_loadu_si512(w + 64 * cb);
#pragma GCC unroll 4
      for (int s = 0; s < kPer; ++s) {
        const __m512i codes = _mm512_and_si512(s == 0 ? v : _mm512_srli_epi16(v, BITS * s), mask);
        acc[s & 1][cb] = _mm512_dpbusd_epi32(acc[s & 1][cb], av[s], codes);
      }
    }
  }
  for (int cb = 0; cb < 4; ++cb) _mm512_store_si512(dot + 16 * cb, _mm512_add_epi32(acc[0][cb], acc[1][cb]));
}

}  // namespace

void DotAvx512(const LowBitGemvPacked& pk, int64_t sb, const uint8_t* a, int32_t* dot) {
  const uint8_t* w = pk.w.data() + sb * pk.groups * 256;
  if (pk.w_bits == 4) Dot<4>(w, pk.groups, a, dot);
  else Dot<2>(w, pk.groups, a, dot);
}

// Per column j: v = dot + const[j] - zu[j] * sum(a') in wrapping int32 (exact,
// the true value is an int32), then Requantize on 8 int64 lanes at a time:
// clamp((v * m + 2^(s-1)) >> s, lo - zp, hi - zp) + zp, equal to Requantize
// for 8-bit clamp bounds and |zp| <= 2^16 (the int32 saturation is inside the clamp).
template <class TC>
void EpilogueAvx512(const LowBitGemvPacked& pk, int64_t sb, const int32_t* dot, int32_t asum, bool a_signed, TC* c,
                    int32_t lo, int32_t hi) {
  const int64_t j0 = sb * 64;
  const int32_t* cst = (a_signed ? pk.const_s8 : pk.const_u8).data() + j0;
  const __m512i vasum = _mm512_set1_epi32(asum);
  const __m512i vlo = _mm512_set1_epi64(int64_t{lo} - pk.c_zero_point);
  const __m512i vhi = _mm512_set1_epi64(int64_t{hi} - pk.c_zero_point);
  const __m512i zp = _mm512_set1_epi64(pk.c_zero_point);
  for (int h = 0; h < 8; ++h) {
    const int64_t j = j0 + 8 * h;
    if (j >= pk.n) break;
    const int lanes = static_cast<int>(std::min<int64_t>(8, pk.n - j));
    const __mmask8 mask = static_cast<__mmask8>((1u << lanes) - 1);
    const __m256i d = _mm256_load_si256(reinterpret_cast<const __m256i*>(dot + 8 * h));
    const __m256i v32 = _mm256_sub_epi32(
        _mm256_add_epi32(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cst + 8 * h))),
        _mm256_mullo_epi32(_mm512_castsi512_si256(vasum),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pk.zu_pad.data() + j))));
    if constexpr (std::is_same_v<TC, int32_t>) {
      _mm256_mask_storeu_epi32(c + j, mask, v32);
    } else {
      const __m512i v = _mm512_cvtepi32_epi64(v32);
      __m512i q = _mm512_mul_epi32(v, _mm512_loadu_si512(pk.lane_mult.data() + j));
      q = _mm512_srav_epi64(_mm512_add_epi64(q, _mm512_loadu_si512(pk.lane_round.data() + j)),
                            _mm512_loadu_si512(pk.lane_shift.data() + j));
      q = _mm512_add_epi64(_mm512_min_epi64(_mm512_max_epi64(q, vlo), vhi), zp);
      _mm_mask_storeu_epi8(c + j, mask, _mm512_cvtepi64_epi8(q));
    }
  }
}

template void EpilogueAvx512<uint8_t>(const LowBitGemvPacked&, int64_t, const int32_t*, int32_t, bool, uint8_t*, int32_t, int32_t);
template void EpilogueAvx512<int8_t>(const LowBitGemvPacked&, int64_t, const int32_t*, int32_t, bool, int8_t*, int32_t, int32_t);
template void EpilogueAvx512<int32_t>(const LowBitGemvPacked&, int64_t, const int32_t*, int32_t, bool, int32_t*, int32_t, int32_t);

}  // namespace nibble::lowbit_gemv_detail
