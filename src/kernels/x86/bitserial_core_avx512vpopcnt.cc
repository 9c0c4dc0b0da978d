// AVX-512 + VPOPCNTDQ path of the bit-serial core (bitserial_core.h): the
// popcount inner loop on zmm (8 weight vectors per register, activation words
// broadcast) and the AVX-512BW packers.
// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/x86/bitserial_core.h"
#include "kernels/x86/bitserial_gemm.h"

namespace nibble::bitserial {
namespace {

// PT activation rows x 8 weight lanes. One accumulator per plane-weight
// exponent t = i + j (so the inner loop is AND, POPCNT, ADD: no shifts), the
// powers of two applied once at the end.
// Where row r's activation word wd starts: in a panel ([row][word][plane]),
// or in place in the packed image (rows_at[r] + off[wd]) for convolution.
struct PanelRows {
  const uint64_t* a;
  int64_t words;
  const uint64_t* at(int64_t r, int64_t wd, int ka) const { return a + (r * words + wd) * ka; }
  PanelRows advance(int64_t r, int ka) const { return {a + r * words * ka, words}; }
};
struct GatherRows {
  const uint64_t* const* rows_at;
  const int64_t* off;
  const uint64_t* at(int64_t r, int64_t wd, int) const { return rows_at[r] + off[wd]; }
  GatherRows advance(int64_t r, int) const { return {rows_at + r, off}; }
};

template <int KA, int KW, bool XOR, int PT, class Src>
inline void Tile(const Src& src, int64_t words, const uint64_t* w, int32_t* out) {
  constexpr int T = KA + KW - 1;
  __m512i acc[PT][T];
#pragma GCC unroll 8
  for (int r = 0; r < PT; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
  for (int64_t wd = 0; wd < words; ++wd) {
    __m512i wv[KW];
#pragma GCC unroll 4
    for (int j = 0; j < KW; ++j) wv[j] = _mm512_loadu_si512(w + (wd * KW + j) * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < PT; ++r) {
      const uint64_t* ar = src.at(r, wd, KA);
#pragma GCC unroll 4
      for (int i = 0; i < KA; ++i) {
        const __m512i av = _mm512_set1_epi64(static_cast<long long>(ar[i]));
#pragma GCC unroll 4
        for (int j = 0; j < KW; ++j) {
          const __m512i x = XOR ? _mm512_xor_si512(av, wv[j]) : _mm512_and_si512(av, wv[j]);
          acc[r][i + j] = _mm512_add_epi64(acc[r][i + j], _mm512_popcnt_epi64(x));
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < PT; ++r) {
    __m512i s = acc[r][0];
#pragma GCC unroll 8
    for (int t = 1; t < T; ++t) s = _mm512_add_epi64(s, _mm512_slli_epi64(acc[r][t], t));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * kLanes), _mm512_cvtepi64_epi32(s));
  }
}

template <int KA, int KW, bool XOR, class Src>
void Rows(const Src& src, int64_t rows, int64_t words, const uint64_t* w, int32_t* out) {
  // Rows per tile: as many as keep accumulators + weight planes within ~28 zmm.
  constexpr int T = KA + KW - 1;
  constexpr int PT = std::max(1, std::min(6, (28 - KW) / T));
  int64_t r = 0;
  for (; r + PT <= rows; r += PT) Tile<KA, KW, XOR, PT>(src.advance(r, KA), words, w, out + r * kLanes);
  // Tails (short runs of in-place convolution rows are common) in tiles of 3 and 2 where they fit.
  constexpr int PT3 = std::min(PT, 3), PT2 = std::min(PT, 2);
  if (PT3 < PT)
    for (; r + PT3 <= rows; r += PT3) Tile<KA, KW, XOR, PT3>(src.advance(r, KA), words, w, out + r * kLanes);
  if (PT2 < PT3)
    for (; r + PT2 <= rows; r += PT2) Tile<KA, KW, XOR, PT2>(src.advance(r, KA), words, w, out + r * kLanes);
  for (; r < rows; ++r) Tile<KA, KW, XOR, 1>(src.advance(r, KA), words, w, out + r * kLanes);
}

template <class Src>
using RowsFn = void (*)(const Src&, int64_t, int64_t, const uint64_t*, int32_t*);

template <class Src, int KA>
constexpr RowsFn<Src> Pick(int kw) {
  switch (kw) {
    case 1: return &Rows<KA, 1, false, Src>;
    case 2: return &Rows<KA, 2, false, Src>;
    case 3: return &Rows<KA, 3, false, Src>;
    default: return &Rows<KA, 4, false, Src>;
  }
}

template <class Src>
void Dispatch(BitOp op, int ka, int kw, const Src& src, int64_t rows, int64_t words, const uint64_t* w,
              int32_t* out) {
  if (op == BitOp::kXor) return Rows<1, 1, true, Src>(src, rows, words, w, out);
  RowsFn<Src> fn = ka == 1   ? Pick<Src, 1>(kw)
                   : ka == 2 ? Pick<Src, 2>(kw)
                   : ka == 3 ? Pick<Src, 3>(kw)
                             : Pick<Src, 4>(kw);
  fn(src, rows, words, w, out);
}

}  // namespace

void BitDotRowsAvx512(BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words, const uint64_t* w,
                      int32_t* out) {
  Dispatch(op, ka, kw, PanelRows{a, words}, rows, words, w, out);
}

void BitDotRowsGatherAvx512(BitOp op, int ka, int kw, const uint64_t* const* rows_at, const int64_t* off,
                            int64_t rows, int64_t words, const uint64_t* w, int32_t* out) {
  Dispatch(op, ka, kw, GatherRows{rows_at, off}, rows, words, w, out);
}

void PackPlanesRowAvx512U8(const uint8_t* code, int64_t k, int bits, int32_t offset, uint64_t* dst) {
  const __m512i off = _mm512_set1_epi8(static_cast<char>(offset));
  for (int64_t l = 0, wd = 0; l < k; l += 64, ++wd) {
    const __mmask64 valid = k - l >= 64 ? ~__mmask64{0} : ((__mmask64{1} << (k - l)) - 1);
    const __m512i u = _mm512_add_epi8(_mm512_maskz_loadu_epi8(valid, code + l), off);
    for (int i = 0; i < bits; ++i)
      dst[wd * bits + i] = _mm512_mask_test_epi8_mask(valid, u, _mm512_set1_epi8(static_cast<char>(1 << i)));
  }
}

void PackSignRowAvx512(const uint8_t* code, int64_t k, int32_t threshold, bool is_signed, uint64_t* dst) {
  const __m512i th = _mm512_set1_epi8(static_cast<char>(threshold));
  for (int64_t l = 0, wd = 0; l < k; l += 64, ++wd) {
    const __mmask64 valid = k - l >= 64 ? ~__mmask64{0} : ((__mmask64{1} << (k - l)) - 1);
    const __m512i v = _mm512_maskz_loadu_epi8(valid, code + l);
    dst[wd] = is_signed ? _mm512_mask_cmpge_epi8_mask(valid, v, th) : _mm512_mask_cmpge_epu8_mask(valid, v, th);
  }
}

// 64 pixels at a time: for each group of 8 channels and each plane, one byte
// per pixel whose bit c%8 is that channel's plane bit (vptestmb + masked OR),
// then the bytes are scattered into the pixel-major words. Pixel sums come
// from popcounts of the finished planes.
template <class T>
void PackPixelsAvx512(const PixelPackSpec& s, const T* x, int64_t pixel_lo, int64_t pixel_hi, uint64_t* dst,
                      int32_t* pixel_sum) {
  const int bits = s.binarize ? 1 : s.bits;
  const int64_t cw = (s.channels + 63) / 64;
  const int64_t pw = cw * bits;  // words per pixel
  std::memset(dst + pixel_lo * pw, 0, static_cast<size_t>((pixel_hi - pixel_lo) * pw) * sizeof(uint64_t));
  const __m512i off = _mm512_set1_epi8(static_cast<char>(s.offset));
  const __m512i th = _mm512_set1_epi8(static_cast<char>(s.threshold));
  alignas(64) uint8_t tmp[kMaxBits][64];
  for (int64_t p0 = pixel_lo; p0 < pixel_hi; p0 += 64) {
    const int64_t np = std::min<int64_t>(64, pixel_hi - p0);
    if (s.binarize && cw == 1 && np == 64) {
      // Up to 64 channels, 64 pixels: each 8-channel group gives one byte per
      // pixel (acc[g]); an 8 x 64 byte transpose (unpacks of bytes, words,
      // dwords) turns them into the 64 pixel words, stored 16 bytes at a time.
      __m512i a[8];
      for (int g = 0; g < 8; ++g) {
        a[g] = _mm512_setzero_si512();
        for (int64_t c = 8 * g; c < std::min<int64_t>(8 * g + 8, s.channels); ++c) {
          const __m512i v = _mm512_loadu_si512(x + c * s.pixels + p0);
          const __mmask64 m = std::is_signed_v<T> ? _mm512_cmpge_epi8_mask(v, th) : _mm512_cmpge_epu8_mask(v, th);
          a[g] = _mm512_or_si512(a[g], _mm512_maskz_mov_epi8(m, _mm512_set1_epi8(static_cast<char>(1 << (c & 7)))));
        }
      }
      __m512i t[8], u[8];
      for (int k = 0; k < 4; ++k) {
        t[2 * k] = _mm512_unpacklo_epi8(a[2 * k], a[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_epi8(a[2 * k], a[2 * k + 1]);
      }
      // u[0..3]: groups 0-3 for pixels 0-3, 4-7, 8-11, 12-15 of each lane; u[4..7]: groups 4-7.
      for (int h = 0; h < 2; ++h) {
        u[4 * h + 0] = _mm512_unpacklo_epi16(t[4 * h + 0], t[4 * h + 2]);
        u[4 * h + 1] = _mm512_unpackhi_epi16(t[4 * h + 0], t[4 * h + 2]);
        u[4 * h + 2] = _mm512_unpacklo_epi16(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm512_unpackhi_epi16(t[4 * h + 1], t[4 * h + 3]);
      }
      uint64_t* d = dst + p0;
      alignas(64) uint64_t lo_w[8], hi_w[8];
      for (int k = 0; k < 4; ++k) {
        // Pixels 4k, 4k+1 (lo) and 4k+2, 4k+3 (hi) of each 16-pixel lane l (qwords 2l, 2l+1).
        _mm512_store_si512(lo_w, _mm512_unpacklo_epi32(u[k], u[k + 4]));
        _mm512_store_si512(hi_w, _mm512_unpackhi_epi32(u[k], u[k + 4]));
        for (int l = 0; l < 4; ++l) {
          std::memcpy(d + 16 * l + 4 * k, lo_w + 2 * l, 16);
          std::memcpy(d + 16 * l + 4 * k + 2, hi_w + 2 * l, 16);
        }
      }
      continue;
    }
    const __mmask64 valid = np == 64 ? ~__mmask64{0} : ((__mmask64{1} << np) - 1);
    for (int64_t c0 = 0; c0 < s.channels; c0 += 8) {
      __m512i acc[kMaxBits];
      for (int i = 0; i < bits; ++i) acc[i] = _mm512_setzero_si512();
      const int64_t c_end = std::min<int64_t>(c0 + 8, s.channels);
      for (int64_t c = c0; c < c_end; ++c) {
        const __m512i v = _mm512_maskz_loadu_epi8(valid, x + c * s.pixels + p0);
        const __m512i bit = _mm512_set1_epi8(static_cast<char>(1 << (c & 7)));
        if (s.binarize) {
          const __mmask64 m = std::is_signed_v<T> ? _mm512_cmpge_epi8_mask(v, th) : _mm512_cmpge_epu8_mask(v, th);
          acc[0] = _mm512_or_si512(acc[0], _mm512_maskz_mov_epi8(m, bit));
        } else {
          const __m512i u = _mm512_add_epi8(v, off);
          for (int i = 0; i < bits; ++i) {
            const __mmask64 m = _mm512_test_epi8_mask(u, _mm512_set1_epi8(static_cast<char>(1 << i)));
            acc[i] = _mm512_or_si512(acc[i], _mm512_maskz_mov_epi8(m, bit));
          }
        }
      }
      const int64_t word = c0 >> 6, byte = (c0 & 63) >> 3;
      for (int i = 0; i < bits; ++i) {
        _mm512_store_si512(tmp[i], acc[i]);
        uint8_t* d = reinterpret_cast<uint8_t*>(dst + p0 * pw + word * bits + i) + byte;
        for (int64_t q = 0; q < np; ++q) d[q * pw * 8] = tmp[i][q];
      }
    }
  }
  if (pixel_sum) {
    for (int64_t p = pixel_lo; p < pixel_hi; ++p) {
      int32_t sum = 0;
      for (int64_t c = 0; c < cw; ++c)
        for (int i = 0; i < bits; ++i) sum += __builtin_popcountll(dst[p * pw + c * bits + i]) << i;
      pixel_sum[p] = sum;
    }
  }
}

template void PackPixelsAvx512<uint8_t>(const PixelPackSpec&, const uint8_t*, int64_t, int64_t, uint64_t*, int32_t*);
template void PackPixelsAvx512<int8_t>(const PixelPackSpec&, const int8_t*, int64_t, int64_t, uint64_t*, int32_t*);

}  // namespace nibble::bitserial

namespace nibble::lowbit_detail {

// One row of 8 lanes at a time in int64 lanes: value, then Requantize as
//   clamp(((v * multiplier + 2^(shift-1)) >> shift), lo - zp, hi - zp) + zp
// which equals Requantize for every int32 v when |zp| <= 2^16 and lo, hi are
// 8-bit codes (the int32 saturation of the product is inside the clamp). v is
// the exact int32 accumulator + bias, so vpmuldq on its low half is exact.
template <class TY>
void EpilogueAvx512(const LowBitPacked& pk, const EpilogueRows& e, TY* y, int32_t lo, int32_t hi) {
  constexpr int kLanes = bitserial::kLanes;
  const int64_t q0 = e.blk * kLanes;
  const __m512i cterm = _mm512_loadu_si512(pk.const_term.data() + q0);
  const __m512i zu = _mm512_loadu_si512(pk.zu.data() + q0);
  const __m512i mult = _mm512_loadu_si512(pk.lane_mult.data() + q0);
  const __m512i round = _mm512_loadu_si512(pk.lane_round.data() + q0);
  const __m512i shift = _mm512_loadu_si512(pk.lane_shift.data() + q0);
  const __m512i vlo = _mm512_set1_epi64(int64_t{lo} - pk.out_zp), vhi = _mm512_set1_epi64(int64_t{hi} - pk.out_zp);
  const __m512i zp = _mm512_set1_epi64(pk.out_zp);
  const __mmask8 lane_mask = static_cast<__mmask8>((1u << e.lanes) - 1);
  // Row r's 8 lane values (see LowBitPacked) in int64 lanes.
  auto value = [&](int64_t r) {
    const __m512i dot =
        _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(e.tile + r * kLanes)));
    if (!pk.binary)
      return _mm512_sub_epi64(_mm512_add_epi64(dot, cterm), _mm512_mul_epi32(zu, _mm512_set1_epi64(e.row_sum[r])));
    const __m512i v = _mm512_sub_epi64(cterm, _mm512_add_epi64(dot, dot));
    if (!e.pad_count || e.pad_count[r] == 0) return v;
    return _mm512_add_epi64(
        v, _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(e.corr + r * kLanes))));
  };
  auto requant_value = [&](__m512i v) {
    const __m512i q = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(v, mult), round), shift);
    return _mm512_add_epi64(_mm512_min_epi64(_mm512_max_epi64(q, vlo), vhi), zp);
  };
  auto requant = [&](int64_t r) { return _mm512_cvtepi64_epi8(requant_value(value(r))); };
  // Binary values cterm - 2 * mismatches (+ padding correction) stay within
  // int32 when cterm and K are small (always, in practice): then two rows
  // requantize together on 16 int32 lanes, their 64-bit products formed on the
  // even and the odd lanes, with the same rounding and clamp as requant().
  bool pairs = pk.binary && 2 * pk.k < (int64_t{1} << 29);
  for (int l = 0; l < kLanes && pairs; ++l) pairs = std::abs(pk.const_term[q0 + l]) < (int64_t{1} << 29);
  const __m512i even_idx = _mm512_setr_epi64(0, 2, 4, 6, 0, 2, 4, 6), odd_idx = _mm512_setr_epi64(1, 3, 5, 7, 1, 3, 5, 7);
  const __m256i ct8 = _mm512_cvtepi64_epi32(cterm);
  const __m512i cterm16 = _mm512_inserti64x4(_mm512_castsi256_si512(ct8), ct8, 1);
  const __m512i mult_e = _mm512_permutexvar_epi64(even_idx, mult), mult_o = _mm512_permutexvar_epi64(odd_idx, mult);
  const __m512i round_e = _mm512_permutexvar_epi64(even_idx, round), round_o = _mm512_permutexvar_epi64(odd_idx, round);
  const __m512i shift_e = _mm512_permutexvar_epi64(even_idx, shift), shift_o = _mm512_permutexvar_epi64(odd_idx, shift);
  const __m512i zp32 = _mm512_set1_epi32(pk.out_zp);
  // Rows r and r + 1 -> 16 bytes: row r in the low 8, row r + 1 in the high 8.
  auto requant_pair = [&](int64_t r) {
    const __m512i dot = _mm512_loadu_si512(e.tile + r * kLanes);
    __m512i v = _mm512_sub_epi32(cterm16, _mm512_add_epi32(dot, dot));
    if (e.pad_count) {
      const __mmask16 m = static_cast<__mmask16>((e.pad_count[r] > 0 ? 0x00FF : 0) | (e.pad_count[r + 1] > 0 ? 0xFF00 : 0));
      if (m) v = _mm512_mask_add_epi32(v, m, v, _mm512_maskz_loadu_epi32(m, e.corr + r * kLanes));
    }
    __m512i even = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(v, mult_e), round_e), shift_e);
    __m512i odd = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), mult_o), round_o), shift_o);
    even = _mm512_min_epi64(_mm512_max_epi64(even, vlo), vhi);
    odd = _mm512_min_epi64(_mm512_max_epi64(odd, vlo), vhi);
    const __m512i q = _mm512_add_epi32(_mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32)), zp32);
    return _mm512_cvtepi32_epi8(q);
  };
  int64_t r = 0;
  if constexpr (!std::is_same_v<TY, int32_t>) {
    if (e.lane_stride != 1 && e.row_stride == 1) {
      // Conv: 8 rows (positions) x 8 lanes (channels) of bytes, transposed in
      // registers so each channel gets one 8-byte store of consecutive positions.
      const int lanes = e.lanes;
      const int64_t lane_stride = e.lane_stride;
      if (pairs) {
        // 8 rows x 8 channels in one zmm (lane i: rows 2i, 2i+1), transposed by
        // a byte shuffle within lanes (channel c's two rows side by side) and a
        // word permutation across them: channel c's 8 rows end at bytes 8c..8c+7.
        const __m512i pair_bytes = _mm512_broadcast_i32x4(
            _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
        const __m512i words = _mm512_set_epi16(31, 23, 15, 7, 30, 22, 14, 6, 29, 21, 13, 5, 28, 20, 12, 4, 27, 19, 11,
                                               3, 26, 18, 10, 2, 25, 17, 9, 1, 24, 16, 8, 0);
        for (; r + 8 <= e.rows; r += 8) {
          __m512i z = _mm512_castsi128_si512(requant_pair(r));
          z = _mm512_inserti32x4(z, requant_pair(r + 2), 1);
          z = _mm512_inserti32x4(z, requant_pair(r + 4), 2);
          z = _mm512_inserti32x4(z, requant_pair(r + 6), 3);
          const __m512i t = _mm512_permutexvar_epi16(words, _mm512_shuffle_epi8(z, pair_bytes));
          alignas(64) uint8_t out[64];
          _mm512_store_si512(out, t);
          for (int l = 0; l < lanes; ++l) std::memcpy(y + l * lane_stride + r, out + 8 * l, 8);
        }
      }
      for (; r + 8 <= e.rows; r += 8) {
        __m128i b[8];
        for (int i = 0; i < 8; ++i) b[i] = requant(r + i);
        const __m128i a0 = _mm_unpacklo_epi8(b[0], b[1]), a1 = _mm_unpacklo_epi8(b[2], b[3]);
        const __m128i a2 = _mm_unpacklo_epi8(b[4], b[5]), a3 = _mm_unpacklo_epi8(b[6], b[7]);
        const __m128i c0 = _mm_unpacklo_epi16(a0, a1), c1 = _mm_unpackhi_epi16(a0, a1);
        const __m128i c2 = _mm_unpacklo_epi16(a2, a3), c3 = _mm_unpackhi_epi16(a2, a3);
        const __m128i d[4] = {_mm_unpacklo_epi32(c0, c2), _mm_unpackhi_epi32(c0, c2), _mm_unpacklo_epi32(c1, c3),
                              _mm_unpackhi_epi32(c1, c3)};
        for (int l = 0; l < lanes; ++l) {
          const __m128i src = (l & 1) ? _mm_unpackhi_epi64(d[l >> 1], d[l >> 1]) : d[l >> 1];
          _mm_storel_epi64(reinterpret_cast<__m128i*>(y + l * lane_stride + r), src);
        }
      }
    }
  }
  for (; r < e.rows; ++r) {
    const __m512i v = value(r);
    TY* yr = y + r * e.row_stride;
    if constexpr (std::is_same_v<TY, int32_t>) {
      const __m256i out = _mm512_cvtepi64_epi32(v);
      if (e.lane_stride == 1) {
        _mm256_mask_storeu_epi32(yr, lane_mask, out);
      } else {
        alignas(32) int32_t tmp[kLanes];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), out);
        for (int l = 0; l < e.lanes; ++l) yr[l * e.lane_stride] = tmp[l];
      }
    } else {
      const __m128i bytes = _mm512_cvtepi64_epi8(requant_value(v));
      if (e.lane_stride == 1) {
        _mm_mask_storeu_epi8(yr, lane_mask, bytes);
      } else {
        uint64_t b8 = static_cast<uint64_t>(_mm_cvtsi128_si64(bytes));
        for (int l = 0; l < e.lanes; ++l, b8 >>= 8) yr[l * e.lane_stride] = static_cast<TY>(b8 & 0xFF);
      }
    }
  }
}

template void EpilogueAvx512<uint8_t>(const LowBitPacked&, const EpilogueRows&, uint8_t*, int32_t, int32_t);
template void EpilogueAvx512<int8_t>(const LowBitPacked&, const EpilogueRows&, int8_t*, int32_t, int32_t);
template void EpilogueAvx512<int32_t>(const LowBitPacked&, const EpilogueRows&, int32_t*, int32_t, int32_t);

}  // namespace nibble::lowbit_detail
