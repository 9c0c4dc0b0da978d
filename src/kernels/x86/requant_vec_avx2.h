// Requantize (requantize.h) on 8 int32 lanes, bit for bit, for AVX2
// translation units (*_avx2.cc) only. Same scheme as requant_vec_avx512.h;
// AVX2 lacks the 64-bit arithmetic shift and min/max, so:
//   t >> s (arithmetic) == ((t ^ 2^63) >>> s) - 2^(63-s)   (logical shift of the biased value)
//   clamp via vpcmpgtq + vblendvpd.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace nibble::vec256 {

struct RequantConsts {
  __m256i mult;   // multiplier in every 32-bit lane
  __m256i round;  // 2^(shift-1) ^ 2^63 in every 64-bit lane (adding it also flips the sign bit)
  __m128i shift;
  __m256i unbias;  // 2^(63-shift)
  __m256i lo, hi;  // lo - zp, hi - zp (int64)
  __m256i zp;
};

static inline RequantConsts MakeRequant(int32_t multiplier, int32_t shift, int32_t zero_point, int32_t lo,
                                        int32_t hi) {
  RequantConsts c;
  c.mult = _mm256_set1_epi32(multiplier);
  // (t + 2^(s-1)) ^ 2^63 == t + (2^(s-1) + 2^63) modulo 2^64.
  c.round = _mm256_set1_epi64x(static_cast<int64_t>((uint64_t{1} << (shift - 1)) + (uint64_t{1} << 63)));
  c.shift = _mm_cvtsi32_si128(shift);
  c.unbias = _mm256_set1_epi64x(static_cast<int64_t>(uint64_t{1} << (63 - shift)));
  c.lo = _mm256_set1_epi64x(int64_t{lo} - zero_point);
  c.hi = _mm256_set1_epi64x(int64_t{hi} - zero_point);
  c.zp = _mm256_set1_epi32(zero_point);
  return c;
}

// (t + 2^(s-1)) >> s, arithmetic, on 4 int64 lanes.
static inline __m256i RoundShift64(__m256i t, const RequantConsts& c) {
  return _mm256_sub_epi64(_mm256_srl_epi64(_mm256_add_epi64(t, c.round), c.shift), c.unbias);
}

static inline __m256i Clamp64(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
  return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

// 8 int32 accumulators -> 8 int32 codes in [lo, hi].
static inline __m256i Requant(__m256i acc, const RequantConsts& c) {
  __m256i even = _mm256_mul_epi32(acc, c.mult);
  __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), c.mult);
  even = Clamp64(RoundShift64(even, c), c.lo, c.hi);
  odd = Clamp64(RoundShift64(odd, c), c.lo, c.hi);
  const __m256i r = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  return _mm256_add_epi32(r, c.zp);
}

// MultiplyByQuantizedMultiplier without saturation (see requant_vec_avx512.h).
static inline __m256i MulByMultiplierNoSat(__m256i x, const RequantConsts& c) {
  __m256i even = RoundShift64(_mm256_mul_epi32(x, c.mult), c);
  __m256i odd = RoundShift64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), c.mult), c);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// 8 int32 codes already in the range of T -> 8 bytes.
template <bool kSigned>
static inline __m128i PackCodes(__m256i v) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return kSigned ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
}

}  // namespace nibble::vec256
