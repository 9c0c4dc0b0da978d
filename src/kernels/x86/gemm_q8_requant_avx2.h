// The fused requantization epilogue on 8 int32 lanes with AVX2 only (no
// 64-bit arithmetic shift or min/max: emulated), shared by the AVX2 and the
// ymm VNNI micro-kernels. Internal linkage on purpose: every including file is
// compiled with its own ISA flags. Same arithmetic as the zmm epilogue in
// gemm_q8_microkernel_avx512vnni.cc (see there for why it equals Requantize).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace nibble::q8 {
namespace {

struct ReqY {
  __m256i me, mo, se, so, re, ro;
};

inline ReqY ReqYBroadcast(int32_t m, int32_t s) {
  ReqY p;
  p.me = p.mo = _mm256_set1_epi64x(m);
  p.se = p.so = _mm256_set1_epi64x(s);
  p.re = p.ro = _mm256_set1_epi64x(int64_t{1} << (s - 1));
  return p;
}

// Lanes >= n are loaded as 0 (vpmaskmovd does not touch them).
inline __m256i LaneMaskY(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline ReqY ReqYLanes(const int32_t* m, const int32_t* s, __m256i mask) {
  const __m256i mv = _mm256_maskload_epi32(m, mask), sv = _mm256_maskload_epi32(s, mask);
  const __m256i one = _mm256_set1_epi64x(1);
  ReqY p;
  p.me = mv;
  p.mo = _mm256_srli_epi64(mv, 32);
  p.se = _mm256_and_si256(sv, _mm256_set1_epi64x(0xffffffff));
  p.so = _mm256_srli_epi64(sv, 32);
  p.re = _mm256_sllv_epi64(one, _mm256_sub_epi64(p.se, one));  // count -1 (masked lanes) gives 0
  p.ro = _mm256_sllv_epi64(one, _mm256_sub_epi64(p.so, one));
  return p;
}

// Arithmetic shift of int64 lanes: (v + 2^63) >> s logically, minus 2^(63 - s).
inline __m256i SraEpi64(__m256i v, __m256i s) {
  const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
  return _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_xor_si256(v, sign), s), _mm256_srlv_epi64(sign, s));
}

inline __m256i Clamp64(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
  return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

inline __m256i RequantY(__m256i x, const ReqY& p, __m256i lo64, __m256i hi64, __m256i zp32) {
  __m256i e = _mm256_mul_epi32(x, p.me);
  __m256i o = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), p.mo);
  e = Clamp64(SraEpi64(_mm256_add_epi64(e, p.re), p.se), lo64, hi64);
  o = Clamp64(SraEpi64(_mm256_add_epi64(o, p.ro), p.so), lo64, hi64);
  return _mm256_add_epi32(_mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA), zp32);
}

// The low byte of each of the first n lanes (values are within [lo, hi], a
// byte type's range, so truncation is the conversion).
inline void StoreBytesY(void* dst, __m256i y, int n) {
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i s = _mm256_shuffle_epi8(y, pick);
  const uint64_t lo = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm256_castsi256_si128(s)));
  const uint64_t hi = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm256_extracti128_si256(s, 1)));
  const uint64_t v = lo | (hi << 32);
  // A whole row of 8 in one store: a copy of n bytes, n unknown, is a libc call.
  if (n == 8) std::memcpy(dst, &v, 8);
  else std::memcpy(dst, &v, n);
}

// Narrow results (MicroArgs::narrow) with 33 <= shift <= 45 on 32-bit lanes,
// as RequantHigh in gemm_q8_microkernel_avx512vnni.cc: the high dwords H of
// the 64-bit products, then (H + 2^(s-33) + zp 2^(s-32)) >> (s - 32), clamped.
// False (nothing stored) when some lane's shift is outside that range.
// H = the high dword of x * m per lane (signed 32 x 32 -> 64).
inline __m256i HighDwordsY(__m256i x, __m256i m) {
  const __m256i e = _mm256_mul_epi32(x, m);
  const __m256i o = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32));
  return _mm256_blend_epi32(o, _mm256_shuffle_epi32(e, 0xB1), 0x55);  // H of lane 2i from e, 2i+1 from o
}

inline __m256i ClampY(__m256i y, int32_t lo, int32_t hi) {
  return _mm256_min_epi32(_mm256_max_epi32(y, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

// The narrow form with one multiplier for every lane and 1 <= sh = shift -
// 32 <= 13: (H + 2^(sh-1) + zp 2^sh) >> sh, clamped (shared by the conv
// epilogue and the depthwise kernel).
inline __m256i NarrowOneY(__m256i x, __m256i m, int32_t sh, int32_t zp, int32_t lo, int32_t hi) {
  const int32_t rz = (int32_t{1} << (sh - 1)) + zp * (int32_t{1} << sh);
  return ClampY(_mm256_sra_epi32(_mm256_add_epi32(HighDwordsY(x, m), _mm256_set1_epi32(rz)), _mm_cvtsi32_si128(sh)),
                lo, hi);
}

inline bool NarrowHighY(__m256i x, __m256i m, __m256i s, __m256i mask, int32_t zp, int32_t lo, int32_t hi,
                        __m256i& y) {
  s = _mm256_blendv_epi8(_mm256_set1_epi32(33), s, mask);  // lanes past the tile: any valid shift
  const __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(33), s),
                                      _mm256_cmpgt_epi32(s, _mm256_set1_epi32(45)));
  if (!_mm256_testz_si256(bad, bad)) return false;
  const __m256i one = _mm256_set1_epi32(1), sh = _mm256_sub_epi32(s, _mm256_set1_epi32(32));
  const __m256i rz = _mm256_add_epi32(_mm256_sllv_epi32(one, _mm256_sub_epi32(sh, one)),
                                      _mm256_mullo_epi32(_mm256_set1_epi32(zp), _mm256_sllv_epi32(one, sh)));
  y = ClampY(_mm256_srav_epi32(_mm256_add_epi32(HighDwordsY(x, m), rz), sh), lo, hi);
  return true;
}

// One tile row's epilogue for lanes [j0, j0 + n) (n <= 8).
template <class Args>
inline void EpilogueY(const Args& g, __m256i acc, int r, int j0, int n, void* dst) {
  const __m256i mask = LaneMaskY(n);
  const __m256i bias = g.per_lane ? _mm256_maskload_epi32(g.bias + j0, mask) : _mm256_set1_epi32(g.bias[r]);
  if (g.narrow) {
    __m256i y;
    if (g.per_lane && g.mult_stride != 0) {
      if (NarrowHighY(_mm256_add_epi32(acc, bias), _mm256_maskload_epi32(g.mult + j0, mask),
                      _mm256_maskload_epi32(g.shift + j0, mask), mask, g.zp, g.lo, g.hi, y))
        return StoreBytesY(dst, y, n);
    } else {
      // One multiplier for every lane: its constants are scalars.
      const int i = g.mult_stride == 0 ? 0 : r;
      const int32_t sh = g.shift[i] - 32;
      if (sh >= 1 && sh <= 13)
        return StoreBytesY(dst, NarrowOneY(_mm256_add_epi32(acc, bias), _mm256_set1_epi32(g.mult[i]), sh, g.zp, g.lo, g.hi),
                           n);
    }
  }
  const ReqY p = g.mult_stride == 0 ? ReqYBroadcast(g.mult[0], g.shift[0])
                 : g.per_lane       ? ReqYLanes(g.mult + j0, g.shift + j0, mask)
                                    : ReqYBroadcast(g.mult[r], g.shift[r]);
  const __m256i lo64 = _mm256_set1_epi64x(int64_t{g.lo} - g.zp), hi64 = _mm256_set1_epi64x(int64_t{g.hi} - g.zp);
  StoreBytesY(dst, RequantY(_mm256_add_epi32(acc, bias), p, lo64, hi64, _mm256_set1_epi32(g.zp)), n);
}

inline void RequantizeY(const int32_t* acc, const int32_t* mult, const int32_t* shift, int64_t n, int32_t zp,
                        int32_t lo, int32_t hi, int32_t* out) {
  const __m256i lo64 = _mm256_set1_epi64x(int64_t{lo} - zp), hi64 = _mm256_set1_epi64x(int64_t{hi} - zp);
  const __m256i zp32 = _mm256_set1_epi32(zp);
  for (int64_t i = 0; i < n; i += 8) {
    const int cnt = n - i < 8 ? static_cast<int>(n - i) : 8;
    const __m256i mask = LaneMaskY(cnt);
    const __m256i y = RequantY(_mm256_maskload_epi32(acc + i, mask), ReqYLanes(mult + i, shift + i, mask), lo64,
                               hi64, zp32);
    _mm256_maskstore_epi32(out + i, mask, y);
  }
}

}  // namespace
}  // namespace nibble::q8
