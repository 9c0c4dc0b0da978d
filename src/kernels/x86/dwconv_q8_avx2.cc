// Depthwise int8 conv, kernel 3x3 / 5x5, stride 1 / 2, on ymm (AVX2; also the
// kAvxVnni level): the scheme of dwconv_q8_avx512vnni.cc with 8 output columns
// per vector and vpmaddwd + vpaddd in place of vpdpwssd.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/x86/dwconv_q8.h"
#include "kernels/x86/requant_vec_avx2.h"

namespace nibble::dwq8_detail {
namespace {

constexpr int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// dst[0, n) = src[0, n) widened to int16; touches nothing outside either range.
template <class TX>
inline __m256i Widen16(__m128i b) {
  return std::is_signed_v<TX> ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
}

// dst[0, n) = src[0, n) widened to int16; touches nothing outside either range
// (the tail goes through a small stack buffer: AVX2 has no masked byte loads).
template <class TX>
inline void WidenRow(const TX* src, int64_t n, int16_t* dst) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j),
                        Widen16<TX>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j))));
  if (j < n) {
    alignas(16) TX in[16] = {};
    alignas(32) int16_t out[16];
    std::memcpy(in, src + j, static_cast<size_t>(n - j));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out), Widen16<TX>(_mm_load_si128(reinterpret_cast<const __m128i*>(in))));
    std::memcpy(dst + j, out, static_cast<size_t>(n - j) * sizeof(int16_t));
  }
}

// P[i] = (R[i], R[i+1]) for i in [0, n), n a multiple of 8; reads R[0, n + 8).
inline void BuildPairs(const int16_t* r, int32_t* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i a = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + i)));
    const __m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + i + 1)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + i), _mm256_or_si256(a, _mm256_slli_epi32(b, 16)));
  }
}

inline __m256i Load(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline void Fill32(int32_t* p, int64_t n, int32_t v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

template <class TY>
inline void StoreCodes(TY* dst, __m256i codes, int64_t n) {
  const __m128i b = vec256::PackCodes<std::is_signed_v<TY>>(codes);
  if (n >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), b);
  } else {
    alignas(16) TY tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(dst, tmp, static_cast<size_t>(n));
  }
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
  const int64_t owr = RoundUp(ow, 8);
  // Row buffer sizes (see the file comment), generous enough for every full-vector load.
  int64_t rn, slot;  // int16 elements of R, int32 lanes of a ring slot
  if (S == 1) {
    slot = RoundUp(owr + K - 1, 8);
    rn = RoundUp(std::max(slot + 9, pl + iw), 16);
  } else {
    rn = RoundUp(std::max(2 * (owr + (K - 1) / 2), pl + iw), 16);
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
    __m256i wv[K][kPairs];
    for (int ky = 0; ky < K; ++ky)
      for (int j = 0; j < kPairs; ++j) wv[ky][j] = _mm256_set1_epi32(pk.wpair[(m * K + ky) * kPairs + j]);
    const __m256i bias = _mm256_set1_epi32(pk.bias_folded[m]);
    const vec256::RequantConsts rq = vec256::MakeRequant(pk.multiplier[m], pk.shift[m], a.y_zero_point, a.lo, a.hi);
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
    if (ow <= 8) {
      // One column block per row: two output rows at a time instead, for two
      // independent accumulation chains (the 14x14 and 7x7 layers).
      for (; oy + 1 < oh; oy += 2) {
        const int32_t* rows[K + S];
        for (int ky = 0; ky < K + S; ++ky) rows[ky] = row(oy * S - pt + ky);
        __m256i acc0 = bias, acc1 = bias;
        for (int ky = 0; ky < K; ++ky)
          for (int j = 0; j < kPairs; ++j) {
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(Load(rows[ky] + j * kPairStep), wv[ky][j]));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(Load(rows[ky + S] + j * kPairStep), wv[ky][j]));
          }
        StoreCodes(yp + oy * ow, vec256::Requant(acc0, rq), ow);
        StoreCodes(yp + (oy + 1) * ow, vec256::Requant(acc1, rq), ow);
      }
    }
    for (; oy < oh; ++oy) {
      const int32_t* rows[K];
      for (int ky = 0; ky < K; ++ky) rows[ky] = row(oy * S - pt + ky);
      TY* dst = yp + oy * ow;
      int64_t ox = 0;
      // Two column blocks at a time: two independent vpmaddwd/vpaddd chains.
      for (; ox + 8 < ow; ox += 16) {
        __m256i acc0 = bias, acc1 = bias;
        for (int ky = 0; ky < K; ++ky)
          for (int j = 0; j < kPairs; ++j) {
            const int32_t* r = rows[ky] + ox + j * kPairStep;
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(Load(r), wv[ky][j]));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(Load(r + 8), wv[ky][j]));
          }
        StoreCodes(dst + ox, vec256::Requant(acc0, rq), 8);
        StoreCodes(dst + ox + 8, vec256::Requant(acc1, rq), ow - ox - 8);
      }
      if (ox < ow) {
        __m256i acc = bias;
        for (int ky = 0; ky < K; ++ky)
          for (int j = 0; j < kPairs; ++j)
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(Load(rows[ky] + ox + j * kPairStep), wv[ky][j]));
        StoreCodes(dst + ox, vec256::Requant(acc, rq), ow - ox);
      }
    }
  }
}

}  // namespace

template <class TX, class TY>
void RunAvx2(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi, int k, int stride) {
  if (k == 3 && stride == 1) Run<3, 1>(a, x, y, plane_lo, plane_hi);
  else if (k == 3 && stride == 2) Run<3, 2>(a, x, y, plane_lo, plane_hi);
  else if (k == 5 && stride == 1) Run<5, 1>(a, x, y, plane_lo, plane_hi);
  else Run<5, 2>(a, x, y, plane_lo, plane_hi);
}

template void RunAvx2<uint8_t, uint8_t>(const FastArgs&, const uint8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx2<uint8_t, int8_t>(const FastArgs&, const uint8_t*, int8_t*, int64_t, int64_t, int, int);
template void RunAvx2<int8_t, uint8_t>(const FastArgs&, const int8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx2<int8_t, int8_t>(const FastArgs&, const int8_t*, int8_t*, int64_t, int64_t, int, int);

}  // namespace nibble::dwq8_detail
