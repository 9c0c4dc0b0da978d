// Depthwise int8 conv, kernel 3x3 / 5x5, stride 1 / 2, on zmm.
//
// 3x3 planes whose taps all fit int8 (the common case) take the vpdpbusd path
// below (Q3*): byte quads straight from x, no row copies, several output rows
// per pass. 5x5 and the other 3x3 planes take the int16 tap-pair driver of
// dwconv_q8_driver.inc (RunInt16): 16 output columns per vector, int32
// accumulation with vpdpwssd.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <type_traits>

#include "kernels/x86/dwconv_q8.h"
#include "kernels/x86/dwconv_q8_driver.inc"
#include "kernels/x86/requant_vec_avx512.h"

namespace nibble::dwq8_detail {
namespace {

// The vector traits of the driver (see dwconv_q8_driver.inc) on zmm.
struct Zmm {
  using Vec = __m512i;
  static constexpr int64_t kLanes = 16;

  static Vec Load(const int32_t* p) { return _mm512_loadu_si512(p); }
  static Vec Set1(int32_t v) { return _mm512_set1_epi32(v); }
  static Vec AddDotPairs(Vec acc, Vec x, Vec w) { return _mm512_dpwssd_epi32(acc, x, w); }

  using RequantConsts = vec512::RequantConsts;
  static RequantConsts MakeRequant(int32_t multiplier, int32_t shift, int32_t zero_point, int32_t lo, int32_t hi,
                                   bool /*narrow: the 64-bit form is as fast here*/) {
    return vec512::MakeRequant(multiplier, shift, zero_point, lo, hi);
  }
  static Vec Requant(Vec acc, const RequantConsts& c) { return vec512::Requant(acc, c); }

  template <class TY>
  static void StoreCodes(TY* dst, Vec codes, int64_t n) {
    const __m128i b = _mm512_cvtepi32_epi8(codes);  // codes are in TY's range: truncation is exact
    if (n >= 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), b);
    else _mm_mask_storeu_epi8(dst, static_cast<__mmask16>((1u << n) - 1), b);
  }

  template <class TX>
  static void WidenRow(const TX* src, int64_t n, int16_t* dst) {
    for (int64_t j = 0; j < n; j += 32) {
      const __mmask32 m = n - j >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((uint32_t{1} << (n - j)) - 1);
      const __m256i b = _mm256_maskz_loadu_epi8(m, src + j);
      const __m512i v = std::is_signed_v<TX> ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b);
      _mm512_mask_storeu_epi16(dst + j, m, v);
    }
  }

  static void BuildPairs(const int16_t* r, int32_t* p, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
      const __m512i a = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i)));
      const __m512i b = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i + 1)));
      _mm512_storeu_si512(p + i, _mm512_or_si512(a, _mm512_slli_epi32(b, 16)));
    }
  }
};

// ---- 3x3 with int8 weights: vpdpbusd on byte quads, straight from x --------
//
// When every tap w - w_zero_point of a plane fits int8 (the usual symmetric
// weights) and its requantization shift is at least 33 (a multiplier below
// 1/4, the usual case; DwConvQ8Packed::q3_fits), a 3x3 kernel row is one vpdpbusd: lane ox holds the input bytes
// (x[S*ox + 0..2], -) as u8 (int8 x is biased by 128, folded into the bias)
// against the weights (w0, w1, w2, 0). The quads come from one masked load of
// the input row (masked-off bytes, i.e. the padding columns, read x_zero_point)
// and vpermd + vpshufb, with no scratch copy. Several output rows run at once
// so that each input row's quads feed up to 3 of them. For widths <= 8 the
// 16 lanes hold two output rows (v and v + H, H = ceil(oh / 2)).
// Requantization: for shift >= 33 the high halves of the 64-bit products
// give the same rounding in int32 arithmetic:
//   floor((P + 2^(s-1)) / 2^s) == floor((floor(P / 2^32) + 2^(s-33)) / 2^(s-32)).
// Planes with smaller shifts take the int16 path, which requantizes in 64
// bits: a second requantization form here doubled this file's code (clang
// with sanitizers then took over 20 minutes to compile it) for planes that
// trained models hardly have.

// Everything is force-inlined into RunQ3, whose local Q3Plane then cannot
// alias the byte stores through y (which would force every constant to be
// reloaded after each store).
#define NIBBLE_DWQ8_INLINE inline __attribute__((always_inline))

struct Q3Plane {
  __m512i w[3], bias, zpraw, zpq, idx, shuf, flip;
  // Requantization (the high-dword form: RequantQ3Raw).
  __m512i mult, rnd32;
  __m128i sh32;
  // Wide rows (Q3Wide): vpshufb patterns. The packing stores (Q3Wide,
  // CodesByLane): zero point added to the packed int16, clamp bounds.
  __m512i shw0, shw1, zp16, lo16, hi16, lo8, hi8;
};

// The requantized accumulators before the zero point and the clamp (which
// the packing stores add): the high-dword form above, which every plane of
// this path allows (shift >= 33, DwConvQ8Packed::q3_fits).
NIBBLE_DWQ8_INLINE __m512i RequantQ3Raw(__m512i acc, const Q3Plane& c) {
  return _mm512_sra_epi32(_mm512_add_epi32(vec512::HighDwords(acc, c.mult, c.mult), c.rnd32), c.sh32);
}

// Four vectors of requantized values (no zero point yet) to clamped codes:
// int32 -> int16 saturating packs, + zero point in int16, -> 8-bit packs,
// clamp on the bytes. Dword 4L + t holds elements 4L..4L+3 of r_t (the packs
// interleave per 128-bit lane).
template <class TY>
NIBBLE_DWQ8_INLINE __m512i PackCodes(__m512i r0, __m512i r1, __m512i r2, __m512i r3, const Q3Plane& c) {
  const __m512i p01 = _mm512_adds_epi16(_mm512_packs_epi32(r0, r1), c.zp16);
  const __m512i p23 = _mm512_adds_epi16(_mm512_packs_epi32(r2, r3), c.zp16);
  if constexpr (std::is_signed_v<TY>) return _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(p01, p23), c.lo8), c.hi8);
  else return _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(p01, p23), c.lo8), c.hi8);
}

// Up to 4 vectors of accumulators (one output row block each) requantized
// into one vector of codes, 128-bit lane t holding vector t's 16. One
// RequantQ3Raw per vector (no zero point, no clamp), then the int32 -> int16
// -> int8 saturating packs with the zero point added in int16 and the clamp
// on the bytes, as in Q3Wide, and one dword permute to undo the packs'
// per-lane interleave: about 9 instructions per vector where requantizing,
// clamping and narrowing (vpmovdb) each on its own took 11. Requantization
// was a third of the time of the 28x28 and smaller planes; this made them
// 0.76-0.84x in MobileNetV2 (the commit that added it has the runs).
template <int R, class TY>
NIBBLE_DWQ8_INLINE __m512i CodesByLane(const __m512i (&acc)[R], const Q3Plane& c) {
  __m512i r[4];
#pragma GCC unroll 4
  for (int t = 0; t < R; ++t) r[t] = RequantQ3Raw(acc[t], c);
#pragma GCC unroll 4
  for (int t = R; t < 4; ++t) r[t] = r[0];  // lanes past R: not stored
  const __m512i b = PackCodes<TY>(r[0], r[1], r[2], r[3], c);
  // Dword 4L + t of b holds columns 4L..4L+3 of vector t.
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_permutexvar_epi32(order, b);
}

NIBBLE_DWQ8_INLINE __m128i Lane(__m512i v, int t) {
  switch (t) {
    case 0: return _mm512_castsi512_si128(v);
    case 1: return _mm512_extracti32x4_epi32(v, 1);
    case 2: return _mm512_extracti32x4_epi32(v, 2);
    default: return _mm512_extracti32x4_epi32(v, 3);
  }
}

template <int S, int R, bool kHalves, class TX, class TY>
NIBBLE_DWQ8_INLINE void Q3Rows(const FastArgs& a, const Q3Plane& c, const TX* xp, TY* yp, int64_t v0, int64_t vh) {
  constexpr int kIn = S * (R - 1) + 3;  // input rows the R output rows read
  const int64_t ih = a.ih, iw = a.iw, oh = a.oh, ow = a.ow, pl = a.pad_l;
  const int64_t iy0 = v0 * S - a.pad_t;
  auto quad = [&](__m512i v) {
    if constexpr (std::is_signed_v<TX>) v = _mm512_xor_si512(v, c.flip);
    return _mm512_shuffle_epi8(_mm512_permutexvar_epi32(c.idx, v), c.shuf);
  };
  if constexpr (kHalves) {
    const int64_t base = -pl;
    const uint32_t mlo = static_cast<uint32_t>(pl);
    const uint32_t mhi = static_cast<uint32_t>(std::min<int64_t>(32, iw + pl));
    const __mmask32 mk = static_cast<__mmask32>((mhi >= 32 ? ~uint32_t{0} : (uint32_t{1} << mhi) - 1) &
                                                ~((uint32_t{1} << mlo) - 1));
    const __m256i zr = _mm512_castsi512_si256(c.zpraw);
    __m512i acc[R];
#pragma GCC unroll 16
    for (int t = 0; t < R; ++t) acc[t] = c.bias;
#pragma GCC unroll 16
    for (int r = 0; r < kIn; ++r) {
      const int64_t ya = iy0 + r, yb = ya + S * vh;
      const bool va = ya >= 0 && ya < ih, vb = yb >= 0 && yb < ih;
      __m512i q;
      if (!va && !vb) {
        q = c.zpq;
      } else {
        const __m256i la = va ? _mm256_mask_loadu_epi8(zr, mk, xp + ya * iw + base) : zr;
        const __m256i lb = vb ? _mm256_mask_loadu_epi8(zr, mk, xp + yb * iw + base) : zr;
        q = quad(_mm512_inserti64x4(_mm512_castsi256_si512(la), lb, 1));
      }
#pragma GCC unroll 16
      for (int t = 0; t < R; ++t) {
        const int ky = r - S * t;
        if (ky >= 0 && ky < 3) acc[t] = _mm512_dpbusd_epi32(acc[t], q, c.w[ky]);
      }
    }
    const __mmask16 ms = static_cast<__mmask16>((1u << ow) - 1);
    const __m512i codes = CodesByLane<R, TY>(acc, c);
#pragma GCC unroll 4
    for (int t = 0; t < R; ++t) {
      const __m128i b = Lane(codes, t);
      const int64_t oa = v0 + t, ob = oa + vh;
      _mm_mask_storeu_epi8(yp + oa * ow, ms, b);
      if (ob < oh) _mm_mask_storeu_epi8(yp + ob * ow, ms, _mm_srli_si128(b, 8));
    }
    return;
  }
  for (int64_t ox = 0; ox < ow; ox += 16) {
    const int64_t base = ox * S - pl;
    const int64_t lo = std::max<int64_t>(0, -base), hi = std::min<int64_t>(64, iw - base);
    const uint64_t upto = hi >= 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
    const __mmask64 mk = static_cast<__mmask64>(upto & ~((uint64_t{1} << lo) - 1));
    __m512i acc[R];
#pragma GCC unroll 16
    for (int t = 0; t < R; ++t) acc[t] = c.bias;
#pragma GCC unroll 16
    for (int r = 0; r < kIn; ++r) {
      const int64_t iy = iy0 + r;
      const __m512i q =
          iy >= 0 && iy < ih ? quad(_mm512_mask_loadu_epi8(c.zpraw, mk, xp + iy * iw + base)) : c.zpq;
#pragma GCC unroll 16
      for (int t = 0; t < R; ++t) {
        const int ky = r - S * t;
        if (ky >= 0 && ky < 3) acc[t] = _mm512_dpbusd_epi32(acc[t], q, c.w[ky]);
      }
    }
    const __m512i codes = CodesByLane<R, TY>(acc, c);
    const __mmask16 ms = static_cast<__mmask16>(ow - ox >= 16 ? 0xFFFF : (1u << (ow - ox)) - 1);
#pragma GCC unroll 4
    for (int t = 0; t < R; ++t) _mm_mask_storeu_epi8(yp + (v0 + t) * ow + ox, ms, Lane(codes, t));
  }
}

// Wide rows (ow >= 48 at stride 1, >= 24 at stride 2): no cross-lane permute.
// A block is 64 (S = 1) or 32 (S = 2) output columns in 4 or 2 vectors; lane L
// (128 bits) of vector j holds columns 16L + 4j + i (S = 1) or 8L + 4j + i
// (S = 2), i < 4, whose input bytes all lie in lane L of a 64-byte load at
// column offset 0 or 8: one vpshufb per vector. The int32 -> int16 -> int8
// packs then put the columns back in natural order. Saturating packs with the
// zero point added in int16 and the clamp after give clamp(v + zp, lo, hi): a
// value that saturates lies beyond both 8-bit bounds, on the same side.
template <int S, int R, class TX, class TY>
NIBBLE_DWQ8_INLINE void Q3Wide(const FastArgs& a, const Q3Plane& c, const TX* xp, TY* yp, int64_t oy0) {
  constexpr int kNV = S == 1 ? 4 : 2, kB = 16 * kNV;
  constexpr int kIn = S * (R - 1) + 3;
  const int64_t ih = a.ih, iw = a.iw, ow = a.ow, pl = a.pad_l;
  const int64_t iy0 = oy0 * S - a.pad_t;
  auto mask_at = [&](int64_t base) {
    const int64_t lo = std::max<int64_t>(0, -base), hi = std::min<int64_t>(64, iw - base);
    if (hi <= lo) return __mmask64{0};
    const uint64_t upto = hi >= 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
    return static_cast<__mmask64>(upto & ~((uint64_t{1} << lo) - 1));
  };
  for (int64_t ox = 0; ox < ow; ox += kB) {
    const int64_t base = ox * S - pl;
    const __mmask64 m0 = mask_at(base), m1 = mask_at(base + 8);
    __m512i acc[R][kNV];
#pragma GCC unroll 16
    for (int t = 0; t < R; ++t)
#pragma GCC unroll 4
      for (int j = 0; j < kNV; ++j) acc[t][j] = c.bias;
#pragma GCC unroll 16
    for (int r = 0; r < kIn; ++r) {
      const int64_t iy = iy0 + r;
      __m512i q[kNV];
      if (iy >= 0 && iy < ih) {
        const TX* src = xp + iy * iw + base;
        __m512i l0 = _mm512_mask_loadu_epi8(c.zpraw, m0, src);
        __m512i l1 = _mm512_mask_loadu_epi8(c.zpraw, m1, src + 8);
        if constexpr (std::is_signed_v<TX>) {
          l0 = _mm512_xor_si512(l0, c.flip);
          l1 = _mm512_xor_si512(l1, c.flip);
        }
        if constexpr (S == 1) {
          q[0] = _mm512_shuffle_epi8(l0, c.shw0);
          q[1] = _mm512_shuffle_epi8(l0, c.shw1);
          q[2] = _mm512_shuffle_epi8(l1, c.shw0);
          q[3] = _mm512_shuffle_epi8(l1, c.shw1);
        } else {
          q[0] = _mm512_shuffle_epi8(l0, c.shw0);
          q[1] = _mm512_shuffle_epi8(l1, c.shw0);
        }
      } else {
#pragma GCC unroll 4
        for (int j = 0; j < kNV; ++j) q[j] = c.zpq;
      }
#pragma GCC unroll 16
      for (int t = 0; t < R; ++t) {
        const int ky = r - S * t;
        if (ky >= 0 && ky < 3)
#pragma GCC unroll 4
          for (int j = 0; j < kNV; ++j) acc[t][j] = _mm512_dpbusd_epi32(acc[t][j], q[j], c.w[ky]);
      }
    }
    const int64_t nc = std::min<int64_t>(kB, ow - ox);
#pragma GCC unroll 16
    for (int t = 0; t < R; ++t) {
      TY* dst = yp + (oy0 + t) * ow + ox;
      if constexpr (S == 1) {
        const __m512i b = PackCodes<TY>(RequantQ3Raw(acc[t][0], c), RequantQ3Raw(acc[t][1], c),
                                        RequantQ3Raw(acc[t][2], c), RequantQ3Raw(acc[t][3], c), c);
        if (nc == 64) _mm512_storeu_si512(dst, b);
        else _mm512_mask_storeu_epi8(dst, (uint64_t{1} << nc) - 1, b);
      } else {
        __m512i p = _mm512_adds_epi16(
            _mm512_packs_epi32(RequantQ3Raw(acc[t][0], c), RequantQ3Raw(acc[t][1], c)), c.zp16);
        p = _mm512_min_epi16(_mm512_max_epi16(p, c.lo16), c.hi16);
        const __m256i b = _mm512_cvtepi16_epi8(p);
        if (nc == 32) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), b);
        else _mm256_mask_storeu_epi8(dst, static_cast<__mmask32>((uint64_t{1} << nc) - 1), b);
      }
    }
  }
}

template <int S, class TX, class TY>
NIBBLE_DWQ8_INLINE void Q3WidePlane(const FastArgs& a, const Q3Plane& c, const TX* xp, TY* yp) {
  constexpr int R = S == 1 ? 3 : 4;
  int64_t v = 0;
  for (; v + R <= a.oh; v += R) Q3Wide<S, R, TX, TY>(a, c, xp, yp, v);
  switch (a.oh - v) {
    case 3: Q3Wide<S, 3, TX, TY>(a, c, xp, yp, v); break;
    case 2: Q3Wide<S, 2, TX, TY>(a, c, xp, yp, v); break;
    case 1: Q3Wide<S, 1, TX, TY>(a, c, xp, yp, v); break;
    default: break;
  }
}

template <int S, bool kHalves, class TX, class TY>
NIBBLE_DWQ8_INLINE void Q3Plane1(const FastArgs& a, const Q3Plane& c, const TX* xp, TY* yp) {
  constexpr int R = 4;
  const int64_t vh = kHalves ? (a.oh + 1) / 2 : a.oh;
  int64_t v = 0;
  for (; v + R <= vh; v += R) Q3Rows<S, R, kHalves, TX, TY>(a, c, xp, yp, v, vh);
  switch (vh - v) {
    case 3: Q3Rows<S, 3, kHalves, TX, TY>(a, c, xp, yp, v, vh); break;
    case 2: Q3Rows<S, 2, kHalves, TX, TY>(a, c, xp, yp, v, vh); break;
    case 1: Q3Rows<S, 1, kHalves, TX, TY>(a, c, xp, yp, v, vh); break;
    default: break;
  }
}

// Computes planes [plane_lo, plane_hi) up to the first one this path does
// not take (q3_fits); returns where it stopped.
template <int S, class TX, class TY>
int64_t RunQ3(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi) {
  const DwConvQ8Packed& pk = *a.packed;
  const int64_t M = pk.out_channels, mult = pk.channel_multiplier;
  const bool halves = a.ow <= 8;
  Q3Plane c;
  c.zpraw = _mm512_set1_epi8(static_cast<char>(a.x_zero_point));
  c.flip = _mm512_set1_epi8(static_cast<char>(0x80));
  c.zpq = std::is_signed_v<TX> ? _mm512_xor_si512(c.zpraw, c.flip) : c.zpraw;
  {
    alignas(64) int32_t idx[16];
    alignas(64) int8_t shuf[64];
    for (int l = 0; l < 4; ++l) {
      const int L = halves ? (l & 1) : l, off = halves ? (l >> 1) * 8 : 0;
      for (int d = 0; d < 4; ++d) idx[4 * l + d] = off + (S == 1 ? L + std::min(d, 1) : 2 * L + std::min(d, 2));
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 4; ++k) shuf[16 * l + 4 * i + k] = static_cast<int8_t>(k < 3 ? S * i + k : 0x80);
    }
    c.idx = _mm512_load_si512(idx);
    c.shuf = _mm512_load_si512(shuf);
    for (int l = 0; l < 4; ++l)
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 4; ++k) shuf[16 * l + 4 * i + k] = static_cast<int8_t>(k < 3 ? S * i + k : 0x80);
    c.shw0 = _mm512_load_si512(shuf);
    for (int l = 0; l < 4; ++l)
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 4; ++k) shuf[16 * l + 4 * i + k] = static_cast<int8_t>(k < 3 ? 4 + i + k : 0x80);
    c.shw1 = _mm512_load_si512(shuf);
  }
  const bool wide = a.ow >= (S == 1 ? 48 : 24);
  c.lo8 = _mm512_set1_epi8(static_cast<char>(a.lo));
  c.hi8 = _mm512_set1_epi8(static_cast<char>(a.hi));
  c.lo16 = _mm512_set1_epi16(static_cast<int16_t>(a.lo));
  c.hi16 = _mm512_set1_epi16(static_cast<int16_t>(a.hi));
  c.zp16 = _mm512_set1_epi16(static_cast<int16_t>(a.y_zero_point));
  // (n, m, ch) of the plane, stepped rather than divided out per plane.
  int64_t n = plane_lo / M, m = plane_lo % M, ch = m / mult, mk = m % mult;
  int64_t plane = plane_lo;
  for (; plane < plane_hi; ++plane) {
    if (!pk.q3_fits[m]) break;
    const int32_t* q = pk.q3.data() + m * 4;
    c.w[0] = _mm512_set1_epi32(q[0]);
    c.w[1] = _mm512_set1_epi32(q[1]);
    c.w[2] = _mm512_set1_epi32(q[2]);
    c.bias = _mm512_set1_epi32(q[3]);
    const int32_t shift = pk.shift[m];  // >= 33: q3_fits
    c.mult = _mm512_set1_epi32(pk.multiplier[m]);
    c.rnd32 = _mm512_set1_epi32(int32_t{1} << (shift - 33));
    c.sh32 = _mm_cvtsi32_si128(shift - 32);
    const TX* xp = x + (n * a.in_channels + ch) * a.ih * a.iw;
    TY* yp = y + plane * a.oh * a.ow;
    if (wide) Q3WidePlane<S>(a, c, xp, yp);
    else if (halves) Q3Plane1<S, true>(a, c, xp, yp);
    else Q3Plane1<S, false>(a, c, xp, yp);
    if (++mk == mult) {
      mk = 0;
      ++ch;
    }
    if (++m == M) {
      m = mk = ch = 0;
      ++n;
    }
  }
  return plane;
}

}  // namespace

template <class TX, class TY>
void RunAvx512(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi, int k, int stride) {
  if (k == 3) {
    // Runs of q3_fits planes take the vpdpbusd path, the others the int16 one.
    while (plane_lo < plane_hi) {
      const int64_t done =
          stride == 1 ? RunQ3<1>(a, x, y, plane_lo, plane_hi) : RunQ3<2>(a, x, y, plane_lo, plane_hi);
      if (done == plane_hi) return;
      int64_t end = done + 1;
      while (end < plane_hi && !a.packed->q3_fits[end % a.packed->out_channels]) ++end;
      RunInt16<Zmm>(a, x, y, done, end, 3, stride);
      plane_lo = end;
    }
    return;
  }
  RunInt16<Zmm>(a, x, y, plane_lo, plane_hi, k, stride);
}

template void RunAvx512<uint8_t, uint8_t>(const FastArgs&, const uint8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx512<uint8_t, int8_t>(const FastArgs&, const uint8_t*, int8_t*, int64_t, int64_t, int, int);
template void RunAvx512<int8_t, uint8_t>(const FastArgs&, const int8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx512<int8_t, int8_t>(const FastArgs&, const int8_t*, int8_t*, int64_t, int64_t, int, int);

}  // namespace nibble::dwq8_detail
