// Convolution driver over the int8 GEMM micro-kernels: weights packed once,
// activation panels gathered per task from NCHW input (implicit im2col).
#include "kernels/x86/conv_q8_fast.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels/x86/conv_q8_amx.h"
#include "kernels/x86/conv_q8_pack_kernels.h"
#include "kernels/x86/gemm_q8_microkernel.h"
#include "kernels/x86/gemm_q8_pack.h"
#include "nibble/error.h"

namespace nibble {
namespace {

// Panel budget per task: positions x depth bytes kept in L2 while every
// output-channel tile of the task streams over them.
constexpr int64_t kPanelBytes = 512 << 10;
// Positions per block, at most: four of the zmm kernel's 48-lane sub-panels.
// A cap in positions, not sub-panels: each block stages its input rows (tap
// buffer, pixel rows) whole, so the AVX2 kernel's 8-lane sub-panels in fours
// (32 positions) re-staged a 7x7 conv's full-width rows for every 32
// outputs (ResNet-18's conv1 spent 36% of its time interleaving pixels).
constexpr int64_t kMaxBlockPositions = 192;
// Output channels per task (rounded to tiles): the task's weights stay in L2.
constexpr int64_t kChannelsPerTask = 256;
// Tasks wanted per run where the shape allows (each thread starts on an
// equal share and takes tasks from others' when done, ParallelForTasks, so a
// few tasks per thread let a faster one take more),
// first the channels are split further, down to kMinChannelsPerTask (each
// channel block re-packs the panel), then the position blocks get smaller
// (each one re-gathers its halo rows).
constexpr int64_t kMinTasks = 4;
constexpr int64_t kMinChannelsPerTask = 128;
// Lanes-are-channels mode (ConvQ8Packed::lanes_channels), measured against
// the lanes-are-positions mode (bench/nibble_bench_qgemm, network runs):
// * every conv with up to this many output positions (14x14 and 16x16 maps)
//   from this depth on: ResNet-18 layer3 3x3 0.635 -> 0.542 ms, MobileNetV2
//   1x1 192->64@14 0.024 -> 0.017 ms, whole MobileNetV2 about 6%;
// * on larger maps only convs with a spatial kernel and at least 8 input
//   channels (ResNet-18 layer1 3x3 0.645 -> 0.594 ms, layer2 0.579 -> 0.553):
//   a 1x1 stride-1 conv reads the tap buffer as its panel in the other mode
//   (MobileNetV2 1x1 24->144@56 0.116 ms there, 0.176 here), and conv1's 3
//   channels gain nothing.
// * except 1x1 convs of depth below kLanesChannelsMin1x1Depth on maps larger
//   than kLanesChannelsAlways positions: with so few multiply-accumulates per
//   output, this mode's per-row requantization and transposed store cost more
//   than the other mode's idle lanes (14x14: 196 positions in 208 lanes), e.g.
//   MobileNetV2 1x1 64->384@14 0.040 -> 0.031 ms, 96->576@14 0.075 -> 0.063
//   (192->64@14: 0.016 here, 0.017 there; 7x7 maps leave 15 of 64 lanes idle
//   there: 160->960@7 0.044 here, 0.050 there).
constexpr int64_t kLanesChannelsMaxPositions = 256;
constexpr int64_t kLanesChannelsMinDepth = 16;
constexpr int64_t kLanesChannelsMin1x1Depth = 128;
constexpr int64_t kLanesChannelsAlways = 64;
// Output positions per task in that mode, in whole output rows where they fit
// (each block gathers (kernel height - 1) halo rows more into its tap buffer).
constexpr int64_t kLanesChannelsBlock = 256;
// A map of one such block is split into two blocks of rows rather than of
// channels when its weights are at most this many bytes: each task then
// gathers half the rows (plus a halo) instead of all of them, and the weights
// are small enough for every core to hold them all. Fashion-MNIST CNN at 2
// threads 0.0150 -> 0.0139 ms, 1 thread 0.0182 -> 0.0179; ResNet-18's layer4
// (2.4 MB of weights) that way: 2 threads 4.6 -> 4.9 ms.
constexpr int64_t kLanesChannelsSplitRowsMaxWeights = 32 * 1024;
// Tap buffers whose rows span at most this many input bytes (columns per
// phase x stride) are built staged (q8::TapStagedAvx512): one 64-lane
// interleave per row would leave much of it empty, and one call per row costs
// more than the row. ResNet-18 layer2 3x3 stride 2 0.315 -> 0.306 ms, layer4
// 3x3 0.527 -> 0.522 ms, whole network (1 thread) 9.53 -> 9.44 ms; layer1
// (58 columns) 0.586-0.591 -> 0.584 ms.
constexpr int64_t kStagedMaxCols = 64;
// AMX level: quads convs with at least this many channels per group (whole
// 64-byte tile rows) and this depth (channels x taps), or shallower ones
// with this many output channels per group, run as tile products; see
// PackConvQ8. 128 outputs take ResNet-18's 64->128 downsample: on NCHW it
// ran 1.22x slower on tiles than on zmm, but as a tile conv it reads and
// writes channels-last, so with MaxPool writing channels-last too layer1's
// and layer2's residual streams stay channels-last (nibble_session_ab
// against 256 and an NCHW MaxPool, 60 rounds: 1 thread 1.019, 2 threads
// 1.058). No MobileNetV2 conv has 128..255 outputs on a shallow 1x1.
constexpr int64_t kAmxMinChannels = 64;
constexpr int64_t kAmxMinDepth = 192;
constexpr int64_t kAmxMinShallowOutputs = 128;
// AMX tasks copy no panel; with a kernel height above 1 their position
// blocks are as large as this many passes of cells (and then split for
// threads as usual): every block stages its (kernel height - 1) halo rows
// again, which at 4 passes (128 positions, 2.3 rows of ResNet-18's 56-column
// layer1) doubled the staging. ResNet-18 at 1 thread, interleaved best of 3:
// 4.05 -> 3.63 ms.
constexpr int64_t kAmxMaxPasses = 16;
// Cells of one AMX row tile (a pass is two).
constexpr int64_t kAmxRowCells = 16;

// 1-D convolutions are 2-D ones with H = 1.
struct Geo2 {
  int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

Geo2 ToGeo2(const WindowGeometry& g) {
  const size_t d = g.in.size() - 1;  // the last axis is W
  Geo2 r;
  r.iw = g.in[d], r.ow = g.out[d], r.kw = g.kernel[d], r.sw = g.stride[d], r.dw = g.dilation[d], r.pl = g.pad_begin[d];
  if (d == 1) r.ih = g.in[0], r.oh = g.out[0], r.kh = g.kernel[0], r.sh = g.stride[0], r.dh = g.dilation[0], r.pt = g.pad_begin[0];
  else r.ih = 1, r.oh = 1, r.kh = 1, r.sh = 1, r.dh = 1, r.pt = 0;
  return r;
}

struct ConvPlan {
  int64_t out_sz, in_sz, positions, pos_blocks, tiles_per_block, m_blocks;
};

ConvPlan MakePlan(const ConvQ8Packed& pk, const ConvQ8Params& p) {
  ConvPlan pl;
  pl.out_sz = p.geo.spatial_size_out();
  pl.in_sz = p.geo.spatial_size_in();
  const int64_t outer = std::max<int64_t>(1, p.batch * pk.group);
  if (pk.lanes_channels) {
    // Positions (rows) in blocks of about kLanesChannelsBlock, channel tiles
    // (lanes) split until there are enough tasks; each task gathers its rows once.
    const int64_t ow = std::max<int64_t>(1, p.geo.out.back());
    if (ow <= kLanesChannelsBlock) {
      // Blocks of whole output rows, so the row tiles are runs of one row.
      const int64_t oh = std::max<int64_t>(1, pl.out_sz / ow);
      int64_t rows = std::max<int64_t>(1, kLanesChannelsBlock / ow);
      pl.pos_blocks = (oh + rows - 1) / rows;
      // One block of small weights: two of rows instead (kLanesChannelsSplitRowsMaxWeights).
      if (outer * pl.pos_blocks == 1 && oh >= 2 && pk.mg * pk.k <= kLanesChannelsSplitRowsMaxWeights)
        pl.pos_blocks = 2;
      rows = (oh + pl.pos_blocks - 1) / pl.pos_blocks;
      pl.positions = rows * ow;
    } else {
      const int64_t row_tiles = std::max<int64_t>(1, (pl.out_sz + pk.mr - 1) / pk.mr);
      const int64_t per = std::max<int64_t>(1, kLanesChannelsBlock / pk.mr);
      pl.pos_blocks = (row_tiles + per - 1) / per;
      pl.positions = (row_tiles + pl.pos_blocks - 1) / pl.pos_blocks * pk.mr;
    }
    pl.pos_blocks = std::max<int64_t>(1, (pl.out_sz + pl.positions - 1) / pl.positions);
    // Channel blocks of whole 16-lane vectors (tiles_per_block counts
    // channels here). Every task re-gathers its rows (deep K: a large share
    // of the work), so only as many blocks as two threads need.
    const int64_t vecs = std::max<int64_t>(1, (pk.mg + 15) / 16);
    int64_t blocks = outer * pl.pos_blocks >= 2 ? 1 : 2;
    if ((outer * pl.pos_blocks * blocks) % 2 == 1 && outer * pl.pos_blocks < 32) blocks *= 2;
    blocks = std::min(blocks, vecs);
    pl.tiles_per_block = (vecs + blocks - 1) / blocks * 16;
    pl.m_blocks = (pk.mg + pl.tiles_per_block - 1) / pl.tiles_per_block;
    return pl;
  }
  const int64_t subs = std::max<int64_t>(1, (pl.out_sz + pk.nr - 1) / pk.nr);
  const int64_t max_subs = std::max<int64_t>(1, kMaxBlockPositions / pk.nr);
  const bool halo = pk.kernel.size() == 2 && pk.kernel[0] > 1;
  int64_t q = pk.isa == Isa::kAmx && halo
                  ? kAmxMaxPasses
                  : std::clamp<int64_t>(kPanelBytes / std::max<int64_t>(1, pk.k4 * 4 * pk.nr), 1, max_subs);
  q = std::min(q, subs);
  // A small map whose panel fits is one position block: its sub-panels would
  // split into unequal blocks (14x14: 3 + 2), which two threads cannot share
  // evenly; the channels split instead (MobileNetV2 1x1 64->384@14: the
  // slower thread's share 0.67 -> 0.5).
  const bool one_block = subs <= 2 * max_subs && subs * pk.k4 * 4 * pk.nr <= kPanelBytes;
  if (one_block) q = subs;
  int64_t tpb = std::clamp<int64_t>(kChannelsPerTask / pk.mr, 1, std::max<int64_t>(1, pk.m_tiles));
  // (One block: re-reading its small panel per channel block costs little.)
  const int64_t min_tpb = one_block ? 1 : std::max<int64_t>(1, kMinChannelsPerTask / pk.mr);
  auto tasks = [&] {
    const int64_t mb = (pk.m_tiles + tpb - 1) / tpb, pb = (subs + q - 1) / q;
    return outer * mb * pb;
  };
  while (tasks() < kMinTasks) {
    if (tpb > min_tpb) tpb = std::max(min_tpb, (tpb + 1) / 2);
    else if (q > 1) --q;
    else break;
  }
  // An odd count of a few tasks splits badly over two threads: one sub-panel
  // less per block, else one more channel block, when that makes it even.
  if (tasks() % 2 == 1 && tasks() < 32) {
    const int64_t mb = (pk.m_tiles + tpb - 1) / tpb;
    if (q > 1 && !one_block && ((subs + q - 2) / (q - 1)) % 2 == 0) --q;
    else if (one_block && mb < pk.m_tiles) {
      // About mb + 1 blocks; rounding may leave the count odd (10 tiles in
      // blocks of 2: 5 again), so the largest block up to that size that
      // gives an even count, if any (MobileNetV2's 960->320@7 at the AMX
      // level: 5 -> 10 tasks, the slower thread's share 0.56-0.58 -> 0.50).
      tpb = (pk.m_tiles + mb) / (mb + 1);
      for (int64_t t = tpb; t >= 1; --t)
        if (((pk.m_tiles + t - 1) / t) % 2 == 0) {
          tpb = t;
          break;
        }
    }
    else if (tpb > 1) tpb = (tpb + 1) / 2;
  }
  // Blocks of whole units of what a block's work costs, the units spread
  // evenly over the blocks (no block of a few positions). The zmm kernels:
  // sub-panels of nr positions. AMX without a halo (1x1s: a block's cells are
  // its positions): 16-cell row tiles, which a pass costs by; a 14x14 map in
  // two blocks is 112 + 84 positions (7 and 6 row tiles), where sub-panels
  // gave 128 + 68 (8 and 5) and the slower thread's share of MobileNetV2's
  // 576->96@14 was 0.63-0.67, now 0.51-0.55. AMX with a halo: whole output
  // rows (passes run over the cells of whole rows anyway, and a block that
  // ends inside a row stages that row's inputs twice); in sub-panels
  // ResNet-18's layer2 3x3s (28x28 outputs) took 4 blocks of 224, 224, 224
  // and 112 positions and two threads' halves ran at 0.56-0.57 of the sum, in
  // 7 rows each 0.50 (nibble_bench_qgemm split2), one thread's time
  // unchanged. A map of fewer rows than blocks keeps sub-panels: whole rows
  // would leave fewer tasks than threads.
  pl.pos_blocks = (subs + q - 1) / q;
  int64_t unit = pk.nr;
  if (pk.isa == Isa::kAmx) {
    const int64_t ow = std::max<int64_t>(1, p.geo.out.back());
    if (!halo) unit = kAmxRowCells;
    else if (pl.pos_blocks > 1 && pl.out_sz / ow >= pl.pos_blocks) unit = ow;
  }
  const int64_t units = std::max<int64_t>(1, (pl.out_sz + unit - 1) / unit);
  pl.positions = (units + pl.pos_blocks - 1) / pl.pos_blocks * unit;
  pl.pos_blocks = (pl.out_sz + pl.positions - 1) / pl.positions;
  pl.tiles_per_block = tpb;
  pl.m_blocks = (pk.m_tiles + tpb - 1) / tpb;
  return pl;
}

// out[4 j + t] = row t[j] ^ flip for j < n: the vector operand layout
// [lanes][4] of one k4 step, from four rows of n positions (rows are `stride`
// apart and readable up to n).
void Interleave4(const uint8_t* r, int64_t stride, int64_t n, uint8_t flip, uint8_t* out) {
  int64_t j = 0;
#if defined(__SSE2__)
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  for (; j + 16 <= n; j += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + stride + j));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 2 * stride + j));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 3 * stride + j));
    const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
    const __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
    __m128i* o = reinterpret_cast<__m128i*>(out + 4 * j);
    _mm_storeu_si128(o + 0, _mm_xor_si128(_mm_unpacklo_epi16(ab_lo, cd_lo), f));
    _mm_storeu_si128(o + 1, _mm_xor_si128(_mm_unpackhi_epi16(ab_lo, cd_lo), f));
    _mm_storeu_si128(o + 2, _mm_xor_si128(_mm_unpacklo_epi16(ab_hi, cd_hi), f));
    _mm_storeu_si128(o + 3, _mm_xor_si128(_mm_unpackhi_epi16(ab_hi, cd_hi), f));
  }
#endif
  for (; j < n; ++j)
    for (int t = 0; t < 4; ++t) out[4 * j + t] = static_cast<uint8_t>(r[t * stride + j] ^ flip);
}

// Short runs are the common case on small feature maps (7, 14 or 28 wide): a
// libc call costs more than the copy there. Runs of 8..32 bytes take two
// overlapping 8- or 16-byte moves (the head and the tail of the run), both
// inside [0, n); shorter ones a byte loop.
inline void FillBytes(uint8_t* dst, uint8_t v, int64_t n) {
  if (n > 32) return void(std::memset(dst, v, n));
#if defined(__SSE2__)
  if (n >= 16) {
    const __m128i f = _mm_set1_epi8(static_cast<char>(v));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), f);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + n - 16), f);
    return;
  }
#endif
  if (n >= 8) {
    const uint64_t f = 0x0101010101010101ull * v;
    std::memcpy(dst, &f, 8);
    std::memcpy(dst + n - 8, &f, 8);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = v;
}
inline void CopyBytes(uint8_t* dst, const uint8_t* src, int64_t n) {
  if (n > 32) return void(std::memcpy(dst, src, n));
#if defined(__SSE2__)
  if (n >= 16) {
    const __m128i head = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i tail = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n - 16));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), head);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + n - 16), tail);
    return;
  }
#endif
  if (n >= 8) {
    uint64_t head, tail;
    std::memcpy(&head, src, 8);
    std::memcpy(&tail, src + n - 8, 8);
    std::memcpy(dst, &head, 8);
    std::memcpy(dst + n - 8, &tail, 8);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// Where a tap column kx lands: output columns [lo, hi) read input column
// o * sw + off inside the row; the others read padding.
struct TapCols {
  int64_t off, lo, hi;
};

TapCols ColsOfTap(const Geo2& g, int64_t kx) {
  TapCols t;
  t.off = kx * g.dw - g.pl;
  t.lo = t.off >= 0 ? 0 : (-t.off + g.sw - 1) / g.sw;
  t.hi = std::min(g.ow, g.iw - t.off > 0 ? (g.iw - t.off + g.sw - 1) / g.sw : 0);
  return t;
}

// One row of the implicit im2col matrix (input channel plane xc, tap row ky,
// tap column tc) for np positions starting at output (oy, ox); taps in the
// padding read the zero point.
void GatherRow(const uint8_t* xc, const Geo2& g, int64_t ky, const TapCols& tc, int64_t oy, int64_t ox,
               int64_t np, uint8_t zp, uint8_t* out) {
  for (int64_t left = np; left > 0; ++oy, ox = 0) {
    const int64_t seg = std::min(g.ow - ox, left), end = ox + seg;
    const int64_t iy = oy * g.sh - g.pt + ky * g.dh;
    if (iy < 0 || iy >= g.ih || tc.lo >= tc.hi) {
      FillBytes(out, zp, seg);
    } else {
      const uint8_t* xr = xc + iy * g.iw;  // tap of column o: xr[o * sw + off]
      const int64_t a = std::clamp(tc.lo, ox, end), b = std::clamp(tc.hi, a, end);
      FillBytes(out, zp, a - ox);
      if (g.sw == 1) {
        CopyBytes(out + (a - ox), xr + a + tc.off, b - a);
      } else {
        int64_t o = a;
#if defined(__SSE2__)
        if (g.sw == 2)  // even bytes of 32: mask to 16 bits, pack with unsigned saturation (exact)
          for (; o + 16 <= b && 2 * o + tc.off + 32 <= g.iw; o += 16) {
            const __m128i m = _mm_set1_epi16(0xff);
            const uint8_t* src = xr + 2 * o + tc.off;
            const __m128i lo = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)), m);
            const __m128i hi = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16)), m);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (o - ox)), _mm_packus_epi16(lo, hi));
          }
#endif
        for (; o < b; ++o) out[o - ox] = xr[o * g.sw + tc.off];
      }
      FillBytes(out + (b - ox), zp, end - b);
    }
    out += seg;
    left -= seg;
  }
}

// The plain (cg <= 2) panel of a task: `subs` sub-panels [k4][nr][4]; depth
// index kk = (c * kh + ky) * kw + kx, walked with counters.
void GatherPlainPanel(const uint8_t* xg, const Geo2& geo, int64_t in_sz, const TapCols* cols, int64_t pos0,
                      int64_t np, int64_t P, int64_t k, int64_t k4, int64_t nr, uint8_t zp_code, uint8_t flip,
                      uint8_t* rows, uint8_t* pan) {
  const int64_t subs = (np + nr - 1) / nr;
  const int64_t oy0 = pos0 / geo.ow, ox0 = pos0 % geo.ow;
  int64_t c = 0, ky = 0, kx = 0;
  for (int64_t s = 0; s < k4; ++s) {
    for (int tt = 0; tt < 4; ++tt) {
      uint8_t* row = rows + tt * P;
      const int64_t kk = 4 * s + tt;
      if (kk < k) {
        GatherRow(xg + c * in_sz, geo, ky, cols[kx], oy0, ox0, np, zp_code, row);
        FillBytes(row + np, zp_code, subs * nr - np);
        if (++kx == geo.kw) {
          kx = 0;
          if (++ky == geo.kh) ky = 0, ++c;
        }
      } else {
        std::memset(row, 0, subs * nr);  // padded depth: its weights are 0
      }
    }
    for (int64_t sp = 0; sp < subs; ++sp) Interleave4(rows + sp * nr, P, nr, flip, pan + (sp * k4 + s) * nr * 4);
  }
}

// Lanes j in [0, n) whose source index start + j * step lies in [0, valid): [lo, hi).
void ValidLanes(int64_t start, int64_t step, int64_t valid, int64_t n, int64_t& lo, int64_t& hi) {
  lo = start >= 0 ? 0 : (-start + step - 1) / step;
  hi = valid > start ? (valid - start + step - 1) / step : 0;
  lo = std::min(lo, n);
  hi = std::clamp(hi, lo, n);
}

// Tap-buffer tasks: the weights hold channel quads per kernel tap
// (ConvQ8Packed::quads), so per (channel quad, input row, column phase) a task
// interleaves the four channel rows once into its tap buffer T, laid out
// [quad][row phase][column phase][row][column][4]: with strides, every tap of
// a run of output positions in one output row is a run of whole lanes of T,
// and the next output row's run follows its row's after the kernel's
// columns - 1 lanes (the AMX passes take several short rows at once:
// ResNet-18 layer4.0's 3x3 stride-2 conv to a 7x7 map, 14 valid lanes of 32
// with the column phase inside the row, 28 with it outside).
struct TapBuffer {
  int64_t oy_a, rows, cols;                  // first output row, rows per row phase, columns per column phase
  int64_t s_cph, s_rr, s_rph, s_quad;        // byte strides
  // Bytes from an output position's lane (4 bytes each) to the lane kernel
  // row ky / kernel column kx of it reads.
  int64_t RowOff(const Geo2& g, int64_t ky) const {
    const int64_t y = ky * g.dh;
    return (y % g.sh) * s_rph + (y / g.sh) * s_rr;
  }
  int64_t ColOff(const Geo2& g, int64_t kx) const {
    const int64_t x = kx * g.dw;
    return (x % g.sw) * s_cph + (x / g.sw) * 4;
  }
};

TapBuffer MakeTapBuffer(const Geo2& g, int64_t oy_a, int64_t oy_b) {
  TapBuffer t;
  t.oy_a = oy_a;
  t.rows = oy_b - oy_a + 1 + (g.kh - 1) * g.dh / g.sh;
  t.cols = g.ow + (g.kw - 1) * g.dw / g.sw;
  t.s_rr = t.cols * 4;
  t.s_cph = t.rows * t.s_rr;
  t.s_rph = g.sw * t.s_cph;
  t.s_quad = g.sh * t.s_rph;
  return t;
}

// Every (row phase, column phase, row) the taps read, in increasing lane
// order within a quad: one segment of tb.cols lanes each (phases no tap reads
// are left out: 1x1 stride 2 reads one of four).
void TapSegments(const Geo2& g, const TapBuffer& tb, std::vector<q8::TapSeg>& segs) {
  bool rph_used[8] = {}, cph_used[8] = {};
  const bool few_phases = g.sh <= 8 && g.sw <= 8;
  for (int64_t ky = 0; ky < g.kh && few_phases; ++ky) rph_used[(ky * g.dh) % g.sh] = true;
  for (int64_t kx = 0; kx < g.kw && few_phases; ++kx) cph_used[(kx * g.dw) % g.sw] = true;
  segs.clear();
  for (int64_t rph = 0; rph < g.sh; ++rph) {
    if (few_phases && !rph_used[rph]) continue;
    for (int64_t cph = 0; cph < g.sw; ++cph) {
      if (few_phases && !cph_used[cph]) continue;
      for (int64_t rr = 0; rr < tb.rows; ++rr) {
        const int64_t iy = (tb.oy_a + rr) * g.sh + rph - g.pt;
        segs.push_back({iy >= 0 && iy < g.ih ? iy * g.iw : -1, cph - g.pl,
                        (rph * tb.s_rph + cph * tb.s_cph + rr * tb.s_rr) / 4});
      }
    }
  }
}

}  // namespace

namespace q8 {

void TapRowPortable(const TapRowArgs& a) {
  thread_local std::vector<uint8_t> tmp;
  const int64_t ns = (a.n + 15) / 16 * 16;
  if (tmp.size() < static_cast<size_t>(4 * ns)) tmp.resize(4 * ns);
  for (int t = 0; t < 4; ++t) {
    uint8_t* d = tmp.data() + t * ns;
    int64_t lo, hi;
    ValidLanes(a.start, a.step, a.valid[t], a.n, lo, hi);
    FillBytes(d, a.fill, lo);
    const uint8_t* src = a.row[t] + a.start;  // lane j reads src[j * step] for j in [lo, hi)
    int64_t j = lo;
    if (a.step == 1) {
      if (hi > lo) std::memcpy(d + lo, src + lo, hi - lo);
      j = hi;
    }
#if defined(__SSE2__)
    if (a.step == 2)  // even bytes of 32: mask to 16 bits, pack with unsigned saturation (exact)
      for (; j + 16 <= hi && a.start + 2 * j + 32 <= a.valid[t]; j += 16) {
        const __m128i m = _mm_set1_epi16(0xff);
        const uint8_t* p = src + 2 * j;
        const __m128i l = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), m);
        const __m128i h = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)), m);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + j), _mm_packus_epi16(l, h));
      }
#endif
    for (; j < hi; ++j) d[j] = src[j * a.step];
    FillBytes(d + hi, a.fill, a.n - hi);
  }
  Interleave4(tmp.data(), ns, a.n, a.flip, a.out);
}

void StoreTransposedPortable(const uint8_t* tile, int64_t tile_stride, int rows, int lanes, uint8_t* out,
                             int64_t out_stride) {
  for (int j = 0; j < lanes; ++j, out += out_stride)
    for (int r = 0; r < rows; ++r) out[r] = tile[r * tile_stride + j];
}

void PixelPanelPortable(const PixelPanelArgs& a) {
  for (int64_t q = 0; q < a.steps; ++q) {
    uint8_t* d = a.dst + q * a.dst_stride;
    const int64_t ky = std::min(4 * q / a.row_bytes, a.rows - 1), b = 4 * q - ky * a.row_bytes;
    if (ky + 1 == a.rows || b + 4 <= a.row_bytes) {  // all four bytes from one kernel row
      const uint8_t* s = a.src + ky * a.row_stride + b;
      for (int i = 0; i < a.lanes; ++i) std::memcpy(d + 4 * i, s + i * a.pitch, 4);
      continue;
    }
    for (int64_t t = 0; t < 4; ++t) {  // a step that straddles two kernel rows
      const int64_t l = 4 * q + t, r = std::min(l / a.row_bytes, a.rows - 1);
      const uint8_t* s = a.src + r * a.row_stride + (l - r * a.row_bytes);
      for (int i = 0; i < a.lanes; ++i) d[4 * i + t] = s[i * a.pitch];
    }
  }
}

void PixelRow3Portable(const TapRowArgs& a) {
  auto edge = [&a](int64_t j) {
    for (int t = 0; t < 3; ++t) {
      const int64_t i = a.start + j;
      a.out[3 * j + t] = static_cast<uint8_t>((i >= 0 && i < a.valid[t] ? a.row[t][i] : a.fill) ^ a.flip);
    }
  };
  // Pixels [lo, hi) read all three rows in range: no bounds checks there (the
  // checked loop cost ResNet-18's conv1 a seventh of its time at the AVX2 level).
  const int64_t lo = std::clamp<int64_t>(-a.start, 0, a.n);
  int64_t hi = a.n;
  for (int t = 0; t < 3; ++t) hi = std::min(hi, std::max(lo, a.valid[t] - a.start));
  for (int64_t j = 0; j < lo; ++j) edge(j);
  const uint8_t *r0 = a.row[0] + a.start, *r1 = a.row[1] + a.start, *r2 = a.row[2] + a.start;
  for (int64_t j = lo; j < hi; ++j) {
    a.out[3 * j] = r0[j] ^ a.flip;
    a.out[3 * j + 1] = r1[j] ^ a.flip;
    a.out[3 * j + 2] = r2[j] ^ a.flip;
  }
  for (int64_t j = hi; j < a.n; ++j) edge(j);
}

void PanelCopyPortable(const PanelCopyArgs& a) {
  for (int64_t s = 0; s < a.steps; ++s) {
    const uint8_t* src = a.t + a.k_off[s];
    uint8_t* dst = a.dst + s * a.dst_stride;
    for (int i = 0; i < a.nsegs; ++i) {
      const PanelSeg& g = a.segs[i];
      for (int64_t b = 0; b < g.bytes; b += 16) {
#if defined(__SSE2__)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + g.dst + b),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + g.src + b)));
#else
        std::memcpy(dst + g.dst + b, src + g.src + b, 16);
#endif
      }
    }
  }
}

}  // namespace q8

namespace {

// Runs one task of a quads-packed conv: gathers its tap buffer, copies the
// panel out of it (or, for 1x1 stride-1 unpadded convs, uses the buffer as
// the panel) and runs every output-channel tile of the block over it.
struct TaskCtx {
  const ConvQ8Packed* pk;
  const ConvPlan* pl;
  Geo2 geo;
  bool direct;  // 1x1, stride 1, no padding: positions are contiguous in the input planes
  uint8_t zp_code, flip;
  void (*tap_row)(const q8::TapRowArgs&);
  void (*tap_staged)(const q8::TapStagedArgs&);  // null: row by row
  void (*pixel_panel)(const q8::PixelPanelArgs&);
  void (*pixel_row3)(const q8::TapRowArgs&);
  void (*panel_copy)(const q8::PanelCopyArgs&);
  void (*store_transposed)(const uint8_t*, int64_t, int, int, uint8_t*, int64_t);
  void (*stage_pixel_row)(const q8::PixelRowArgs&);  // channels-last input
  uint64_t call = 0;  // which run (ConvQ8FastNewRun): a tap buffer is reused within one run only
  ConvQ8Layout layout;
};

// Run ids, process-wide: a tap buffer built in one run is never taken for
// another (same pointers, new data).
std::atomic<uint64_t> g_runs{0};
thread_local int64_t tls_tap_reuses = 0;
thread_local int64_t tls_rows_skipped = 0;
thread_local int64_t tls_rows_skipped_nonzero_pad = 0;
thread_local int64_t tls_edge_tiles = 0;
thread_local int64_t tls_pixels_in_place = 0;

// The last view a builder made on this thread and what it was built for: it
// serves the next task of the same run with the same input and positions.
template <class V>
struct LastView {
  uint64_t call = 0;
  const uint8_t* xg = nullptr;
  int64_t pos0 = 0, np = 0;
  V v;
  bool Hit(const TaskCtx& c, const uint8_t* x, int64_t p0, int64_t n) const {
    const bool hit = call == c.call && xg == x && pos0 == p0 && np == n;
    if (hit) ++tls_tap_reuses;
    return hit;
  }
};

// The task's tap buffer: step s of output position p (pos0 <= p < pos0 + np)
// is the 4 bytes at t + k_off[s] + PosOff(p).
struct TapView {
  const uint8_t* t = nullptr;
  const int64_t* k_off = nullptr;
  bool direct = false;
  int64_t pos0 = 0, oy_a = 0, ow = 0, s_rr = 0, lanes = 0;  // lanes: direct buffer row length (positions, a multiple of nr)
  int64_t s_quad = 0;  // bytes from one channel quad to the next
  int64_t rs = 4;      // bytes from an output position to the next one in its row (MicroArgs::a_rs)
  int64_t PosOff(int64_t p) const { return direct ? (p - pos0) * 4 : (p / ow - oy_a) * s_rr + (p % ow) * rs; }
};

TapView BuildTaps(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np) {
  const ConvQ8Packed& pk = *c.pk;
  const Geo2& g = c.geo;
  const int64_t in_sz = c.pl->in_sz, nr = pk.nr, k4 = pk.k4;
  thread_local std::vector<uint8_t> tbuf;
  thread_local std::vector<int64_t> k_off;
  thread_local LastView<TapView> last;
  if (last.Hit(c, xg, pos0, np)) return last.v;
  if (k_off.size() < static_cast<size_t>(k4)) k_off.resize(k4);
  TapView v;
  v.direct = c.direct;
  v.pos0 = pos0;
  v.ow = g.ow;
  v.k_off = k_off.data();
  q8::TapRowArgs a;
  a.fill = c.zp_code;
  a.flip = c.flip;
  auto set_rows = [&](int64_t quad, int64_t offset, bool row_ok, int64_t valid) {
    for (int t = 0; t < 4; ++t) {
      const int64_t ch = 4 * quad + t;
      const bool ok = row_ok && ch < pk.cg;
      a.row[t] = ok ? xg + ch * in_sz + offset : xg;
      a.valid[t] = ok ? valid : 0;
    }
  };
  if (c.direct) {
    const int64_t lanes = (np + nr - 1) / nr * nr;
    const size_t need = static_cast<size_t>(pk.quads_n * lanes * 4 + 64);
    if (tbuf.size() < need) tbuf.resize(need);
    a.start = 0, a.step = 1, a.n = np;
    for (int64_t qd = 0; qd < pk.quads_n; ++qd) {
      set_rows(qd, pos0, true, np);
      a.out = tbuf.data() + qd * lanes * 4;
      c.tap_row(a);
      k_off[qd] = qd * lanes * 4;  // taps == 1
    }
    v.t = tbuf.data();
    v.oy_a = 0, v.s_rr = 0, v.lanes = lanes, v.s_quad = lanes * 4;
    last = {c.call, xg, pos0, np, v};
    return v;
  }
  const int64_t oy_a = pos0 / g.ow, oy_b = (pos0 + np - 1) / g.ow;
  const TapBuffer tb = MakeTapBuffer(g, oy_a, oy_b);
  const size_t need = static_cast<size_t>(pk.quads_n * tb.s_quad + 256);
  if (tbuf.size() < need) tbuf.resize(need);
  thread_local std::vector<q8::TapSeg> segs;
  TapSegments(g, tb, segs);
  if (c.tap_staged && g.sw <= 2 && tb.cols * g.sw <= kStagedMaxCols) {
    // Short rows: one call stages every segment of every quad, then
    // interleaves whole 64-lane steps.
    thread_local std::vector<uint8_t> stage;
    q8::TapStagedArgs sa;
    sa.x = xg;
    sa.plane = in_sz, sa.channels = pk.cg, sa.quads = pk.quads_n;
    sa.iw = g.iw;
    sa.segs = segs.data();
    sa.nsegs = static_cast<int>(segs.size());
    sa.step = g.sw, sa.n = tb.cols;
    sa.lanes = tb.s_quad / 4, sa.quad_stride = tb.s_quad;
    sa.fill = c.zp_code, sa.flip = c.flip;
    if (stage.size() < static_cast<size_t>(4 * (sa.lanes + 64))) stage.resize(4 * (sa.lanes + 64));
    sa.stage = stage.data();
    sa.out = tbuf.data();
    c.tap_staged(sa);
  } else {
    a.step = g.sw, a.n = tb.cols;
    for (int64_t qd = 0; qd < pk.quads_n; ++qd)
      for (const q8::TapSeg& sg : segs) {
        set_rows(qd, sg.row >= 0 ? sg.row : 0, sg.row >= 0, g.iw);
        a.start = sg.start;
        a.out = tbuf.data() + qd * tb.s_quad + 4 * sg.lane;
        c.tap_row(a);
      }
  }
  // Step s = (ky * quads + quad) * kw + kx reads T at k_off[s] + (oy - oy_a) * s_rr + ox * 4.
  // The column part is worked out once per kernel column (a division per
  // step cost more than the rest of this function on small maps).
  thread_local std::vector<int64_t> col_off;
  col_off.resize(g.kw);
  for (int64_t kx = 0; kx < g.kw; ++kx) col_off[kx] = tb.ColOff(g, kx);
  for (int64_t ky = 0, s = 0; ky < g.kh; ++ky) {
    const int64_t row_off = tb.RowOff(g, ky);
    for (int64_t qd = 0; qd < pk.quads_n; ++qd)
      for (int64_t kx = 0; kx < g.kw; ++kx, ++s) k_off[s] = qd * tb.s_quad + row_off + col_off[kx];
  }
  v.t = tbuf.data();
  v.oy_a = oy_a, v.s_rr = tb.s_rr, v.lanes = 0, v.s_quad = tb.s_quad;
  last = {c.call, xg, pos0, np, v};
  return v;
}

// Channels-last input (lanes-are-channels mode): the task's taps are 4-byte
// channel quads of pixels, and an output row's positions are sw pixels apart
// (TapView::rs), so nothing is transposed. They are read in place from the
// input where the task reads no padding, the channels are whole quads and
// the codes are uint8; else from a copy of its input rows with the padding
// pixels (and the channels up to a whole quad) filled in.
TapView BuildPixelTaps(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np) {
  const ConvQ8Packed& pk = *c.pk;
  const Geo2& g = c.geo;
  thread_local std::vector<uint8_t> tbuf;
  thread_local std::vector<int64_t> k_off;
  thread_local LastView<TapView> last;
  if (last.Hit(c, xg, pos0, np)) return last.v;
  if (k_off.size() < static_cast<size_t>(pk.k4)) k_off.resize(pk.k4);
  TapView v;
  v.pos0 = pos0;
  v.ow = g.ow;
  v.k_off = k_off.data();
  v.oy_a = pos0 / g.ow;
  const int64_t cq = pk.quads_n * 4;
  const int64_t cols = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;  // pixels the taps of an output row span
  const int64_t rows = ((pos0 + np - 1) / g.ow - v.oy_a) * g.sh + (g.kh - 1) * g.dh + 1;
  const int64_t iy0 = v.oy_a * g.sh - g.pt;  // input row of buffer row 0
  // (int8 codes are read as uint8 after flipping the sign bit: copied.)
  const bool in_place =
      c.flip == 0 && cq == pk.in_channels && g.pl == 0 && iy0 >= 0 && cols <= g.iw && iy0 + rows <= g.ih;
  const int64_t pitch = (in_place ? g.iw : cols) * cq;  // bytes per row
  if (in_place) {
    v.t = xg + iy0 * pitch;
    ++tls_pixels_in_place;
  } else {
    const size_t need = static_cast<size_t>(rows * pitch + 64);
    if (tbuf.size() < need) tbuf.resize(need);
    q8::PixelRowArgs a;
    a.iw = g.iw, a.channels = pk.in_channels, a.cq = cq, a.pl = g.pl, a.cols = cols;
    a.fill = c.zp_code, a.flip = c.flip;
    for (int64_t rr = 0; rr < rows; ++rr) {
      const int64_t iy = iy0 + rr;
      a.x = iy >= 0 && iy < g.ih ? xg + iy * g.iw * pk.in_channels : nullptr;
      a.out = tbuf.data() + rr * pitch;
      c.stage_pixel_row(a);
    }
    v.t = tbuf.data();
  }
  v.s_rr = g.sh * pitch;
  v.rs = g.sw * cq;
  for (int64_t ky = 0, s = 0; ky < g.kh; ++ky)
    for (int64_t qd = 0; qd < pk.quads_n; ++qd)
      for (int64_t kx = 0; kx < g.kw; ++kx, ++s) k_off[s] = ky * g.dh * pitch + kx * g.dw * cq + 4 * qd;
  last = {c.call, xg, pos0, np, v};
  return v;
}

// Conv mode: returns the vector operand of sub-panel 0 and its strides.
const uint8_t* PackQuadsPanel(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np, int64_t& sub_stride,
                              int64_t& b_stride) {
  const ConvQ8Packed& pk = *c.pk;
  const Geo2& g = c.geo;
  const int64_t nr = pk.nr, k4 = pk.k4;
  const int64_t subs = (np + nr - 1) / nr;
  const TapView v = BuildTaps(c, xg, pos0, np);
  if (v.direct) {  // the tap buffer is the panel
    sub_stride = nr * 4;
    b_stride = v.lanes * 4;
    return v.t;
  }
  thread_local std::vector<uint8_t> panel;
  thread_local std::vector<q8::PanelSeg> segs;
  const size_t pneed = static_cast<size_t>(subs * k4 * nr * 4 + 64);
  if (panel.size() < pneed) panel.resize(pneed);
  for (int64_t sp = 0; sp < subs; ++sp) {
    segs.clear();
    const int64_t p_lo = pos0 + sp * nr, p_hi = std::min(pos0 + np, p_lo + nr);
    for (int64_t p = p_lo; p < p_hi;) {
      const int64_t len = std::min(g.ow - p % g.ow, p_hi - p);
      segs.push_back({v.PosOff(p), (p - p_lo) * 4, len * 4});
      p += len;
    }
    q8::PanelCopyArgs pc;
    pc.t = v.t;
    pc.k_off = v.k_off;
    pc.steps = k4;
    pc.segs = segs.data();
    pc.nsegs = static_cast<int>(segs.size());
    pc.dst = panel.data() + sp * k4 * nr * 4;
    pc.dst_stride = nr * 4;
    c.panel_copy(pc);
  }
  sub_stride = k4 * nr * 4;
  b_stride = nr * 4;
  return panel.data();
}

// out[j] = (row[j - pl] or fill outside [0, iw), and everywhere when row is
// null) ^ flip for j < n.
void StagePaddedRow(const uint8_t* row, int64_t iw, int64_t pl, int64_t n, uint8_t fill, uint8_t flip,
                    uint8_t* out) {
  const int64_t a = row ? std::clamp<int64_t>(pl, 0, n) : n, b = row ? std::clamp<int64_t>(pl + iw, a, n) : n;
  std::memset(out, fill ^ flip, a);
  if (b > a) {
    if (flip == 0) std::memcpy(out + a, row + (a - pl), b - a);
    else
      for (int64_t j = a; j < b; ++j) out[j] = row[j - pl] ^ flip;
  }
  std::memset(out + b, fill ^ flip, n - b);
}

// Conv mode, pixel-rows order (ConvQ8Packed::pixel_rows): the task's input
// rows are interleaved into 3-byte pixels once (with one channel, the padded
// row itself);
// each sub-panel step is then a strided run of 4-byte reads out of one such
// row, or two for a step that straddles kernel rows. Returns sub-panel 0
// ([k4][nr][4] each).
const uint8_t* PackPixelRowsPanel(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np) {
  const ConvQ8Packed& pk = *c.pk;
  const Geo2& g = c.geo;
  const int64_t nr = pk.nr, k4 = pk.k4, rb = pk.row_bytes, cg = pk.cg, in_sz = c.pl->in_sz;
  const int64_t oy_a = pos0 / g.ow, oy_b = (pos0 + np - 1) / g.ow;
  const int64_t iy_lo = oy_a * g.sh - g.pt;
  const int64_t nrows = (oy_b - oy_a) * g.sh + (g.kh - 1) * g.dh + 1;
  // Pixel j of a row is input column j - pl; position ox reads bytes
  // [ox sw cg, ox sw cg + read) of it (the last step's bytes past the kernel
  // included), and the panel kernel up to 4 bytes before them.
  const int64_t read = std::max(rb, 4 * k4 - (g.kh - 1) * rb);
  const int64_t px = (g.ow - 1) * g.sw + (read + cg - 1) / cg;
  const int64_t pitch = px * cg + 192;  // + the slack of PixelPanelAvx512's 128-byte windows and PixelRow3's stores
  constexpr int64_t kFront = 64;
  thread_local std::vector<uint8_t> prow_buf, panel;
  if (prow_buf.size() < static_cast<size_t>(nrows * pitch + kFront)) prow_buf.resize(nrows * pitch + kFront);
  uint8_t* prow = prow_buf.data() + kFront;
  q8::TapRowArgs a;
  a.fill = c.zp_code;
  a.flip = c.flip;
  a.start = -g.pl, a.step = 1, a.n = px;
  for (int64_t r = 0; r < nrows; ++r) {
    const int64_t iy = iy_lo + r;
    const bool row_ok = iy >= 0 && iy < g.ih;
    if (cg == 1) {  // the row itself, padded: pixel j is column j - pl
      StagePaddedRow(row_ok ? xg + iy * g.iw : nullptr, g.iw, g.pl, px, c.zp_code, c.flip, prow + r * pitch);
      continue;
    }
    for (int t = 0; t < 3; ++t) {
      a.row[t] = row_ok ? xg + t * in_sz + iy * g.iw : xg;
      a.valid[t] = row_ok ? g.iw : 0;
    }
    a.out = prow + r * pitch;
    c.pixel_row3(a);
  }
  const int64_t subs = (np + nr - 1) / nr;
  const size_t need = static_cast<size_t>(subs * k4 * nr * 4 + 64);
  if (panel.size() < need) panel.resize(need);
  q8::PixelPanelArgs pa;
  pa.pitch = g.sw * cg;
  pa.row_stride = g.dh * pitch;
  pa.rows = g.kh;
  pa.row_bytes = rb;
  pa.steps = k4;
  pa.dst_stride = nr * 4;
  for (int64_t sp = 0; sp < subs; ++sp) {
    const int64_t p_lo = pos0 + sp * nr, p_hi = std::min(pos0 + np, p_lo + nr);
    for (int64_t p = p_lo; p < p_hi;) {
      const int64_t oy = p / g.ow, ox = p % g.ow, len = std::min(g.ow - ox, p_hi - p);
      pa.lanes = static_cast<int>(len);
      pa.src = prow + (oy - oy_a) * g.sh * pitch + ox * g.sw * cg;
      pa.dst = panel.data() + (sp * k4 * nr + (p - p_lo)) * 4;
      c.pixel_panel(pa);
      p += len;
    }
  }
  return panel.data();
}

// AMX level: the task's cells (conv_q8_amx.h), laid out like the lanes of
// its tap buffer ([row phase][column phase][row][column], TapBuffer), built
// straight from the input rows. Block (tap, cb) of output position p reads
// 64 channels at cells + (PosCell(p) + tap cell) * cell + 64 cb.
struct CellView {
  const uint8_t* x = nullptr;
  int64_t cell = 0;
  const int64_t* x_off = nullptr;  // per block (tap, channel block)
  int64_t oy_a = 0, ow = 0, cols = 0;
  int64_t PosCell(int64_t p) const { return (p / ow - oy_a) * cols + p % ow; }
};

CellView BuildCells(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np) {
  const ConvQ8Packed& pk = *c.pk;
  const Geo2& g = c.geo;
  NIBBLE_CHECK(g.sw <= 2, "ConvQ8FastRun: AMX weights packed for a conv of stride width ", g.sw);
  thread_local std::vector<uint8_t> buf;
  thread_local std::vector<int64_t> x_off;
  thread_local LastView<CellView> last;
  if (last.Hit(c, xg, pos0, np)) return last.v;
  CellView v;
  v.oy_a = pos0 / g.ow;
  v.ow = g.ow;
  const TapBuffer tb = MakeTapBuffer(g, v.oy_a, (pos0 + np - 1) / g.ow);  // byte strides of 4-byte lanes
  v.cols = tb.cols;
  const int64_t in_sz = c.pl->in_sz, cbs = pk.amx_cblocks;
  v.cell = cbs * q8::kAmxBlockBytes;
  // A pass reads up to kAmxCells - 1 cells past the last one a valid
  // position reads; the cells are 64-byte aligned.
  const size_t need = static_cast<size_t>((tb.s_quad / 4 + q8::kAmxCells) * v.cell + 64);
  if (buf.size() < need) buf.resize(need);
  uint8_t* cells = buf.data() + (-reinterpret_cast<uintptr_t>(buf.data()) & 63);
  thread_local std::vector<q8::TapSeg> segs;
  TapSegments(g, tb, segs);
  if (c.layout.x_channels_last) {
    for (const q8::TapSeg& sg : segs)
      q8::AmxCellsFromPixels(xg, pk.in_channels, static_cast<int>(pk.cg), sg.row, sg.start, static_cast<int>(g.sw),
                             g.iw, tb.cols, c.zp_code, c.flip, cells + sg.lane * v.cell, v.cell);
  } else {
  for (const q8::TapSeg& sg : segs)
    for (int64_t cb = 0; cb < cbs; ++cb)
      q8::AmxCellsFromRow(xg + cb * q8::kAmxBlockBytes * in_sz, in_sz,
                          static_cast<int>(std::min<int64_t>(q8::kAmxBlockBytes, pk.cg - cb * q8::kAmxBlockBytes)),
                          sg.row, sg.start, static_cast<int>(g.sw), g.iw, tb.cols, c.zp_code, c.flip,
                          cells + sg.lane * v.cell + cb * q8::kAmxBlockBytes, v.cell);
  }
  x_off.resize(pk.amx_blocks);
  for (int64_t tap = 0; tap < pk.taps; ++tap) {
    const int64_t lane = (tb.RowOff(g, tap / g.kw) + tb.ColOff(g, tap % g.kw)) / 4;
    for (int64_t cb = 0; cb < cbs; ++cb) x_off[tap * cbs + cb] = lane * v.cell + cb * q8::kAmxBlockBytes;
  }
  v.x = cells;
  v.x_off = x_off.data();
  last = {c.call, xg, pos0, np, v};
  return v;
}

// AMX level: the task's positions go in passes of up to 32 cells (the cells
// of one or a few output rows; those between rows are computed but not
// stored), and every channel tile of the block runs over every pass.
template <class TY>
void RunAmx(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np, int64_t mb, int64_t grp,
            const int32_t* bias, bool per_channel, int32_t lo, int32_t hi, bool narrow, TY* y) {
  const ConvQ8Packed& pk = *c.pk;
  const ConvPlan& pl = *c.pl;
  const Geo2& g = c.geo;
  thread_local std::vector<q8::AmxPass> passes;
  thread_local std::vector<q8::AmxSeg> segs;
  passes.clear();
  segs.clear();
  const CellView cv = BuildCells(c, xg, pos0, np);
  q8::AmxConvArgs a;
  a.x = cv.x;
  a.cell = cv.cell;
  a.x_off = cv.x_off;
  a.blocks = pk.amx_blocks;
  const int64_t end = pos0 + np;
  for (int64_t p = pos0; p < end;) {
    const int64_t c0 = cv.PosCell(p);
    q8::AmxPass ps{c0, static_cast<int>(segs.size()), 0};
    int64_t q = p;
    while (q < end) {
      const int64_t cell = cv.PosCell(q);
      if (cell >= c0 + q8::kAmxCells) break;
      const int lane = static_cast<int>(cell - c0);
      const int64_t run = std::min(g.ow - q % g.ow, end - q);
      const int n = static_cast<int>(std::min<int64_t>(run, q8::kAmxCells - lane));
      segs.push_back({lane, n, q});
      q += n;
      if (n < run) break;
    }
    ps.count = static_cast<int>(segs.size()) - ps.first;
    passes.push_back(ps);
    p = q;
  }
  a.passes = passes.data();
  a.npasses = static_cast<int>(passes.size());
  a.segs = segs.data();
  a.zp = pk.y_zero_point;
  a.lo = lo;
  a.hi = hi;
  a.narrow = narrow;
  a.channels_last = c.layout.y_channels_last;
  a.ldc = a.channels_last ? pk.out_channels : pl.out_sz;
  a.mult_stride = per_channel ? 1 : 0;
  // Interleaved epilogues, measured (interleaved runs, AMX level): ResNet-18's
  // 3x3 convs 0.88-0.95x their time in the plain order, the whole network
  // 0.95x; MobileNetV2's 1x1s (a 14x14 expand with one block 1.04-1.12x,
  // its 7x7 320->1280 with five 1.10x) slower, so 1x1s keep the plain order.
  a.interleave_epilogue = pk.taps > 1;
  const int64_t tile_bytes = q8::AmxTileBytes(pk.amx_blocks);
  const int64_t mt_end = std::min(pk.m_tiles, (mb + 1) * pl.tiles_per_block);
  for (int64_t mt = mb * pl.tiles_per_block; mt < mt_end; ++mt) {
    const int64_t m0 = grp * pk.mg + mt * pk.mr;
    a.w = pk.w8.data() + (grp * pk.m_tiles + mt) * tile_bytes;
    a.channels = static_cast<int>(std::min<int64_t>(pk.mr, pk.mg - mt * pk.mr));
    a.bias = bias + m0;
    a.mult = per_channel ? pk.mult.data() + m0 : pk.mult.data();
    a.shift = per_channel ? pk.shift.data() + m0 : pk.shift.data();
    a.c = a.channels_last ? y + m0 : y + m0 * pl.out_sz;
    if constexpr (std::is_same_v<TY, uint8_t>) q8::ConvAmxU8(a);
    else q8::ConvAmxS8(a);
  }
}

// Lanes-are-channels mode: one micro-kernel row tile, `n` output positions
// from `pos`; row r of step s at a + (offsets ? offsets[s] : s * mr * 4) + 4 r.
struct RowTile {
  int64_t pos;
  int n;
  const uint8_t* a;
};

// The broadcast operand, positions as rows: read in place from the tap buffer
// where ConvQ8RowRuns allows (the positions of a run of one output row are
// consecutive 4-byte lanes of it at every step; *offsets = its k_off), else
// copied into [row tile][k4][mr][4] (*offsets = null). rs: the bytes between
// rows (MicroArgs::a_rs).
void PositionRowTiles(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np, std::vector<RowTile>& tiles,
                      const int64_t*& offsets, int64_t& rs) {
  const ConvQ8Packed& pk = *c.pk;
  const int64_t mr = pk.mr, k4 = pk.k4, ow = c.geo.ow, packed_tiles = (np + mr - 1) / mr;
  const TapView v = c.layout.x_channels_last ? BuildPixelTaps(c, xg, pos0, np) : BuildTaps(c, xg, pos0, np);
  rs = v.rs;
  thread_local std::vector<std::pair<int64_t, int>> runs;
  tiles.clear();
  if (ConvQ8RowRuns(pos0, np, ow, pk.mr, runs)) {
    for (const auto& [p, n] : runs) tiles.push_back({p, n, v.t + v.PosOff(p)});
    offsets = v.k_off;
    return;
  }
  offsets = nullptr;
  rs = 4;
  thread_local std::vector<uint8_t> rows;
  thread_local std::vector<int64_t> off;
  const size_t need = static_cast<size_t>(packed_tiles * k4 * mr * 4);
  if (rows.size() < need) rows.resize(need);
  off.resize(mr);
  for (int64_t rt = 0; rt < packed_tiles; ++rt) {
    const int64_t n = std::min(mr, np - rt * mr);
    for (int64_t r = 0; r < n; ++r) off[r] = v.PosOff(pos0 + rt * mr + r);
    uint8_t* dst = rows.data() + rt * k4 * mr * 4;
    tiles.push_back({pos0 + rt * mr, static_cast<int>(n), dst});
    for (int64_t s = 0; s < k4; ++s, dst += mr * 4) {
      const uint8_t* src = v.t + v.k_off[s];
      for (int64_t r = 0; r < n; ++r) std::memcpy(dst + 4 * r, src + off[r], 4);
    }
  }
}

// One task in lanes-are-channels mode: rows = the task's positions (gathered
// once), lanes = output channels of tiles [mb * tpb, ...); each micro-kernel
// tile lands in a small [rows][nr] buffer and is stored transposed into the
// NCHW output (yn: this image), or the kernel writes its rows straight into
// channels-last output.
template <class TY>
void RunLanesChannels(const TaskCtx& c, const uint8_t* xg, int64_t pos0, int64_t np, int64_t mb, int64_t grp,
                      const int32_t* bias, bool per_channel, int32_t lo, int32_t hi, bool narrow, q8::MicroFn fn,
                      TY* yn) {
  const ConvQ8Packed& pk = *c.pk;
  const ConvPlan& pl = *c.pl;
  const int mr = pk.mr, nr = pk.nr;
  const int64_t k4 = pk.k4;
  thread_local std::vector<RowTile> tiles;
  const int64_t* offsets = nullptr;
  int64_t rs = 4;
  PositionRowTiles(c, xg, pos0, np, tiles, offsets, rs);
  // mr x nr of every level fits, up to the next 64 bytes (MicroArgs::dense),
  // + the slack StoreTransposed* reads.
  TY tile[8 * 64 + 64];
  q8::MicroArgs g;
  g.a_stride = mr * 4;
  g.a_off = offsets;
  g.a_rs = rs;
  g.b_stride = nr * 4;
  g.k4 = k4;
  g.per_lane = true;
  g.zp = pk.y_zero_point;
  g.lo = lo;
  g.hi = hi;
  g.narrow = narrow;
  g.c = tile;
  // NCHW: the tile's rows back to back (MicroArgs::dense), then stored
  // transposed; channels-last: every level's kernel writes rows at any
  // stride (the zmm one packs each row into one store).
  const bool to_pixels = c.layout.y_channels_last;
  g.dense = !to_pixels;
  // A tile is one run of an output row (offsets set): kernel rows that lie
  // wholly in the padding for that row read only the padding byte, so their
  // steps (one run per kernel row in the quads order) are skipped. Where that
  // byte is 0 (uint8 zero point 0, int8 zero point -128: post-ReLU
  // activations) they add nothing; else the tile's bias takes back what they
  // would have added (ConvQ8Packed::row_sums). At 7x7 that is 2 rows of 7
  // with a third of their taps: 9.5% of the MACs; at 14x14, 4.8%.
  const uint8_t pad = c.zp_code ^ c.flip;
  const bool zero_pad = offsets && pad == 0;
  const bool skip_rows = offsets && c.geo.kh > 1 && (pad == 0 || !pk.row_sums.empty());
  int32_t tile_bias[64];  // bias + pad * (sums of the skipped kernel rows), for the lanes of a tile
  const int64_t row_steps = pk.quads_n * c.geo.kw;
  // Likewise the kernel column in the padding at a row tile's edge
  // positions (MicroArgs::edge): 3 columns, so the steps come in threes.
  const bool skip_cols = zero_pad && c.geo.kw == 3;
  g.mult_stride = per_channel ? 1 : 0;
  // Channels [c_lo, c_hi) of the group; a weight tile that straddles a block
  // edge is run on its lanes of this block only (edges are multiples of 16).
  const int64_t c_lo = mb * pl.tiles_per_block, c_hi = std::min(pk.mg, c_lo + pl.tiles_per_block);
  for (int64_t mt = c_lo / nr; mt * nr < c_hi; ++mt) {
    const int64_t start = std::max(c_lo, mt * nr), end = std::min(c_hi, (mt + 1) * nr);
    const int64_t m0 = grp * pk.mg + start;  // first output channel of the lanes
    const int lanes = static_cast<int>(end - start);
    g.b = pk.w8.data() + ((grp * pk.m_tiles + mt) * k4 * nr + (start - mt * nr)) * 4;
    g.lanes = lanes;
    g.ldc = to_pixels ? pk.out_channels : (lanes + 15) / 16 * 16;
    g.bias = bias + m0;
    g.mult = per_channel ? pk.mult.data() + m0 : pk.mult.data();
    g.shift = per_channel ? pk.shift.data() + m0 : pk.shift.data();
    // Spread the prefetch of the next weight tile (in this block) over this
    // one's row tiles.
    const int64_t tile_bytes = k4 * nr * 4;
    const int64_t pf_chunk = (tile_bytes + static_cast<int64_t>(tiles.size()) - 1) / static_cast<int64_t>(tiles.size());
    // (mt + 1) * nr < c_hi <= mg: tile mt + 1 exists in this group.
    const int8_t* next =
        offsets && (mt + 1) * nr < c_hi ? pk.w8.data() + (grp * pk.m_tiles + mt + 1) * tile_bytes : nullptr;
    int64_t ti = 0;
    const int8_t* b0 = static_cast<const int8_t*>(g.b);
    int64_t bias_lo = 0, bias_hi = c.geo.kh;  // the kernel rows tile_bias is for
    for (const RowTile& rt : tiles) {
      g.a = rt.a;
      g.rows = rt.n;
      if (skip_cols) {
        const int64_t ox0 = rt.pos % c.geo.ow, ox1 = ox0 + rt.n - 1;
        g.edge = (ox0 * c.geo.sw - c.geo.pl < 0 ? 1 : 0) |
                 (ox1 * c.geo.sw - c.geo.pl + (c.geo.kw - 1) * c.geo.dw >= c.geo.iw ? 2 : 0);
        tls_edge_tiles += g.edge != 0 && (rt.n == 7 || rt.n == 8);
      }
      if (skip_rows) {
        // Kernel rows [ky_lo, ky_hi) read input rows inside the map.
        int64_t ky_lo, ky_hi;
        ValidLanes(rt.pos / c.geo.ow * c.geo.sh - c.geo.pt, c.geo.dh, c.geo.ih, c.geo.kh, ky_lo, ky_hi);
        tls_rows_skipped += c.geo.kh - (ky_hi - ky_lo);
        g.k4 = (ky_hi - ky_lo) * row_steps;
        g.a_off = offsets + ky_lo * row_steps;
        g.b = b0 + ky_lo * row_steps * nr * 4;
        const bool skipped = ky_hi - ky_lo < c.geo.kh;
        if (pad != 0) {
          tls_rows_skipped_nonzero_pad += c.geo.kh - (ky_hi - ky_lo);
          if (skipped && (ky_lo != bias_lo || ky_hi != bias_hi)) {
            for (int j = 0; j < lanes; ++j) {
              uint32_t sum = 0;
              for (int64_t ky = 0; ky < c.geo.kh; ++ky)
                if (ky < ky_lo || ky >= ky_hi) sum += static_cast<uint32_t>(pk.row_sums[(m0 + j) * c.geo.kh + ky]);
              tile_bias[j] = static_cast<int32_t>(static_cast<uint32_t>(bias[m0 + j]) + pad * sum);
            }
            bias_lo = ky_lo, bias_hi = ky_hi;
          }
          g.bias = skipped ? tile_bias : bias + m0;
        }
      }
      g.pf = next ? next + std::clamp<int64_t>(ti++ * pf_chunk, 0, std::max<int64_t>(0, tile_bytes - 64)) : nullptr;
      if (to_pixels) g.c = yn + rt.pos * pk.out_channels + m0;
      fn(g);
      if (!to_pixels)
        c.store_transposed(reinterpret_cast<const uint8_t*>(tile), g.ldc, rt.n, lanes,
                           reinterpret_cast<uint8_t*>(yn + m0 * pl.out_sz + rt.pos), pl.out_sz);
    }
  }
}

}  // namespace

bool ConvQ8FastSupports(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, bool x_signed) {
  const WindowGeometry& g = p.geo;
  const size_t r = g.in.size();
  if (r < 1 || r > 2 || g.out.size() != r || g.kernel.size() != r || g.stride.size() != r ||
      g.dilation.size() != r || g.pad_begin.size() != r)
    return false;
  if (p.group <= 0 || p.in_channels <= 0 || p.out_channels <= 0 || p.in_channels % p.group != 0 ||
      p.out_channels % p.group != 0 || p.batch < 0)
    return false;
  for (int32_t z : p.w_zero_point)
    if (z != 0) return false;
  const int32_t zx = p.x_zero_point;
  if (x_signed ? (zx < -128 || zx > 127) : (zx < 0 || zx > 255)) return false;
  if (!q8::MultipliersOk(p.multiplier, p.out_channels) || std::abs(p.y_zero_point) > (1 << 16)) return false;
  const int64_t x_max = x_signed ? MaxAbsOffset<int8_t>(zx) : MaxAbsOffset<uint8_t>(zx);
  const int64_t k = p.in_channels / p.group * g.kernel_size();
  for (int64_t m = 0; m < p.out_channels; ++m) {
    int64_t sum = 0;
    for (int64_t l = 0; l < k; ++l) sum += std::abs(int{w[m * k + l]});
    if (x_max * sum + (bias ? std::llabs(bias[m]) : 0) > std::numeric_limits<int32_t>::max()) return false;
  }
  return true;
}

ConvQ8Packed PackConvQ8(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, Isa isa) {
  NIBBLE_CHECK(p.group > 0 && p.in_channels % p.group == 0 && p.out_channels % p.group == 0,
               "PackConvQ8: channels do not split into ", p.group, " groups");
  NIBBLE_CHECK(q8::MultipliersOk(p.multiplier, p.out_channels), "PackConvQ8: ", p.multiplier.size(),
               " multipliers for ", p.out_channels, " output channels");
  if (static_cast<int>(isa) > static_cast<int>(BestIsa())) isa = BestIsa();
  const q8::KernelTable& kt = q8::KernelsFor(isa);
  ConvQ8Packed pk;
  pk.isa = kt.isa;
  pk.mr = kt.mr;
  pk.nr = kt.nr;
  pk.wide = kt.wide;
  pk.in_channels = p.in_channels;
  pk.out_channels = p.out_channels;
  pk.group = p.group;
  pk.cg = p.in_channels / p.group;
  pk.mg = p.out_channels / p.group;
  pk.kernel = p.geo.kernel;
  pk.taps = p.geo.kernel_size();
  pk.k = pk.cg * pk.taps;
  pk.quads_n = (pk.cg + 3) / 4;
  const int64_t kh = pk.kernel.size() == 2 ? pk.kernel[0] : 1, kw = pk.kernel.empty() ? 1 : pk.kernel.back();
  // Three channels: the kernel rows' (kx, c) runs back to back (a 7x7
  // kernel's 147 bytes in 37 steps). One channel: a kernel row of kw <= 4
  // taps is one 4-byte step (plain order mixes kernel rows within a step) and
  // a position's bytes are a sliding window of its input row: no gather per
  // tap, same depth.
  const int64_t row_steps = (kw * pk.cg + 3) / 4;
  pk.row_bytes = pk.cg == 3 ? kw * pk.cg : 4 * row_steps;
  const int64_t pixel_k4 = (kh * pk.row_bytes + 3) / 4;
  pk.pixel_rows = !p.geo.dilation.empty() && p.geo.dilation.back() == 1 &&
                  (pk.cg == 3 ? pixel_k4 < pk.quads_n * pk.taps : pk.cg == 1 && pixel_k4 <= (pk.k + 3) / 4);
  pk.quads = pk.cg >= 3 && !pk.pixel_rows;
  pk.k4 = pk.quads ? pk.quads_n * pk.taps : pk.pixel_rows ? pixel_k4 : (pk.k + 3) / 4;
  // AMX: channel-quad convs with whole 64-byte tile rows (kAmxMinChannels)
  // and enough work per output or per staged input (kAmxMinDepth,
  // kAmxMinShallowOutputs) run as tile products (conv_q8_amx.h). The rest
  // stay on the zmm kernels, which measured faster there (interleaved network
  // runs): a tile product costs the same however little depth it holds, and
  // the epilogue (tiles through memory, per-channel requantization, the
  // transposed store: about a cycle per output) dominates where an output
  // has few multiply-accumulates. Tried and dropped: 3-channel convs as
  // whole-patch cells (ResNet-18 conv1, depth 147 in 192: 0.56 -> 0.75 ms;
  // MobileNetV2's 3x3 conv0 0.12 -> 0.19; as row cells, kernel rows
  // interleaved so 3 blocks hold conv1's depth: ResNet-18 7% slower), shallow
  // 1x1s with few outputs (MobileNetV2 144->24@56 1.34x).
  const bool amx_stride = p.geo.stride.empty() || p.geo.stride.back() <= 2;  // AmxCellsFromRow's steps
  if (isa == Isa::kAmx && pk.quads && amx_stride && pk.cg >= kAmxMinChannels &&
      (pk.k >= kAmxMinDepth || pk.mg >= kAmxMinShallowOutputs)) {
    pk.isa = Isa::kAmx;
    pk.mr = q8::kAmxChannels;
    pk.nr = q8::kAmxCells;
  }
  const bool amx = pk.isa == Isa::kAmx;
  if (amx) {
    pk.amx_cblocks = (pk.cg + q8::kAmxBlockBytes - 1) / q8::kAmxBlockBytes;
    pk.amx_blocks = pk.taps * pk.amx_cblocks;
  }
  const bool geo_known = p.geo.out.size() == p.geo.kernel.size() && !p.geo.out.empty();
  const int64_t out_sz = geo_known ? p.geo.spatial_size_out() : 0;
  const bool unit_stride = std::all_of(p.geo.stride.begin(), p.geo.stride.end(), [](int64_t s) { return s == 1; });
  const bool shallow_1x1 =
      pk.taps == 1 && unit_stride && pk.k < kLanesChannelsMin1x1Depth && out_sz > kLanesChannelsAlways;
  pk.lanes_channels = pk.quads && !kt.wide && !amx && out_sz > 0 && pk.k >= kLanesChannelsMinDepth &&
                      ((out_sz <= kLanesChannelsMaxPositions && !shallow_1x1) || ((pk.taps > 1 || !unit_stride) && pk.cg >= 8));
  const int unit = pk.lanes_channels ? kt.nr : pk.mr;
  pk.m_tiles = (pk.mg + unit - 1) / unit;
  const int64_t k = pk.k, taps = pk.taps, cg = pk.cg;
  for (int64_t grp = 0; grp < p.group; ++grp) {
    const int8_t* wg = w + grp * pk.mg * k;
    // quads: packed depth l = ((ky * quads_n + quad) * kw + kx) * 4 + t holds channel 4 quad + t of tap (ky, kx).
    auto quad_value = [&](int64_t m, int64_t l) -> int8_t {
      const int64_t s = l / 4, kx = s % kw, quad = (s / kw) % pk.quads_n, ky = s / (kw * pk.quads_n);
      const int64_t c = quad * 4 + l % 4, tap = ky * kw + kx;
      return c < cg ? wg[m * k + c * taps + tap] : int8_t{0};
    };
    // pixel rows: packed depth l = ky * row_bytes + b holds byte b = kx * cg + c of kernel row ky.
    auto pixel_value = [&](int64_t m, int64_t l) -> int8_t {
      const int64_t ky = l / pk.row_bytes, b = l % pk.row_bytes;
      return ky < kh && b < kw * cg ? wg[m * k + (b % cg) * taps + ky * kw + b / cg] : int8_t{0};
    };
    auto plain_value = [&](int64_t m, int64_t l) { return wg[m * k + l]; };
    auto pack = [&](auto&& value) {
      if (kt.wide) {
        const std::vector<int16_t> part = q8::PackUnits<int16_t>(pk.mg, pk.k4 * 4, unit, value);
        pk.w16.insert(pk.w16.end(), part.begin(), part.end());
      } else {
        const std::vector<int8_t> part = q8::PackUnits<int8_t>(pk.mg, pk.k4 * 4, unit, value);
        pk.w8.insert(pk.w8.end(), part.begin(), part.end());
      }
    };
    if (amx) {
      // [m_tiles][blocks][2][16][16][4] per group: block (tap, cb), half h,
      // row i, column j, byte t holds channel 64 cb + AmxCellChannel(4 i + t)
      // of output channel 32 mt + 16 h + j at the tap, zero past either count.
      const int64_t tile_bytes = q8::AmxTileBytes(pk.amx_blocks), block_bytes = q8::AmxTileBytes(1);
      const int64_t base = static_cast<int64_t>(pk.w8.size());
      pk.w8.resize(static_cast<size_t>(base + pk.m_tiles * tile_bytes), 0);
      for (int64_t m = 0; m < pk.mg; ++m) {
        const int64_t mt = m / q8::kAmxChannels, h = m % q8::kAmxChannels / 16, j = m % 16;
        for (int64_t tap = 0; tap < taps; ++tap)
          for (int64_t ch = 0; ch < cg; ++ch) {
            const int64_t blk = tap * pk.amx_cblocks + ch / q8::kAmxBlockBytes;
            const int64_t d = q8::AmxCellByte(static_cast<int>(ch % q8::kAmxBlockBytes));
            pk.w8[base + mt * tile_bytes + blk * block_bytes + h * block_bytes / 2 + d / 4 * 64 + j * 4 + d % 4] =
                wg[m * k + ch * taps + tap];
          }
      }
    } else if (pk.quads) {
      pack(quad_value);
    } else if (pk.pixel_rows) {
      pack(pixel_value);
    } else {
      pack([&](int64_t m, int64_t l) { return l < k ? plain_value(m, l) : int8_t{0}; });
    }
  }
  pk.x_zero_point = p.x_zero_point;
  pk.bias_u8.resize(p.out_channels);
  pk.bias_s8.resize(p.out_channels);
  if (pk.lanes_channels && kh > 1) pk.row_sums.assign(static_cast<size_t>(p.out_channels * kh), 0);
  for (int64_t m = 0; m < p.out_channels; ++m) {
    int64_t sum = 0;
    for (int64_t l = 0; l < k; ++l) {
      sum += w[m * k + l];
      if (!pk.row_sums.empty()) {
        int32_t& row = pk.row_sums[m * kh + (l / kw) % kh];  // l = (c kh + ky) kw + kx
        row = static_cast<int32_t>(static_cast<uint32_t>(row) + static_cast<uint32_t>(w[m * k + l]));
      }
    }
    const int32_t bm = bias ? bias[m] : 0;
    pk.bias_u8[m] = q8::FoldZeroPoint(bm, p.x_zero_point, sum);
    pk.bias_s8[m] = q8::FoldZeroPoint(bm, int64_t{p.x_zero_point} + 128, sum);
  }
  for (const FixedPointMultiplier& m : p.multiplier) {
    pk.mult.push_back(m.multiplier);
    pk.shift.push_back(m.shift);
  }
  // |acc + bias| <= x_max * sum |w| + |bias| (the exact sum, which the fold
  // reproduces), so |MBQM| <= that * mult / 2^shift + 1.
  const int32_t zx = p.x_zero_point;
  const int64_t x_max_u8 = zx >= 0 && zx <= 255 ? MaxAbsOffset<uint8_t>(zx) : -1;
  const int64_t x_max_s8 = zx >= -128 && zx <= 127 ? MaxAbsOffset<int8_t>(zx) : -1;
  pk.narrow_u8 = x_max_u8 >= 0;
  pk.narrow_s8 = x_max_s8 >= 0;
  for (int64_t m = 0; m < p.out_channels; ++m) {
    int64_t sum = 0;
    for (int64_t l = 0; l < k; ++l) sum += std::abs(int{w[m * k + l]});
    const int64_t b = bias ? std::llabs(bias[m]) : 0;
    const size_t mi = p.multiplier.size() > 1 ? static_cast<size_t>(m) : 0;
    const int64_t mult = p.multiplier[mi].multiplier;
    const int shift = p.multiplier[mi].shift;
    auto fits = [&](int64_t x_max) {
      const int64_t bound = x_max * sum + b;
      if (bound >= (int64_t{1} << 31)) return false;  // mult < 2^31: the product stays below 2^62
      return ((bound * mult) >> shift) < (int64_t{1} << 30) - 2;
    };
    if (pk.narrow_u8 && !fits(x_max_u8)) pk.narrow_u8 = false;
    if (pk.narrow_s8 && !fits(x_max_s8)) pk.narrow_s8 = false;
  }
  pk.y_zero_point = p.y_zero_point;
  pk.y_min = p.y_min;
  pk.y_max = p.y_max;
  return pk;
}

bool ConvQ8RowRuns(int64_t pos0, int64_t np, int64_t ow, int mr, std::vector<std::pair<int64_t, int>>& runs) {
  runs.clear();
  const int full = (3 * mr + 3) / 4;  // tiles this tall cost about what full ones do per position
  int smallest = mr;
  for (int64_t p = pos0, end = pos0 + np; p < end;) {
    const int64_t len = std::min(end, (p / ow + 1) * ow) - p, pieces = (len + mr - 1) / mr;
    for (int64_t i = 0; i < pieces; ++i) {
      const int n = static_cast<int>(len / pieces + (i < len % pieces ? 1 : 0));
      runs.emplace_back(p, n);
      smallest = std::min(smallest, n);
      p += n;
    }
  }
  return smallest >= full || static_cast<int64_t>(runs.size()) <= (np + mr - 1) / mr;
}

int64_t ConvQ8TapBufferReuses() { return tls_tap_reuses; }

uint64_t ConvQ8FastNewRun() { return g_runs.fetch_add(1, std::memory_order_relaxed) + 1; }
int64_t ConvQ8KernelRowsSkipped() { return tls_rows_skipped; }
int64_t ConvQ8KernelRowsSkippedNonzeroPad() { return tls_rows_skipped_nonzero_pad; }
int64_t ConvQ8EdgeTiles() { return tls_edge_tiles; }
int64_t ConvQ8PixelsReadInPlace() { return tls_pixels_in_place; }

int64_t ConvQ8FastTaskCount(const ConvQ8Packed& pk, const ConvQ8Params& p) {
  const ConvPlan pl = MakePlan(pk, p);
  if (pl.out_sz == 0 || p.batch == 0) return 0;
  return p.batch * pk.group * pl.m_blocks * pl.pos_blocks;
}

int64_t ConvQ8FastBlockPositions(const ConvQ8Packed& pk, const ConvQ8Params& p) { return MakePlan(pk, p).positions; }

bool ConvQ8FastChannelsLast(const ConvQ8Packed& pk) {
  return pk.group == 1 && (pk.isa == Isa::kAmx || pk.lanes_channels);
}

template <class TX, class TY>
void ConvQ8FastRun(const ConvQ8Packed& pk, const ConvQ8Params& p, const TX* x, TY* y, int64_t task_lo,
                   int64_t task_hi, uint64_t run, ConvQ8Layout layout) {
  NIBBLE_CHECK(p.in_channels == pk.in_channels && p.out_channels == pk.out_channels && p.group == pk.group &&
                   p.geo.kernel == pk.kernel,
               "ConvQ8FastRun: params do not match the packed weights");
  NIBBLE_CHECK(!(layout.x_channels_last || layout.y_channels_last) || ConvQ8FastChannelsLast(pk),
               "ConvQ8FastRun: channels-last activations need one group and the AMX tile kernels or the "
               "lanes-are-channels mode");
  const q8::KernelTable& kt = q8::KernelsFor(pk.isa);
  const bool amx = pk.isa == Isa::kAmx;
  NIBBLE_CHECK(amx ? IsaSupported(Isa::kAmx) && pk.mr == q8::kAmxChannels && pk.nr == q8::kAmxCells
                   : kt.mr == pk.mr && kt.nr == pk.nr && kt.wide == pk.wide,
               "ConvQ8FastRun: weights packed for another ISA");
  const q8::MicroFn fn = std::is_same_v<TY, uint8_t> ? kt.conv_u8 : kt.conv_s8;
  const q8::MicroFn fc_fn = std::is_same_v<TY, uint8_t> ? kt.fc_u8 : kt.fc_s8;
  int32_t lo = pk.y_min, hi = pk.y_max;
  IntersectWithTypeRange<TY>(lo, hi);
  constexpr bool kSigned = std::is_same_v<TX, int8_t>;
  const uint8_t flip = kSigned ? 0x80 : 0;
  const uint8_t zp_code = static_cast<uint8_t>(pk.x_zero_point);  // the raw code; flipped with the data
  const int32_t* bias = kSigned ? pk.bias_s8.data() : pk.bias_u8.data();
  const bool per_channel = pk.mult.size() > 1;
  const ConvPlan pl = MakePlan(pk, p);
  const Geo2 geo = ToGeo2(p.geo);
  const int mr = pk.mr, nr = pk.nr;
  const int64_t k = pk.k, k4 = pk.k4, elem = pk.wide ? 2 : 1;
  const int64_t a_tile = k4 * mr * 4;  // elements per packed weight tile

  const int64_t P = pl.positions;
  thread_local std::vector<uint8_t> panel, rows;
  thread_local std::vector<TapCols> cols;
  TaskCtx ctx;
  NIBBLE_CHECK(!pk.pixel_rows || geo.dw == 1, "ConvQ8FastRun: weights packed for dilation width 1");
  if (pk.quads || pk.pixel_rows) {
    ctx.pk = &pk;
    ctx.pl = &pl;
    ctx.geo = geo;
    ctx.direct = geo.kh == 1 && geo.kw == 1 && geo.sh == 1 && geo.sw == 1 && geo.pt == 0 && geo.pl == 0 &&
                 geo.oh == geo.ih && geo.ow == geo.iw;
    ctx.zp_code = zp_code;
    ctx.flip = flip;
    const bool zmm = pk.isa >= Isa::kAvx512Vnni;
    ctx.tap_row = zmm ? q8::TapRowAvx512 : q8::TapRowPortable;
    ctx.tap_staged = zmm ? q8::TapStagedAvx512 : nullptr;
    const bool ymm = !zmm && pk.isa >= Isa::kAvx2;
    ctx.pixel_panel = zmm ? q8::PixelPanelAvx512 : ymm ? q8::PixelPanelAvx2 : q8::PixelPanelPortable;
    ctx.pixel_row3 = zmm ? q8::PixelRow3Avx512 : ymm ? q8::PixelRow3Avx2 : q8::PixelRow3Portable;
    ctx.panel_copy = zmm ? q8::PanelCopyAvx512 : q8::PanelCopyPortable;
    ctx.store_transposed = zmm ? q8::StoreTransposedAvx512 : q8::StoreTransposedPortable;
    ctx.stage_pixel_row = zmm ? q8::PixelRowAvx512 : q8::PixelRowPortable;
  } else {
    if (panel.size() < static_cast<size_t>(P * k4 * 4)) panel.resize(P * k4 * 4);
    if (rows.size() < static_cast<size_t>(P * 4)) rows.resize(P * 4);
    cols.resize(geo.kw);
    for (int64_t kx = 0; kx < geo.kw; ++kx) cols[kx] = ColsOfTap(geo, kx);
  }

  // Channel blocks vary fastest: consecutive tasks of one thread share their
  // position block, so BuildTaps gathers it once for all of them (also across
  // the calls of one run: tasks of a ParallelForTasks that one thread ran).
  ctx.call = run != 0 ? run : ConvQ8FastNewRun();
  ctx.layout = layout;
  for (int64_t t = task_lo; t < task_hi; ++t) {
    int64_t rest = t;
    const int64_t mb = rest % pl.m_blocks;
    rest /= pl.m_blocks;
    const int64_t pb = rest % pl.pos_blocks;
    rest /= pl.pos_blocks;
    const int64_t grp = rest % pk.group, n = rest / pk.group;
    // Channels-last: one group, so an image's pixels start where its planes would.
    const uint8_t* xg = reinterpret_cast<const uint8_t*>(x + (n * pk.in_channels + grp * pk.cg) * pl.in_sz);
    const int64_t pos0 = pb * P, np = std::min(P, pl.out_sz - pos0);
    const int64_t subs = (np + nr - 1) / nr;

    if (amx) {
      RunAmx(ctx, xg, pos0, np, mb, grp, bias, per_channel, lo, hi, kSigned ? pk.narrow_s8 : pk.narrow_u8,
             y + n * pk.out_channels * pl.out_sz);
      continue;
    }
    if (pk.lanes_channels) {
      RunLanesChannels(ctx, xg, pos0, np, mb, grp, bias, per_channel, lo, hi, kSigned ? pk.narrow_s8 : pk.narrow_u8,
                       fc_fn, y + n * pk.out_channels * pl.out_sz);
      continue;
    }

    // The panel: `subs` sub-panels [k4][nr][4] of nr positions each
    // (sub-panel sp at pan + sp * sub_stride, steps b_stride bytes apart).
    const uint8_t* pan = nullptr;
    int64_t sub_stride = k4 * nr * 4, b_stride = nr * 4;
    if (pk.quads) {
      pan = PackQuadsPanel(ctx, xg, pos0, np, sub_stride, b_stride);
    } else if (pk.pixel_rows) {
      pan = PackPixelRowsPanel(ctx, xg, pos0, np);
    } else {
      // Depth index kk = (c * kh + ky) * kw + kx, walked with counters.
      pan = panel.data();
      GatherPlainPanel(xg, geo, pl.in_sz, cols.data(), pos0, np, P, k, k4, nr, zp_code, flip, rows.data(), panel.data());
    }


    q8::MicroArgs g;
    g.a_stride = mr * 4 * elem;
    g.b_stride = b_stride;
    g.k4 = k4;
    g.per_lane = false;
    g.zp = pk.y_zero_point;
    g.lo = lo;
    g.hi = hi;
    g.ldc = pl.out_sz;
    g.mult_stride = per_channel ? 1 : 0;
    g.narrow = kSigned ? pk.narrow_s8 : pk.narrow_u8;
    const int64_t mt_end = std::min(pk.m_tiles, (mb + 1) * pl.tiles_per_block);
    for (int64_t mt = mb * pl.tiles_per_block; mt < mt_end; ++mt) {
      const int64_t m0 = grp * pk.mg + mt * mr;  // first output channel of the tile
      const int64_t wt = (grp * pk.m_tiles + mt) * a_tile;
      g.a = pk.wide ? static_cast<const void*>(pk.w16.data() + wt) : static_cast<const void*>(pk.w8.data() + wt);
      g.rows = static_cast<int>(std::min<int64_t>(mr, pk.mg - mt * mr));
      g.bias = bias + m0;
      g.mult = per_channel ? pk.mult.data() + m0 : pk.mult.data();
      g.shift = per_channel ? pk.shift.data() + m0 : pk.shift.data();
      for (int64_t sp = 0; sp < subs; ++sp) {
        g.b = pan + sp * sub_stride;
        g.lanes = static_cast<int>(std::min<int64_t>(nr, np - sp * nr));
        g.c = y + (n * pk.out_channels + m0) * pl.out_sz + pos0 + sp * nr;
        fn(g);
      }
    }
  }
}

template void ConvQ8FastRun<uint8_t, uint8_t>(const ConvQ8Packed&, const ConvQ8Params&, const uint8_t*, uint8_t*,
                                              int64_t, int64_t, uint64_t, ConvQ8Layout);
template void ConvQ8FastRun<uint8_t, int8_t>(const ConvQ8Packed&, const ConvQ8Params&, const uint8_t*, int8_t*,
                                              int64_t, int64_t, uint64_t, ConvQ8Layout);
template void ConvQ8FastRun<int8_t, uint8_t>(const ConvQ8Packed&, const ConvQ8Params&, const int8_t*, uint8_t*,
                                              int64_t, int64_t, uint64_t, ConvQ8Layout);
template void ConvQ8FastRun<int8_t, int8_t>(const ConvQ8Packed&, const ConvQ8Params&, const int8_t*, int8_t*,
                                              int64_t, int64_t, uint64_t, ConvQ8Layout);

}  // namespace nibble
