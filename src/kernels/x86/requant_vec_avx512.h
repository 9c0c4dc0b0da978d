// Requantize (requantize.h) on 16 int32 lanes, bit for bit, for AVX-512 F/BW
// translation units (*_avx512vnni.cc) only.
//
// MultiplyByQuantizedMultiplier needs the full 64-bit product: vpmuldq on the
// even lanes and on the odd lanes shifted down, + 2^(shift-1), vpsraq. The
// int32 saturation and the final clamp(v + zero_point, lo, hi) are one clamp
// in int64: clamp(v, lo - zp, hi - zp) + zp is the same value for every
// int64 v (lo - zp and hi - zp lie in int32 since the bounds and zero point
// are 8-bit codes), and it subsumes the int32 saturation.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace nibble::vec512 {

struct RequantConsts {
  __m512i mult;   // multiplier in every 32-bit lane (vpmuldq reads the even ones)
  __m512i round;  // 2^(shift-1) in every 64-bit lane
  __m128i shift;  // shift count for vpsraq
  __m512i lo, hi;  // lo - zp, hi - zp in every 64-bit lane
  __m512i zp;      // zero point in every 32-bit lane
};

static inline RequantConsts MakeRequant(int32_t multiplier, int32_t shift, int32_t zero_point, int32_t lo,
                                        int32_t hi) {
  RequantConsts c;
  c.mult = _mm512_set1_epi32(multiplier);
  c.round = _mm512_set1_epi64(int64_t{1} << (shift - 1));
  c.shift = _mm_cvtsi32_si128(shift);
  c.lo = _mm512_set1_epi64(int64_t{lo} - zero_point);
  c.hi = _mm512_set1_epi64(int64_t{hi} - zero_point);
  c.zp = _mm512_set1_epi32(zero_point);
  return c;
}

// 16 int32 accumulators -> 16 int32 codes in [lo, hi].
static inline __m512i Requant(__m512i acc, const RequantConsts& c) {
  __m512i even = _mm512_mul_epi32(acc, c.mult);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), c.mult);
  even = _mm512_sra_epi64(_mm512_add_epi64(even, c.round), c.shift);
  odd = _mm512_sra_epi64(_mm512_add_epi64(odd, c.round), c.shift);
  even = _mm512_min_epi64(_mm512_max_epi64(even, c.lo), c.hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, c.lo), c.hi);
  const __m512i r = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_add_epi32(r, c.zp);
}

// MultiplyByQuantizedMultiplier without the saturation, for operands where it
// cannot trigger (|x * multiplier * 2^-shift| < 2^31 by construction).
static inline __m512i MulByMultiplierNoSat(__m512i x, __m512i mult, __m512i round, __m128i shift) {
  __m512i even = _mm512_mul_epi32(x, mult);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mult);
  even = _mm512_sra_epi64(_mm512_add_epi64(even, round), shift);
  odd = _mm512_sra_epi64(_mm512_add_epi64(odd, round), shift);
  return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

}  // namespace nibble::vec512
