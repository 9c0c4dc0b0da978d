// Depthwise int8 conv, kernel 3x3 / 5x5, stride 1 / 2, on zmm: 16 output
// columns per vector, int32 accumulation with vpdpwssd on int16 tap pairs.
//
// Per plane, each input row is widened once to int16 into a row buffer padded
// with x_zero_point (the folded bias cancels those taps), held in a ring of
// K + 2 rows so that the output rows reading it do not widen it again:
//   stride 2: the int16 row R itself; viewed as int32 lanes, lane ox + j holds
//             (R[2ox + 2j], R[2ox + 2j + 1]): the taps 2j, 2j+1 of output ox.
//   stride 1: pair lanes P[i] = (R[i], R[i+1]); lane ox + 2j holds taps 2j, 2j+1.
// Weights are packed as matching (w[2j], w[2j+1]) int16 pairs (w[K] = 0), so a
// KxK kernel is K * ceil(K/2) vpdpwssd per 16 outputs. Two column blocks (or,
// for widths <= 16, two output rows) run at once for two independent chains.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/x86/dwconv_q8.h"
#include "kernels/x86/requant_vec_avx512.h"

namespace nibble::dwq8_detail {
namespace {

constexpr int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// dst[0, n) = src[0, n) widened to int16; touches nothing outside either range.
template <class TX>
inline void WidenRow(const TX* src, int64_t n, int16_t* dst) {
  for (int64_t j = 0; j < n; j += 32) {
    const __mmask32 m = n - j >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((uint32_t{1} << (n - j)) - 1);
    const __m256i b = _mm256_maskz_loadu_epi8(m, src + j);
    const __m512i v = std::is_signed_v<TX> ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b);
    _mm512_mask_storeu_epi16(dst + j, m, v);
  }
}

// P[i] = (R[i], R[i+1]) for i in [0, n), n a multiple of 16; reads R[0, n + 16).
inline void BuildPairs(const int16_t* r, int32_t* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __m512i a = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i)));
    const __m512i b = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i + 1)));
    _mm512_storeu_si512(p + i, _mm512_or_si512(a, _mm512_slli_epi32(b, 16)));
  }
}

inline void Fill32(int32_t* p, int64_t n, int32_t v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

template <class TY>
inline void StoreCodes(TY* dst, __m512i codes, int64_t n) {
  const __m128i b = _mm512_cvtepi32_epi8(codes);  // codes are in TY's range: truncation is exact
  if (n >= 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), b);
  else _mm_mask_storeu_epi8(dst, static_cast<__mmask16>((1u << n) - 1), b);
}

template <int K, int S, class TX, class TY>
void Run(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi) {
  constexpr int kPairs = (K + 1) / 2;
  constexpr int kPairStep = S == 1 ? 2 : 1;  // int32 lanes between pair j and j+1
  // Ring slots: two output rows at once read K + S <= K + 2 consecutive input rows.
  constexpr int kRing = K + 2;
  const DwConvQ8Packed& pk = *a.packed;
  const int64_t ih = a.ih, iw = a.iw, oh = a.oh, ow = a.ow, pt = a.pad_t, pl = a.pad_l;
  const int64_t M = pk.out_channels, mult = pk.channel_multiplier;
  const int64_t owr = RoundUp(ow, 16);
  // Row buffer sizes (see the file comment), generous enough for every full-vector load.
  int64_t rn, slot;  // int16 elements of R, int32 lanes of a ring slot
  if (S == 1) {
    slot = RoundUp(owr + K - 1, 16);
    rn = RoundUp(std::max(slot + 17, pl + iw), 32);
  } else {
    rn = RoundUp(std::max(2 * (owr + (K - 1) / 2), pl + iw), 32);
    slot = rn / 2;
  }
  const uint32_t zp16 = static_cast<uint16_t>(static_cast<int16_t>(a.x_zero_point));
  const int32_t zpair = static_cast<int32_t>(zp16 | (zp16 << 16));
  thread_local std::vector<int32_t> scratch;
  const size_t need = static_cast<size_t>((kRing + 1) * slot + rn / 2);
  if (scratch.size() < need) scratch.resize(need);
  int32_t* ring = scratch.data();
  int32_t* zrow = ring + kRing * slot;
  int16_t* temp = reinterpret_cast<int16_t*>(zrow + slot);
  Fill32(ring, (kRing + 1) * slot + rn / 2, zpair);  // padding columns stay zp for the whole call

  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const int64_t n = plane / M, m = plane % M, c = m / mult;
    const TX* xp = x + (n * a.in_channels + c) * ih * iw;
    TY* yp = y + plane * oh * ow;
    __m512i wv[K][kPairs];
    for (int ky = 0; ky < K; ++ky)
      for (int j = 0; j < kPairs; ++j) wv[ky][j] = _mm512_set1_epi32(pk.wpair[(m * K + ky) * kPairs + j]);
    const __m512i bias = _mm512_set1_epi32(pk.bias_folded[m]);
    const vec512::RequantConsts rq = vec512::MakeRequant(pk.multiplier[m], pk.shift[m], a.y_zero_point, a.lo, a.hi);
    int64_t tag[kRing];
    for (int i = 0; i < kRing; ++i) tag[i] = -1;
    auto row = [&](int64_t iy) -> const int32_t* {
      if (iy < 0 || iy >= ih) return zrow;
      const int s = static_cast<int>(iy % kRing);
      int32_t* dst = ring + s * slot;
      if (tag[s] != iy) {
        tag[s] = iy;
        if (S == 1) {
          WidenRow(xp + iy * iw, iw, temp + pl);
          BuildPairs(temp, dst, slot);
        } else {
          WidenRow(xp + iy * iw, iw, reinterpret_cast<int16_t*>(dst) + pl);
        }
      }
      return dst;
    };
    int64_t oy = 0;
    if (ow <= 16) {
      // One column block per row: two output rows at a time instead, for two
      // independent accumulation chains (the 14x14 and 7x7 layers).
      for (; oy + 1 < oh; oy += 2) {
        const int32_t* rows[K + S];
        for (int ky = 0; ky < K + S; ++ky) rows[ky] = row(oy * S - pt + ky);
        __m512i acc0 = bias, acc1 = bias;
        for (int ky = 0; ky < K; ++ky)
          for (int j = 0; j < kPairs; ++j) {
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_loadu_si512(rows[ky] + j * kPairStep), wv[ky][j]);
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_loadu_si512(rows[ky + S] + j * kPairStep), wv[ky][j]);
          }
        StoreCodes(yp + oy * ow, vec512::Requant(acc0, rq), ow);
        StoreCodes(yp + (oy + 1) * ow, vec512::Requant(acc1, rq), ow);
      }
    }
    for (; oy < oh; ++oy) {
      const int32_t* rows[K];
      for (int ky = 0; ky < K; ++ky) rows[ky] = row(oy * S - pt + ky);
      TY* dst = yp + oy * ow;
      int64_t ox = 0;
      // Two column blocks at a time: two independent vpdpwssd chains.
      for (; ox + 16 < ow; ox += 32) {
        __m512i acc0 = bias, acc1 = bias;
        for (int ky = 0; ky < K; ++ky)
          for (int j = 0; j < kPairs; ++j) {
            const int32_t* r = rows[ky] + ox + j * kPairStep;
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_loadu_si512(r), wv[ky][j]);
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_loadu_si512(r + 16), wv[ky][j]);
          }
        StoreCodes(dst + ox, vec512::Requant(acc0, rq), 16);
        StoreCodes(dst + ox + 16, vec512::Requant(acc1, rq), ow - ox - 16);
      }
      if (ox < ow) {
        __m512i acc = bias;
        for (int ky = 0; ky < K; ++ky)
          for (int j = 0; j < kPairs; ++j)
            acc = _mm512_dpwssd_epi32(acc, _mm512_loadu_si512(rows[ky] + ox + j * kPairStep), wv[ky][j]);
        StoreCodes(dst + ox, vec512::Requant(acc, rq), ow - ox);
      }
    }
  }
}

}  // namespace

template <class TX, class TY>
void RunAvx512(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi, int k, int stride) {
  if (k == 3 && stride == 1) Run<3, 1>(a, x, y, plane_lo, plane_hi);
  else if (k == 3 && stride == 2) Run<3, 2>(a, x, y, plane_lo, plane_hi);
  else if (k == 5 && stride == 1) Run<5, 1>(a, x, y, plane_lo, plane_hi);
  else Run<5, 2>(a, x, y, plane_lo, plane_hi);
}

template void RunAvx512<uint8_t, uint8_t>(const FastArgs&, const uint8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx512<uint8_t, int8_t>(const FastArgs&, const uint8_t*, int8_t*, int64_t, int64_t, int, int);
template void RunAvx512<int8_t, uint8_t>(const FastArgs&, const int8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx512<int8_t, int8_t>(const FastArgs&, const int8_t*, int8_t*, int64_t, int64_t, int, int);

}  // namespace nibble::dwq8_detail
