// AVX-512 (F/BW) versions of the conv driver's packing helpers
// (conv_q8_pack_kernels.h): tap rows gathered with masked byte loads, so the
// padding comes from the merge value and nothing outside a source row is read
// (the input tensor may end where its last plane ends); stride 2 keeps the
// even bytes with vpmovwb.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -Wmaybe-uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <array>
#include <cstdint>

#include "kernels/x86/conv_q8_pack_kernels.h"
#include "kernels/x86/mask_bits.h"

namespace nibble::q8 {
namespace {

// Source bytes [i0, i0 + 64) of row t, padding (outside [0, valid)) = fill.
inline __m512i Load64(const TapRowArgs& a, int t, int64_t i0, __m512i fill) {
  const __mmask64 m = Bits(-i0, a.valid[t] - i0);
  if (m == 0) return fill;
  return _mm512_mask_loadu_epi8(fill, m, At(a.row[t], i0));
}

// 64 lanes of 4 rows -> 256 bytes [lane][4] at out (a 4x4 transpose of
// 128-bit blocks after the unpacks); only the first `vecs` 64-byte vectors
// (16 lanes each) are stored.
inline void Interleave64(__m512i r0, __m512i r1, __m512i r2, __m512i r3, __m512i flip, uint8_t* out, int vecs = 4) {
  const __m512i ab_lo = _mm512_unpacklo_epi8(r0, r1), ab_hi = _mm512_unpackhi_epi8(r0, r1);
  const __m512i cd_lo = _mm512_unpacklo_epi8(r2, r3), cd_hi = _mm512_unpackhi_epi8(r2, r3);
  // Per 128-bit block b (lanes 16b..16b+15): q0 = lanes 0-3, q1 = 4-7, q2 = 8-11, q3 = 12-15.
  const __m512i q0 = _mm512_unpacklo_epi16(ab_lo, cd_lo), q1 = _mm512_unpackhi_epi16(ab_lo, cd_lo);
  const __m512i q2 = _mm512_unpacklo_epi16(ab_hi, cd_hi), q3 = _mm512_unpackhi_epi16(ab_hi, cd_hi);
  // Output block 4b + i = q_i block b.
  const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, 0x44);  // q0.b0 q0.b1 q1.b0 q1.b1
  const __m512i t1 = _mm512_shuffle_i64x2(q2, q3, 0x44);  // q2.b0 q2.b1 q3.b0 q3.b1
  const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, 0xEE);  // q0.b2 q0.b3 q1.b2 q1.b3
  const __m512i t3 = _mm512_shuffle_i64x2(q2, q3, 0xEE);
  const __m512i o0 = _mm512_shuffle_i64x2(t0, t1, 0x88);  // q0.b0 q1.b0 q2.b0 q3.b0
  const __m512i o1 = _mm512_shuffle_i64x2(t0, t1, 0xDD);  // q0.b1 q1.b1 q2.b1 q3.b1
  const __m512i o2 = _mm512_shuffle_i64x2(t2, t3, 0x88);
  const __m512i o3 = _mm512_shuffle_i64x2(t2, t3, 0xDD);
  _mm512_storeu_si512(out, _mm512_xor_si512(o0, flip));
  if (vecs > 1) _mm512_storeu_si512(out + 64, _mm512_xor_si512(o1, flip));
  if (vecs > 2) _mm512_storeu_si512(out + 128, _mm512_xor_si512(o2, flip));
  if (vecs > 3) _mm512_storeu_si512(out + 192, _mm512_xor_si512(o3, flip));
}

}  // namespace

void TapRowAvx512(const TapRowArgs& a) {
  if (a.step != 1 && a.step != 2) return TapRowPortable(a);
  const __m512i fill = _mm512_set1_epi8(static_cast<char>(a.fill));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(a.flip));
  // 64 output lanes per step.
  int64_t j = 0;
  if (a.step == 1) {
    // Steps whose 64 bytes lie inside all four rows (1x1 convs read whole
    // planes: nearly every step) load without masks or fill.
    const int64_t inside = std::min({a.valid[0], a.valid[1], a.valid[2], a.valid[3]}) - 64;
    for (; j + 64 <= a.n && a.start + j >= 0 && a.start + j <= inside; j += 64) {
      const int64_t i0 = a.start + j;
      Interleave64(_mm512_loadu_si512(a.row[0] + i0), _mm512_loadu_si512(a.row[1] + i0),
                   _mm512_loadu_si512(a.row[2] + i0), _mm512_loadu_si512(a.row[3] + i0), flip, a.out + 4 * j);
    }
  }
  __m512i r[4];
  for (; j < a.n; j += 64) {
    for (int t = 0; t < 4; ++t) {
      if (a.step == 1) {
        r[t] = Load64(a, t, a.start + j, fill);
      } else {
        const int64_t i0 = a.start + 2 * j;
        const __m512i lo = Load64(a, t, i0, fill), hi = Load64(a, t, i0 + 64, fill);
        r[t] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(lo)), _mm512_cvtepi16_epi8(hi), 1);
      }
    }
    // The last step stores whole vectors of 16 lanes: at most 60 bytes of slack.
    const int vecs = static_cast<int>(std::min<int64_t>(4, (a.n - j + 15) / 16));
    Interleave64(r[0], r[1], r[2], r[3], flip, a.out + 4 * j, vecs);
  }
}

namespace {

// TapStagedAvx512 at step 1: each 64-lane chunk of a channel is merged in a
// register from masked loads of the segments it overlaps (the load address
// shifted so that chunk lane L reads its segment's byte), then the quad's
// four chunks are interleaved. Staging through memory instead stored 64 bytes
// per segment and loaded them back across several of those stores, which the
// store buffer cannot forward.
void TapStagedStep1(const TapStagedArgs& a, __m512i fill, __m512i flip) {
  for (int64_t q = 0; q < a.quads; ++q) {
    const uint8_t* p[4];
    for (int t = 0; t < 4; ++t) p[t] = 4 * q + t < a.channels ? a.x + (4 * q + t) * a.plane : nullptr;
    uint8_t* out = a.out + q * a.quad_stride;
    int first = 0;  // the first segment that may reach this chunk or a later one
    for (int64_t j = 0; j < a.lanes; j += 64) {
      __m512i r[4] = {fill, fill, fill, fill};
      while (first < a.nsegs && a.segs[first].lane + a.n <= j) ++first;
      for (int i = first; i < a.nsegs && a.segs[i].lane < j + 64; ++i) {
        const TapSeg& g = a.segs[i];
        if (g.row < 0) continue;
        // Chunk lane L (j <= L < j + 64) reads column g.start + L - g.lane of the row.
        const int64_t lo = std::max(g.lane, g.lane - g.start), hi = std::min(g.lane + a.n, g.lane + a.iw - g.start);
        const __mmask64 m = Bits(lo - j, hi - j);
        if (m == 0) continue;
        const int64_t shift = g.row + g.start - g.lane + j;
        for (int t = 0; t < 4; ++t)
          if (p[t]) r[t] = _mm512_mask_loadu_epi8(r[t], m, At(p[t], shift));
      }
      Interleave64(r[0], r[1], r[2], r[3], flip, out + 4 * j, static_cast<int>(std::min<int64_t>(4, (a.lanes - j + 15) / 16)));
    }
  }
}

}  // namespace

void TapStagedAvx512(const TapStagedArgs& a) {
  const __m512i fill = _mm512_set1_epi8(static_cast<char>(a.fill));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(a.flip));
  if (a.step == 1) return TapStagedStep1(a, fill, flip);
  const int64_t ss = a.lanes + 64;
  for (int64_t q = 0; q < a.quads; ++q) {
    for (int t = 0; t < 4; ++t) {
      const int64_t ch = 4 * q + t;
      const uint8_t* p = ch < a.channels ? a.x + ch * a.plane : nullptr;
      uint8_t* st = a.stage + t * ss;
      for (int i = 0; i < a.nsegs; ++i) {
        const TapSeg& g = a.segs[i];
        const __mmask64 m = p && g.row >= 0 ? Bits(-g.start, a.iw - g.start) : 0;
        const __m512i v = m ? _mm512_mask_loadu_epi8(fill, m, At(p + g.row, g.start)) : fill;
        if (a.step == 1) _mm512_storeu_si512(st + g.lane, v);
        else _mm256_storeu_si256(reinterpret_cast<__m256i*>(st + g.lane), _mm512_cvtepi16_epi8(v));
      }
    }
    uint8_t* out = a.out + q * a.quad_stride;
    for (int64_t j = 0; j < a.lanes; j += 64) {
      const __m512i r0 = _mm512_loadu_si512(a.stage + j), r1 = _mm512_loadu_si512(a.stage + ss + j);
      const __m512i r2 = _mm512_loadu_si512(a.stage + 2 * ss + j), r3 = _mm512_loadu_si512(a.stage + 3 * ss + j);
      Interleave64(r0, r1, r2, r3, flip, out + 4 * j, static_cast<int>(std::min<int64_t>(4, (a.lanes - j + 15) / 16)));
    }
  }
}

// Lane i's dword for step q is words pitch / 2 * i + 2 q + {0, 1} of the 128
// bytes loaded at its chunk's first lane: one two-source word permute per
// step and 16 lanes.
// 16 lanes at a time, kernel row by kernel row. A row's 128-byte window
// (from 4 bytes before its lane 0, shifted by one when its depth starts at an
// odd byte) holds every lane's bytes of that row; lane i's dword at in-row
// offset o is word (o - off) / 2 + floor(i pitch / 2) of it, one word permute
// per step. With an odd pitch the odd lanes sit one byte off: they come from
// the window one byte further on, blended in by dword. A step that straddles
// two kernel rows keeps its first row's bytes and takes the rest from the
// next row's permute.
void PixelPanelAvx512(const PixelPanelArgs& a) {
  const int64_t rb = a.row_bytes, last_end = 4 * a.steps - (a.rows - 1) * rb;
  if (a.pitch <= 0 || rb < 3 || 15 * a.pitch + rb > 118 || last_end > rb + 3) return PixelPanelPortable(a);
  const __m512i e = _mm512_setr_epi32(0x10000, 0x30002, 0x50004, 0x70006, 0x90008, 0xB000A, 0xD000C, 0xF000E,
                                      0x110010, 0x130012, 0x150014, 0x170016, 0x190018, 0x1B001A, 0x1D001C, 0x1F001E);
  // Element e (lane e / 2, word e % 2 of its dword): floor((e / 2) pitch / 2) + e % 2.
  const __m512i idx0 = _mm512_add_epi16(
      _mm512_srli_epi16(_mm512_mullo_epi16(_mm512_srli_epi16(e, 1), _mm512_set1_epi16(static_cast<int16_t>(a.pitch))), 1),
      _mm512_and_si512(e, _mm512_set1_epi16(1)));
  const bool odd = a.pitch % 2 != 0;
  // Bytes t >= c of every dword: the part of a straddling step from its second row.
  const __mmask64 from_next[4] = {0, 0xEEEEEEEEEEEEEEEEull, 0xCCCCCCCCCCCCCCCCull, 0x8888888888888888ull};
  const __m512i two = _mm512_set1_epi16(2);
  const int64_t rows = a.rows, pitch = a.pitch, row_stride = a.row_stride, steps = a.steps, ds = a.dst_stride;
  for (int i0 = 0; i0 < a.lanes; i0 += 16) {
    const int left = a.lanes - i0;
    const __mmask16 k = left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    __m512i pending = _mm512_setzero_si512();
    for (int64_t ky = 0; ky < rows; ++ky) {
      const int64_t l0 = ky * rb, l1 = ky + 1 == rows ? 4 * steps : l0 + rb;
      const int64_t off = -4 + (l0 & 1);  // o - off is even for every step of the row
      const uint8_t* w = a.src + ky * row_stride + i0 * pitch + off;
      const __m512i lo = _mm512_loadu_si512(w), hi = _mm512_loadu_si512(w + 64);
      __m512i lo1 = lo, hi1 = hi;
      if (odd) lo1 = _mm512_loadu_si512(w + 1), hi1 = _mm512_loadu_si512(w + 65);
      auto gather = [&](__m512i idx) {
        const __m512i v = _mm512_permutex2var_epi16(lo, idx, hi);
        return odd ? _mm512_mask_blend_epi32(0xAAAA, v, _mm512_permutex2var_epi16(lo1, idx, hi1)) : v;
      };
      int64_t q = l0 / 4;
      const int64_t q_end = (l1 + 3) / 4 - (ky + 1 < rows && l1 % 4 != 0);  // the last step may go on in the next row
      __m512i idx = _mm512_add_epi16(idx0, _mm512_set1_epi16(static_cast<int16_t>((4 * q - l0 - off) / 2)));
      uint8_t* d = a.dst + q * ds + 4 * i0;
      if (l0 % 4 != 0) {  // the step begun in the previous row (rb >= 3: it ends in this one)
        _mm512_mask_storeu_epi32(d, k, _mm512_mask_blend_epi8(from_next[l0 % 4], pending, gather(idx)));
        ++q, d += ds, idx = _mm512_add_epi16(idx, two);
      }
      for (; q < q_end; ++q, d += ds, idx = _mm512_add_epi16(idx, two)) _mm512_mask_storeu_epi32(d, k, gather(idx));
      if (4 * q < l1) pending = gather(idx);
    }
  }
}

// 64 pixels per step: the three channels' 64-byte loads become 192 bytes of
// pixels. Output block b (16 bytes) holds pixels 16 b / 3 .. (16 b + 15) / 3,
// all from 128-bit lane b / 3 of the loads: per output vector one lane
// shuffle per channel brings each block its lane, one vpshufb per channel
// picks that channel's bytes (the others zero), and the three are ORed.
void PixelRow3Avx512(const TapRowArgs& a) {
  alignas(64) static const auto masks = [] {
    std::array<std::array<uint8_t, 64>, 9> m{};  // [vector k * 3 + channel t]
    for (int k = 0; k < 3; ++k)
      for (int o = 0; o < 64; ++o) {
        const int byte = 64 * k + o, pixel = byte / 3, lane = (16 * k + o / 16 * 4) / 12;
        for (int t = 0; t < 3; ++t) m[3 * k + t][o] = byte % 3 == t ? static_cast<uint8_t>(pixel - 16 * lane) : 0x80;
      }
    return m;
  }();
  const __m512i fill = _mm512_set1_epi8(static_cast<char>(a.fill));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(a.flip));
  __m512i mk[9];
  for (int i = 0; i < 9; ++i) mk[i] = _mm512_load_si512(masks[i].data());
  for (int64_t j = 0; j < a.n; j += 64) {
    __m512i r[3];
    for (int t = 0; t < 3; ++t) r[t] = _mm512_xor_si512(Load64(a, t, a.start + j, fill), flip);
    // Block j of output vector k takes lane (4 k + j) / 3: 0,0,0,1 / 1,1,2,2 / 2,3,3,3.
    const __m512i l0[3] = {_mm512_shuffle_i64x2(r[0], r[0], 0x40), _mm512_shuffle_i64x2(r[1], r[1], 0x40),
                           _mm512_shuffle_i64x2(r[2], r[2], 0x40)};
    const __m512i l1[3] = {_mm512_shuffle_i64x2(r[0], r[0], 0xA5), _mm512_shuffle_i64x2(r[1], r[1], 0xA5),
                           _mm512_shuffle_i64x2(r[2], r[2], 0xA5)};
    const __m512i l2[3] = {_mm512_shuffle_i64x2(r[0], r[0], 0xFE), _mm512_shuffle_i64x2(r[1], r[1], 0xFE),
                           _mm512_shuffle_i64x2(r[2], r[2], 0xFE)};
    const __m512i* lk[3] = {l0, l1, l2};
    for (int k = 0; k < 3; ++k) {
      const __m512i v = _mm512_ternarylogic_epi32(_mm512_shuffle_epi8(lk[k][0], mk[3 * k]),
                                                  _mm512_shuffle_epi8(lk[k][1], mk[3 * k + 1]),
                                                  _mm512_shuffle_epi8(lk[k][2], mk[3 * k + 2]), 0xFE);  // a | b | c
      _mm512_storeu_si512(a.out + 3 * j + 64 * k, v);
    }
  }
}

void PanelCopyAvx512(const PanelCopyArgs& a) {
  for (int64_t s = 0; s < a.steps; ++s) {
    const uint8_t* src = a.t + a.k_off[s];
    uint8_t* dst = a.dst + s * a.dst_stride;
    for (int i = 0; i < a.nsegs; ++i) {
      const PanelSeg& g = a.segs[i];
      for (int64_t b = 0; b < g.bytes; b += 64)
        _mm512_storeu_si512(dst + g.dst + b, _mm512_loadu_si512(src + g.src + b));
    }
  }
}

// 8 rows x 16 lanes per block: unpacking bytes, words and dwords leaves
// lanes 2i and 2i + 1 (all 8 rows each) in the low and high halves of g[i];
// each half is stored with a mask of `rows` bytes.
void StoreTransposedAvx512(const uint8_t* tile, int64_t tile_stride, int rows, int lanes, uint8_t* out,
                           int64_t out_stride) {
  const __mmask16 lo_mask = static_cast<__mmask16>((1u << rows) - 1), hi_mask = static_cast<__mmask16>(lo_mask << 8);
  for (int j0 = 0; j0 < lanes; j0 += 16) {
    __m128i x[8];
    for (int r = 0; r < 8; ++r)
      x[r] = r < rows ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + r * tile_stride + j0))
                      : _mm_setzero_si128();
    const __m128i a0 = _mm_unpacklo_epi8(x[0], x[1]), a1 = _mm_unpackhi_epi8(x[0], x[1]);
    const __m128i b0 = _mm_unpacklo_epi8(x[2], x[3]), b1 = _mm_unpackhi_epi8(x[2], x[3]);
    const __m128i c0 = _mm_unpacklo_epi8(x[4], x[5]), c1 = _mm_unpackhi_epi8(x[4], x[5]);
    const __m128i d0 = _mm_unpacklo_epi8(x[6], x[7]), d1 = _mm_unpackhi_epi8(x[6], x[7]);
    // Rows 0-3 (e) and 4-7 (f) of lanes 4q .. 4q + 3 as 4-byte groups.
    const __m128i e[4] = {_mm_unpacklo_epi16(a0, b0), _mm_unpackhi_epi16(a0, b0), _mm_unpacklo_epi16(a1, b1),
                          _mm_unpackhi_epi16(a1, b1)};
    const __m128i f[4] = {_mm_unpacklo_epi16(c0, d0), _mm_unpackhi_epi16(c0, d0), _mm_unpacklo_epi16(c1, d1),
                          _mm_unpackhi_epi16(c1, d1)};
    for (int q = 0; q < 4; ++q) {
      const __m128i g[2] = {_mm_unpacklo_epi32(e[q], f[q]), _mm_unpackhi_epi32(e[q], f[q])};
      for (int h = 0; h < 2; ++h) {
        const int j = j0 + 4 * q + 2 * h;
        uint8_t* o = out + j * out_stride;
        if (j < lanes) _mm_mask_storeu_epi8(o, lo_mask, g[h]);
        // The high half holds lane j + 1 in bytes 8..15: store it 8 bytes early, masked to those.
        if (j + 1 < lanes)
          _mm_mask_storeu_epi8(reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(o + out_stride) - 8), hi_mask, g[h]);
      }
    }
  }
}

}  // namespace nibble::q8
