// AMX-INT8 conv-mode tile (conv_q8_amx.h): 32 output channels x 32
// positions per pass, tdpbsud on four accumulator tiles.
//
// Tiles: 0..3 accumulators (rows 0-15 / 16-31 x lanes 0-15 / 16-31), 4 and 5
// the two 16-row halves of a weight block, 6 and 7 the two 16-lane halves of
// a panel block. Measured on this machine's Xeon (AMX, 2 cores): tdpbsud
// alone runs at ~4.9 TOP/s, but a tile load costs about as much as a product
// wherever it feeds one, so 2x2 blocking (4 loads per 4 products) is what the
// eight tile registers allow and runs near 1.1-1.3 TOP/s from L1, about twice
// the zmm vpdpbusd peak.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/conv_q8_amx.h"
#include "kernels/x86/requant_vec_avx512.h"

namespace nibble::q8 {
namespace {

// Loaded on every call (it also clears the tiles): a configuration cached per
// thread would be wrong after anything else in the process configured or
// released the tiles, and the call's products cost far more.
void Configure(int64_t kb) {
  AmxTileConfig c;
  for (int t = 0; t < 4; ++t) c.colsb[t] = 64, c.rows[t] = 16;
  for (int t = 4; t < 6; ++t) c.colsb[t] = static_cast<uint16_t>(4 * kb), c.rows[t] = 16;
  for (int t = 6; t < 8; ++t) c.colsb[t] = 64, c.rows[t] = static_cast<uint8_t>(kb);
  _tile_loadconfig(&c);
}

// Accumulators of one pass into acc ([32 rows][32 lanes] int32, 128 bytes a
// row). kAResident: one block whose weight tiles 4 and 5 are already loaded.
template <bool kTwoRows, bool kTwoCols, bool kAResident>
void Products(const AmxConvArgs& g, const uint8_t* bp, int32_t* acc) {
  const int64_t kb = g.kb, blocks = g.blocks, b_stride = g.b_stride;
  const int64_t a_half = 16 * 4 * kb, a_block = 2 * a_half;
  const int8_t* a = g.a;
  auto block = [&](int64_t blk) { return bp + g.b_off[blk]; };
  _tile_zero(0);
  if (kTwoCols) _tile_zero(1);
  if (kTwoRows) _tile_zero(2);
  if (kTwoRows && kTwoCols) _tile_zero(3);
  for (int64_t blk = 0; blk < blocks; ++blk, a += a_block) {
    const uint8_t* b = block(blk);
    // The tile loads stall for as long as their lines take to arrive, and
    // little overlaps them (measured: from L2 a load cost ~50 cycles, three
    // products' worth), so the next block's lines are pulled into L1 first.
    if (blk + 1 < blocks) {
      const char* pa = reinterpret_cast<const char*>(a + a_block);
      for (int64_t o = 0; o < (kTwoRows ? a_block : a_half); o += 64) _mm_prefetch(pa + o, _MM_HINT_T0);
      const char* pb = reinterpret_cast<const char*>(block(blk + 1));
      for (int64_t r = 0; r < kb; ++r) {
        _mm_prefetch(pb + r * b_stride, _MM_HINT_T0);
        if (kTwoCols) _mm_prefetch(pb + r * b_stride + 64, _MM_HINT_T0);
      }
    }
    // Every load first, then the products: a product that waits for its
    // operand stalls the ones behind it (measured: loads interleaved with
    // the products they feed ran about 1.7x slower).
    if (!kAResident) _tile_loadd(4, a, 4 * kb);
    _tile_loadd(6, b, b_stride);
    if (kTwoCols) _tile_loadd(7, b + 64, b_stride);
    if (kTwoRows && !kAResident) _tile_loadd(5, a + a_half, 4 * kb);
    _tile_dpbsud(0, 4, 6);
    if (kTwoCols) _tile_dpbsud(1, 4, 7);
    if (kTwoRows) _tile_dpbsud(2, 5, 6);
    if (kTwoRows && kTwoCols) _tile_dpbsud(3, 5, 7);
  }
  _tile_stored(0, acc, 128);
  if (kTwoCols) _tile_stored(1, acc + 16, 128);
  if (kTwoRows) _tile_stored(2, acc + 16 * 32, 128);
  if (kTwoRows && kTwoCols) _tile_stored(3, acc + 16 * 32 + 16, 128);
}

template <bool kTwoRows, bool kAResident>
void PassProducts(const AmxConvArgs& g, const uint8_t* bp, bool two_cols, int32_t* acc) {
  if (two_cols) Products<kTwoRows, true, kAResident>(g, bp, acc);
  else Products<kTwoRows, false, kAResident>(g, bp, acc);
}

// Per-row requantization constants: the high-dword form where it applies
// (requant_vec_avx512.h), else the general one.
struct RowRequant {
  bool high;
  vec512::ReqH h;
  vec512::RequantConsts q;
};

template <class TC>
void Tile(const AmxConvArgs& g) {
  Configure(g.kb);
  alignas(64) int32_t acc[kAmxRows * 32];
  const bool two_rows = g.rows > 16;
  // A depth of one block: the weight tiles stay loaded for every pass.
  const bool a_resident = g.blocks == 1;
  if (a_resident) {
    _tile_loadd(4, g.a, 4 * g.kb);
    if (two_rows) _tile_loadd(5, g.a + 16 * 4 * g.kb, 4 * g.kb);
  }
  RowRequant rq[kAmxRows];
  for (int r = 0; r < g.rows; ++r) {
    const int64_t mi = static_cast<int64_t>(r) * g.mult_stride;
    rq[r].high = g.narrow && vec512::HighOk(g.shift[mi]);
    if (rq[r].high) rq[r].h = vec512::MakeReqH(g.mult[mi], g.shift[mi], g.zp);
    else rq[r].q = vec512::MakeRequant(g.mult[mi], g.shift[mi], g.zp, g.lo, g.hi);
  }
  const __m512i lo32 = _mm512_set1_epi32(g.lo), hi32 = _mm512_set1_epi32(g.hi);
  TC* c = static_cast<TC*>(g.c);
  for (int pi = 0; pi < g.npasses; ++pi) {
    const AmxPass& ps = g.passes[pi];
    const AmxSeg* segs = g.segs + ps.first;
    int lanes = 0;
    for (int i = 0; i < ps.count; ++i) lanes = std::max(lanes, segs[i].lo + segs[i].n);
    const bool two_cols = lanes > 16;
    const uint8_t* bp = g.b + ps.cell;
    if (two_rows && a_resident) PassProducts<true, true>(g, bp, two_cols, acc);
    else if (two_rows) PassProducts<true, false>(g, bp, two_cols, acc);
    else if (a_resident) PassProducts<false, true>(g, bp, two_cols, acc);
    else PassProducts<false, false>(g, bp, two_cols, acc);
    // After the last products the tiles go back to their initial state: the
    // OS then saves none of their 8 KB at a context switch.
    if (pi + 1 == g.npasses) _tile_release();
    for (int r = 0; r < g.rows; ++r) {
      const __m512i bias = _mm512_set1_epi32(g.bias[r]);
      auto requant = [&](const int32_t* v) {
        const __m512i x = _mm512_add_epi32(_mm512_load_si512(v), bias);
        if (!rq[r].high) return vec512::Requant(x, rq[r].q);
        return _mm512_min_epi32(_mm512_max_epi32(vec512::RequantHigh(x, rq[r].h), lo32), hi32);
      };
      // The codes lie in [lo, hi], within TC's range: vpmovdb's truncation keeps them.
      const __m128i y0 = _mm512_cvtepi32_epi8(requant(acc + r * 32));
      const __m128i y1 = two_cols ? _mm512_cvtepi32_epi8(requant(acc + r * 32 + 16)) : _mm_setzero_si128();
      const __m256i y = _mm256_inserti128_si256(_mm256_castsi128_si256(y0), y1, 1);
      TC* row = c + r * g.ldc;
      for (int i = 0; i < ps.count; ++i) {
        const AmxSeg& sg = segs[i];
        const __mmask32 k = static_cast<__mmask32>(((uint64_t{1} << sg.n) - 1) << sg.lo);
        // Lane j lands at row + out - lo + j; only the segment's lanes are written.
        _mm256_mask_storeu_epi8(row + sg.out - sg.lo, k, y);
      }
    }
  }
}

}  // namespace

void ConvAmxU8(const AmxConvArgs& g) { Tile<uint8_t>(g); }
void ConvAmxS8(const AmxConvArgs& g) { Tile<int8_t>(g); }

}  // namespace nibble::q8
