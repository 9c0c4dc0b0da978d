// AMX-INT8 conv tile (conv_q8_amx.h): 32 cells x 32 output channels per pass,
// tdpbusd on four accumulator tiles, and the cell staging it reads.
//
// Tiles, all 16 rows x 64 bytes: 0..3 accumulators (cells 0-15 / 16-31 x
// channels 0-15 / 16-31), 4 and 5 the two 16-cell halves of an activation
// block, 6 and 7 the two 16-channel halves of a weight block. Measured on
// this machine's Xeon (AMX, 2 cores): tdpbusd alone runs at ~4.9 TOP/s, but a
// tile load costs about as much as a product wherever it feeds one, so 2x2
// blocking (4 loads per 4 products) is what the eight tile registers allow.
// The activation rows are whole aligned lines here (the previous layout, with
// activations as B read out of the quad tap buffer, started its rows at any
// 4 bytes of a line and loaded them 25% slower).
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <limits>
#include <type_traits>

#include "kernels/x86/conv_q8_amx.h"
#include "kernels/x86/requant_vec_avx512.h"
#include "kernels/x86/transpose16_avx512.h"

namespace nibble::q8 {
namespace {

// Loaded on every call (it also clears the tiles): a configuration cached per
// thread would be wrong after anything else in the process configured or
// released the tiles, and the call's products cost far more.
void Configure() {
  AmxTileConfig c;
  for (int t = 0; t < 8; ++t) c.colsb[t] = 64, c.rows[t] = 16;
  _tile_loadconfig(&c);
}

constexpr int64_t kWeightBlock = AmxTileBytes(1);  // bytes of one block's two B tiles
constexpr int64_t kWeightHalf = kWeightBlock / 2;

// codes ([32 cells][32 channels] bytes) to channel m's outputs at c + m ldc:
// cells [lo, lo + n) of each segment at out .. out + n. The transpose runs
// on the four 16x16 blocks at once, one per 128-bit lane. Then row j holds
// channel j's cells 0-15, channel 16 + j's 0-15, channel j's 16-31 and
// channel 16 + j's 16-31; one lane shuffle makes each channel's 32 cells one
// half, stored with a mask per segment.
void StoreTransposed(const uint8_t* codes, int channels, const AmxSeg* segs, int nsegs, uint8_t* c, int64_t ldc) {
  __m512i r[16];
  for (int i = 0; i < 16; ++i)
    r[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 32 * i))),
                              _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 32 * (16 + i))), 1);
  vec512::TransposeLanes16x16(r);
  for (int j = 0; j < 16 && j < channels; ++j) {
    const __m512i o = _mm512_shuffle_i64x2(r[j], r[j], _MM_SHUFFLE(3, 1, 2, 0));
    const __m256i lo_ch = _mm512_castsi512_si256(o), hi_ch = _mm512_extracti64x4_epi64(o, 1);
    for (int i = 0; i < nsegs; ++i) {
      const AmxSeg& sg = segs[i];
      const __mmask32 k = static_cast<__mmask32>(((uint64_t{1} << sg.n) - 1) << sg.lo);
      // Cell lo + t lands at out + t: the vector's byte 0 at out - lo (masked off below lo).
      const uintptr_t at = reinterpret_cast<uintptr_t>(c) + (sg.out - sg.lo);
      _mm256_mask_storeu_epi8(reinterpret_cast<void*>(at + j * ldc), k, lo_ch);
      if (16 + j < channels) _mm256_mask_storeu_epi8(reinterpret_cast<void*>(at + (16 + j) * ldc), k, hi_ch);
    }
  }
}

// codes ([32 cells][32 channels] bytes) to channels-last output: cell lo + t
// of a segment to c + (out + t) ldc, its `channels` codes as they are.
void StoreCells(const uint8_t* codes, int channels, const AmxSeg* segs, int nsegs, uint8_t* c, int64_t ldc) {
  const __mmask32 k = channels >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((uint32_t{1} << channels) - 1);
  for (int i = 0; i < nsegs; ++i) {
    const AmxSeg& sg = segs[i];
    for (int t = 0; t < sg.n; ++t)
      _mm256_mask_storeu_epi8(c + (sg.out + t) * ldc, k,
                              _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 32 * (sg.lo + t))));
  }
}

void Store(const AmxConvArgs& g, const uint8_t* codes, const AmxSeg* segs, int nsegs) {
  if (g.channels_last) StoreCells(codes, g.channels, segs, nsegs, static_cast<uint8_t*>(g.c), g.ldc);
  else StoreTransposed(codes, g.channels, segs, nsegs, static_cast<uint8_t*>(g.c), g.ldc);
}

// The per-channel requantization of a call (AmxConvArgs' epilogue) for its
// one or two 16-channel vectors, into TC's codes.
template <class TC>
struct Epilogue {
  int nv = 1;
  bool high = false;  // every channel has the high-dword form (requant_vec_avx512.h)
  bool clamp = false;  // [lo, hi] is narrower than TC's range
  __m512i bias[2];
  vec512::ReqHL ph[2];
  vec512::Req pq[2];
  __m512i lo64, hi64, zp32, lo8, hi8;

  // Channel vector v of the cell at acc, requantized to int32 (unclamped in
  // the high form: the packs saturate to TC's range and Cells clamps bytes).
  __m512i Lanes(const int32_t* acc, int v) const {
    const __m512i x = _mm512_add_epi32(_mm512_load_si512(acc + 16 * v), bias[v]);
    return high ? vec512::RequantHighLanes(x, ph[v]) : vec512::Requant(x, pq[v], lo64, hi64, zp32);
  }

  // Cells [p0, p1) of a pass's accumulators ([cell][32 channels] int32) to
  // codes ([cell][32 channels] bytes). Two cells per step: their four vectors
  // narrow with packs into one 64-byte row (with one channel vector, its
  // copy fills the unused channels, which no store reads), then the clamp to
  // [lo, hi] runs on the bytes: saturating to TC's range and then clamping
  // inside it is the clamp. Per cell pair 7 instructions after the
  // requantization where vpmovdb and a 32-bit clamp per vector took 16.
  void Cells(const int32_t* acc, uint8_t* codes, int p0, int p1) const {
    for (int p = p0; p < p1; p += 2) {
      const bool pair = p + 1 < p1;
      const int32_t* a = acc + p * 32;
      const int32_t* b = pair ? a + 32 : a;
      const __m512i a0 = Lanes(a, 0), b0 = Lanes(b, 0);
      const __m512i a1 = nv > 1 ? Lanes(a, 1) : a0, b1 = nv > 1 ? Lanes(b, 1) : b0;
      __m512i y = vec512::Pack4<TC>(a0, a1, b0, b1);
      if (clamp) {
        if constexpr (std::is_same_v<TC, uint8_t>) y = _mm512_min_epu8(_mm512_max_epu8(y, lo8), hi8);
        else y = _mm512_min_epi8(_mm512_max_epi8(y, lo8), hi8);
      }
      if (pair) _mm512_storeu_si512(codes + p * 32, y);
      else _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + p * 32), _mm512_castsi512_si256(y));
    }
  }
};

// The previous pass of a call, whose epilogue runs under the current pass's
// products (acc == nullptr: none).
struct PendingPass {
  const int32_t* acc = nullptr;
  int cells = 0;
  const AmxSeg* segs = nullptr;
  int nsegs = 0;
};

// Accumulators of one pass into acc ([32 cells][32 channels] int32, 128 bytes
// a row). kBResident: one block whose weight tiles 6 and 7 are already loaded.
//
// The previous pass's epilogue (requantization, then the transposed store) is
// interleaved with this pass's blocks, a share of its cells after each
// block's tile instructions. The tile unit runs the products while the
// vector ports requantize; in program order after them, the epilogue would
// wait for the last product and the next pass's products for the epilogue's
// last instruction to leave the reorder window (hundreds of vector
// instructions against about a hundred tile ones), so neither overlapped.
template <bool kTwoRows, bool kTwoCols, bool kBResident, class E>
void Products(const AmxConvArgs& g, const uint8_t* xp, int32_t* acc, const E& e, const PendingPass& prev,
              uint8_t* codes) {
  const int64_t cell = g.cell, blocks = g.blocks;
  const int64_t* off = g.x_off;
  const int8_t* w = g.w;
  // Whole cell pairs per block (Epilogue::Cells narrows two cells at once).
  const int chunk = static_cast<int>((prev.cells + blocks - 1) / blocks + 1) & ~1;
  int done = 0;
  _tile_zero(0);
  if (kTwoCols) _tile_zero(1);
  if (kTwoRows) _tile_zero(2);
  if (kTwoRows && kTwoCols) _tile_zero(3);
  for (int64_t blk = 0; blk < blocks; ++blk, w += kWeightBlock) {
    const uint8_t* a = xp + off[blk];
    // No software prefetch: with the activation rows whole aligned lines, pulling
    // the next block's into L1 first made every AMX conv of ResNet-18 3-7%
    // slower (interleaved runs), and the weights' likewise before.
    // Tile registers are not renamed: a load waits until the products that
    // read its register's previous contents are done. Each load comes as
    // early as that allows and right before its first product, in the order
    // the previous block's products free the registers (4 after the second,
    // 6 after the third, 5 and 7 after the last). Measured the same as all
    // loads first (ResNet-18 at the amx level, interleaved runs).
    _tile_loadd(4, a, cell);
    if (!kBResident) _tile_loadd(6, w, 64);
    _tile_dpbusd(0, 4, 6);
    if (kTwoCols) {
      if (!kBResident) _tile_loadd(7, w + kWeightHalf, 64);
      _tile_dpbusd(1, 4, 7);
    }
    if (kTwoRows) {
      _tile_loadd(5, a + 16 * cell, cell);
      _tile_dpbusd(2, 5, 6);
      if (kTwoCols) _tile_dpbusd(3, 5, 7);
    }
    if (done < prev.cells) {
      const int to = std::min(done + chunk, prev.cells);
      e.Cells(prev.acc, codes, done, to);
      done = to;
    }
  }
  if (prev.acc) Store(g, codes, prev.segs, prev.nsegs);
  _tile_stored(0, acc, 128);
  if (kTwoCols) _tile_stored(1, acc + 16, 128);
  if (kTwoRows) _tile_stored(2, acc + 16 * 32, 128);
  if (kTwoRows && kTwoCols) _tile_stored(3, acc + 16 * 32 + 16, 128);
}

template <bool kTwoCols, bool kBResident, class E>
void PassProducts(const AmxConvArgs& g, const uint8_t* xp, bool two_rows, int32_t* acc, const E& e,
                  const PendingPass& prev, uint8_t* codes) {
  if (two_rows) Products<true, kTwoCols, kBResident>(g, xp, acc, e, prev, codes);
  else Products<false, kTwoCols, kBResident>(g, xp, acc, e, prev, codes);
}

inline __mmask16 LaneMask(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max(n, 0)) - 1); }

// The previous pass's requantization and store, in one piece.
template <class E>
void Finish(const AmxConvArgs& g, const E& e, const PendingPass& prev, uint8_t* codes) {
  e.Cells(prev.acc, codes, 0, prev.cells);
  Store(g, codes, prev.segs, prev.nsegs);
}

template <class TC>
void Tile(const AmxConvArgs& g) {
  Configure();
  // One buffer serves the previous pass's epilogue and the current pass's
  // products: the tile stores come after the epilogue's loads in program order.
  alignas(64) int32_t acc[kAmxCells * kAmxChannels];
  // Requantized codes, [cell][channel].
  alignas(64) uint8_t codes[kAmxCells * kAmxChannels];
  const bool two_cols = g.channels > 16;
  Epilogue<TC> e;
  e.nv = two_cols ? 2 : 1;
  // A depth of one block: the weight tiles stay loaded for every pass.
  const bool b_resident = g.blocks == 1;
  if (b_resident) {
    _tile_loadd(6, g.w, 64);
    if (two_cols) _tile_loadd(7, g.w + kWeightHalf, 64);
  }
  // Per-channel constants of the two channel vectors: the high-dword form
  // where every channel allows it (requant_vec_avx512.h), else the general one.
  e.high = g.narrow;
  for (int v = 0; v < e.nv; ++v) {
    const __mmask16 km = LaneMask(g.channels - 16 * v);
    e.bias[v] = _mm512_maskz_loadu_epi32(km, g.bias + 16 * v);
    const int32_t* mv = g.mult + 16 * v * g.mult_stride;
    const int32_t* sv = g.shift + 16 * v * g.mult_stride;
    e.high = e.high && vec512::MakeReqHL(mv, sv, g.mult_stride, km, g.zp, e.ph[v]);
    e.pq[v] = g.mult_stride == 0 ? vec512::ReqBroadcast(mv[0], sv[0]) : vec512::ReqLanes(mv, sv, km);
  }
  e.lo64 = _mm512_set1_epi64(int64_t{g.lo} - g.zp), e.hi64 = _mm512_set1_epi64(int64_t{g.hi} - g.zp);
  e.zp32 = _mm512_set1_epi32(g.zp);
  e.clamp = g.lo > std::numeric_limits<TC>::min() || g.hi < std::numeric_limits<TC>::max();
  e.lo8 = _mm512_set1_epi8(static_cast<char>(g.lo)), e.hi8 = _mm512_set1_epi8(static_cast<char>(g.hi));
  PendingPass prev;
  for (int pi = 0; pi < g.npasses; ++pi) {
    const AmxPass& ps = g.passes[pi];
    const AmxSeg* segs = g.segs + ps.first;
    int cells = 0;
    for (int i = 0; i < ps.count; ++i) cells = std::max(cells, segs[i].lo + segs[i].n);
    const bool two_rows = cells > 16;
    const uint8_t* xp = g.x + ps.cell * g.cell;
    if (!g.interleave_epilogue && prev.acc) {
      Finish(g, e, prev, codes);
      prev = {};
    }
    if (two_cols && b_resident) PassProducts<true, true>(g, xp, two_rows, acc, e, prev, codes);
    else if (two_cols) PassProducts<true, false>(g, xp, two_rows, acc, e, prev, codes);
    else if (b_resident) PassProducts<false, true>(g, xp, two_rows, acc, e, prev, codes);
    else PassProducts<false, false>(g, xp, two_rows, acc, e, prev, codes);
    prev = {acc, cells, segs, ps.count};
  }
  // After the last products the tiles go back to their initial state: the
  // OS then saves none of their 8 KB at a context switch.
  _tile_release();
  if (prev.acc) Finish(g, e, prev, codes);
}

}  // namespace

void ConvAmxU8(const AmxConvArgs& g) { Tile<uint8_t>(g); }
void ConvAmxS8(const AmxConvArgs& g) { Tile<int8_t>(g); }

// 16 cells per step. Vector k holds channels 4 k + l (128-bit lane l) at
// the step's 16 columns; each lane is 16 rows (k) x 16 bytes (columns), and
// the transpose makes vector j cell j: lane l, byte b = channel
// 4 b + l (AmxCellChannel).
void AmxCellsFromRow(const uint8_t* x, int64_t plane, int channels, int64_t row, int64_t start, int step, int64_t iw,
                     int64_t n, uint8_t fill, uint8_t flip, uint8_t* out, int64_t cell) {
  const __m128i fill16 = _mm_set1_epi8(static_cast<char>(fill));
  const __m256i fill32 = _mm256_set1_epi8(static_cast<char>(fill));
  const __m512i flip64 = _mm512_set1_epi8(static_cast<char>(flip));
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    // Bytes b of the step's window (16 step) read column first + b, loaded
    // where it lies in [0, iw) (masked-off bytes are not accessed).
    const int64_t first = start + j0 * step;
    const int64_t lo = std::clamp<int64_t>(-first, 0, 16 * step), hi = std::clamp<int64_t>(iw - first, lo, 16 * step);
    const uint64_t bits = row < 0 ? 0 : ((hi - lo >= 64 ? ~uint64_t{0} : (uint64_t{1} << (hi - lo)) - 1) << lo);
    const uintptr_t base = reinterpret_cast<uintptr_t>(x) + row + first;
    auto column_bytes = [&](int c) -> __m128i {
      if (c >= channels) return _mm_setzero_si128();
      const void* p = reinterpret_cast<const void*>(base + c * plane);
      if (step == 1) return _mm_mask_loadu_epi8(fill16, static_cast<__mmask16>(bits), p);
      // Step 2: the even bytes of 32 (vpmovwb keeps each word's low byte).
      return _mm256_cvtepi16_epi8(_mm256_mask_loadu_epi8(fill32, static_cast<__mmask32>(bits), p));
    };
    __m512i r[16];
    for (int k = 0; k < 16; ++k) {
      __m512i v = _mm512_castsi128_si512(column_bytes(4 * k));
      v = _mm512_inserti32x4(v, column_bytes(4 * k + 1), 1);
      v = _mm512_inserti32x4(v, column_bytes(4 * k + 2), 2);
      v = _mm512_inserti32x4(v, column_bytes(4 * k + 3), 3);
      r[k] = _mm512_xor_si512(v, flip64);
    }
    vec512::TransposeLanes16x16(r);
    const int64_t m = std::min<int64_t>(16, n - j0);
    for (int j = 0; j < m; ++j) _mm512_store_si512(out + (j0 + j) * cell, r[j]);
  }
}

// Per cell and block of 64 channels: one masked load of the pixel's
// channels, then AmxCellChannel order (byte 16 l + b = channel 4 b + l):
// vpshufb gathers byte l of each dword of a 128-bit lane into dword l of the
// lane, vpermd takes dword l of every lane into lane l.
void AmxCellsFromPixels(const uint8_t* x, int64_t pixel_stride, int channels, int64_t row, int64_t start, int step,
                        int64_t iw, int64_t n, uint8_t fill, uint8_t flip, uint8_t* out, int64_t cell) {
  const __m512i bytes_by_l = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m512i dwords_by_l = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i flip64 = _mm512_set1_epi8(static_cast<char>(flip));
  const __m512i pad = _mm512_set1_epi8(static_cast<char>(fill ^ flip));
  const int blocks = (channels + kAmxBlockBytes - 1) / kAmxBlockBytes;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t col = start + j * step;
    uint8_t* o = out + j * cell;
    if (row < 0 || col < 0 || col >= iw) {
      for (int b = 0; b < blocks; ++b) _mm512_store_si512(o + b * kAmxBlockBytes, pad);
      continue;
    }
    const uint8_t* px = x + (row + col) * pixel_stride;
    for (int b = 0; b < blocks; ++b) {
      const int left = channels - b * kAmxBlockBytes;
      const __mmask64 k = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
      __m512i v = _mm512_maskz_loadu_epi8(k, px + b * kAmxBlockBytes);
      v = _mm512_permutexvar_epi32(dwords_by_l, _mm512_shuffle_epi8(v, bytes_by_l));
      _mm512_store_si512(o + b * kAmxBlockBytes, _mm512_xor_si512(v, flip64));
    }
  }
}

}  // namespace nibble::q8
