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
#include <type_traits>

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

// Requant for results known to lie in (-2^30, 2^30) (MicroArgs::narrow) and
// 33 <= shift <= 45 (every requantization scale below 1/4): only the high
// dwords H of the 64-bit products matter, since 2^(s-1) is a multiple of 2^32
// and the low dword L < 2^32 cannot carry past it:
//   floor((P + 2^(s-1)) / 2^s) = floor((H + 2^(s-33)) / 2^(s-32)),  P = 2^32 H + L,
// so one dword shuffle gathers both H's and the rest runs in 32 bits, the zero
// point riding in the rounding term (adding zp 2^(s-32) before the shift adds
// exactly zp after it; |H| < 2^30, |zp| 2^(s-32) <= 2^29: no int32
// overflow), and the clamp runs in 32 bits. Six operations per 16 lanes;
// other shifts take the general form.
struct ReqH {
  __m512i m, rz;  // multiplier (in every dword), rounding term + zp * 2^(s-32)
  __m128i sh;     // s - 32
};

static inline bool HighOk(int32_t s) { return s >= 33 && s <= 45; }

static inline ReqH MakeReqH(int32_t m, int32_t s, int32_t zp) {
  ReqH p;
  p.m = _mm512_set1_epi32(m);
  p.rz = _mm512_set1_epi32((int32_t{1} << (s - 33)) + zp * (int32_t{1} << (s - 32)));
  p.sh = _mm_cvtsi32_si128(s - 32);
  return p;
}

// H = the high dword of x * m per lane (signed 32 x 32 -> 64); me holds the
// even lanes' multipliers in the low dwords of the qwords, mo the odd lanes'.
static inline __m512i HighDwords(__m512i x, __m512i me, __m512i mo) {
  const __m512i e = _mm512_mul_epi32(x, me);
  const __m512i o = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo);
  return _mm512_mask_shuffle_epi32(o, 0x5555, e, _MM_PERM_CDAB);  // H of lane 2i from e, 2i+1 from o
}

// MBQM(x) + zp for 16 lanes.
static inline __m512i RequantHigh(__m512i x, const ReqH& p) {
  return _mm512_sra_epi32(_mm512_add_epi32(HighDwords(x, p.m, p.m), p.rz), p.sh);
}

// Requantize with a multiplier and shift per lane (or one for all: ReqBroadcast).
// MultiplyByQuantizedMultiplier needs a 64-bit product per lane: even lanes
// multiply in place (vpmuldq reads the low dword of each qword), odd lanes after
// a 32-bit shift; the rounding add and the arithmetic shift (vpsravq) are exact
// in 64 bits. Clamping the 64-bit result to [lo - zp, hi - zp] before adding zp
// equals the reference's saturate-to-int32, + zp, clamp whenever |zp|, |lo|,
// |hi| <= 2^30: a result beyond int32 lands beyond [lo, hi] either way.
struct Req {
  __m512i me, mo, se, so, re, ro;
};

inline Req ReqBroadcast(int32_t m, int32_t s) {
  Req p;
  p.me = p.mo = _mm512_set1_epi64(m);
  p.se = p.so = _mm512_set1_epi64(s);
  p.re = p.ro = _mm512_set1_epi64(int64_t{1} << (s - 1));
  return p;
}

inline Req ReqLanes(const int32_t* m, const int32_t* s, __mmask16 k) {
  const __m512i mv = _mm512_maskz_loadu_epi32(k, m), sv = _mm512_maskz_loadu_epi32(k, s);
  const __m512i one = _mm512_set1_epi64(1);
  Req p;
  p.me = mv;
  p.mo = _mm512_srli_epi64(mv, 32);
  p.se = _mm512_and_si512(sv, _mm512_set1_epi64(0xffffffff));
  p.so = _mm512_srli_epi64(sv, 32);
  // Masked-off lanes have shift 0: 1 << -1 is 0 for vpsllvq, harmless.
  p.re = _mm512_sllv_epi64(one, _mm512_sub_epi64(p.se, one));
  p.ro = _mm512_sllv_epi64(one, _mm512_sub_epi64(p.so, one));
  return p;
}

inline __m512i Requant(__m512i x, const Req& p, __m512i lo64, __m512i hi64, __m512i zp32) {
  __m512i e = _mm512_mul_epi32(x, p.me);
  __m512i o = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), p.mo);
  e = _mm512_srav_epi64(_mm512_add_epi64(e, p.re), p.se);
  o = _mm512_srav_epi64(_mm512_add_epi64(o, p.ro), p.so);
  e = _mm512_min_epi64(_mm512_max_epi64(e, lo64), hi64);
  o = _mm512_min_epi64(_mm512_max_epi64(o, lo64), hi64);
  return _mm512_add_epi32(_mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64(o, 32)), zp32);
}

// RequantHigh with a multiplier and shift per lane (fc mode, the AMX conv epilogue). False when some
// lane's shift is outside [33, 45].
struct ReqHL {
  __m512i me, mo, rz, sh;
};

inline bool MakeReqHL(const int32_t* m, const int32_t* s, int stride, __mmask16 k, int32_t zp, ReqHL& p) {
  const __m512i mv = stride == 0 ? _mm512_set1_epi32(m[0]) : _mm512_maskz_loadu_epi32(k, m);
  __m512i sv = stride == 0 ? _mm512_set1_epi32(s[0]) : _mm512_maskz_loadu_epi32(k, s);
  sv = _mm512_mask_mov_epi32(_mm512_set1_epi32(33), k, sv);  // lanes past the tile: any valid shift
  if (_mm512_cmplt_epi32_mask(sv, _mm512_set1_epi32(33)) | _mm512_cmpgt_epi32_mask(sv, _mm512_set1_epi32(45)))
    return false;
  const __m512i one = _mm512_set1_epi32(1), sh = _mm512_sub_epi32(sv, _mm512_set1_epi32(32));
  p.me = mv;
  p.mo = _mm512_srli_epi64(mv, 32);
  p.rz = _mm512_add_epi32(_mm512_sllv_epi32(one, _mm512_sub_epi32(sh, one)),
                          _mm512_mullo_epi32(_mm512_set1_epi32(zp), _mm512_sllv_epi32(one, sh)));
  p.sh = sh;
  return true;
}

inline __m512i RequantHighLanes(__m512i x, const ReqHL& p) {
  return _mm512_srav_epi32(_mm512_add_epi32(HighDwords(x, p.me, p.mo), p.rz), p.sh);
}

// Four vectors of 16 int32 lanes as 64 bytes in order: a's 16, then b's,
// c's, d's, each lane saturated to TC's range (int16 first, then TC: the
// same as saturating straight to TC). A clamp to a narrower [lo, hi] is the
// caller's, before (on the int32 lanes) or after (on the bytes, since
// saturating and then clamping inside TC's range is the clamp). The packs
// work per 128-bit block (block L of the result holds a, b, c, d's block L,
// 4 bytes each); one dword permute puts every vector's four blocks back
// together.
template <class TC>
inline __m512i Pack4(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i ab = _mm512_packs_epi32(a, b), cd = _mm512_packs_epi32(c, d);
  const __m512i bytes = std::is_same_v<TC, uint8_t> ? _mm512_packus_epi16(ab, cd) : _mm512_packs_epi16(ab, cd);
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_permutexvar_epi32(order, bytes);
}

}  // namespace nibble::vec512
