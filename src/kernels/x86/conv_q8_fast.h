// Fast quantized convolution (NCHW, 1 or 2 spatial dims, grouped, strided,
// dilated, padded) on the int8 GEMM micro-kernels of gemm_q8_microkernel.h,
// bit-exact with ConvQ8Reference.
//
// Per (image, group) it is a GEMM: rows = output channels (the weights,
// packed once by PackConvQ8), lanes = output positions, depth = C/group *
// kernel taps. The activation operand is packed per task straight from the
// input tensor (implicit im2col: no full im2col buffer), the requantization
// is fused into the store, and outputs land contiguously in NCHW.
//
// With 3 or more channels per group the depth runs over channel quads per
// kernel tap: a task interleaves the 4 channels of its input rows once into a
// tap buffer (AVX-512: masked loads, stride 2 split into column phases), and
// every panel row is then a run of whole 4-byte lanes of it; 1x1 stride-1
// unpadded convs use the tap buffer itself as the panel. Small output maps
// with deep K swap roles (positions as rows, channels as lanes; see
// ConvQ8Packed::lanes_channels). Exactly 3 channels (ResNet's 7x7 conv1)
// pack the kernel's rows of 3-byte pixels back to back instead, which wastes
// less depth than quads (ConvQ8Packed::pixel_rows). Below 3 channels the depth is
// the plain (c, ky, kx) order, gathered row by row.
//
// Threading: ConvQ8FastTaskCount() independent tasks; call ConvQ8FastRun over
// any partition of [0, count) from any threads (e.g. ThreadPool::ParallelForTasks).
// Tasks write disjoint output tiles; per-thread scratch is thread_local and
// only grows, so the hot path does not allocate after warm-up.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "base/huge_page_allocator.h"
#include "kernels/reference/conv_q8.h"
#include "kernels/x86/isa.h"

namespace nibble {

// Weights packed for one Isa, plus everything of ConvQ8Params that is fixed
// per node (zero points, multipliers, clamp), baked in at pack time.
struct ConvQ8Packed {
  Isa isa = Isa::kScalar;
  int mr = 0, nr = 0;  // micro-kernel tile: rows (output channels) x lanes (positions)
  bool wide = false;   // weights held as int16 (AVX2 level)
  int64_t in_channels = 0, out_channels = 0, group = 1, cg = 0, mg = 0;
  std::vector<int64_t> kernel;  // spatial kernel dims
  int64_t k = 0, k4 = 0, m_tiles = 0;  // depth per group, in steps of 4; row tiles per group
  // Depth order of the packed weights. quads: step s = (ky * quads_n + quad)
  // * kw + kx holds channels 4 quad .. 4 quad + 3 of kernel tap (ky, kx)
  // (channels past cg get zero weights; each kernel row is one run of
  // steps), so a task gathers a channel-interleaved copy of its input rows
  // once and every panel row is a run of whole 4-byte lanes out of it (the
  // 1x1 stride-1 unpadded case reads that copy as the panel itself).
  // Otherwise (cg <= 2, where quads would waste most of the depth): depth
  // index = (c * kh + ky) * kw + kx in plain steps of 4, gathered row by row.
  bool quads = false;
  int64_t taps = 0, quads_n = 0;
  // Pixel-rows order (instead of quads, for 3 channels per group, where it
  // makes the depth shorter: 7x7 196 -> 148, 3x3 36 -> 28): packed depth l =
  // ky * row_bytes + b holds byte b = kx * cg + c of kernel row ky (bytes past
  // kw * cg, and past the last row, have zero weights). With 3 channels the
  // rows run back to back (row_bytes = 3 kw), so a step may hold the end of
  // one kernel row and the start of the next. A task interleaves its input
  // rows into 3-byte pixels once; a position's bytes for one kernel row are
  // then contiguous, sw * cg bytes after its left neighbour's. Also for one
  // channel per group with kernel rows up to 4 wide (row_bytes 4, instead of
  // the plain order, same depth): the padded input row is the pixel row, and
  // a position's step is a sliding 4-byte window of it. Conv mode only, for
  // the dilation width the node was packed with (dilation_w must be 1).
  bool pixel_rows = false;
  int64_t row_bytes = 0;
  // Small output maps (up to 16x16; chosen at pack time from p.geo, runs
  // correctly for any size): the roles swap, output positions are the
  // micro-kernel's rows and output channels its lanes (fc mode: a 7x7 map
  // does not leave most of a 16-lane vector empty, and no position panel is
  // copied). Weights then pack as [group][m_tiles][k4][nr][4] with m_tiles =
  // ceil(mg / nr); tasks take whole output rows, and the rows are broadcast
  // in place from the tap buffer (MicroArgs::a_off) in runs of one output row
  // where ConvQ8RowRuns allows; the tiles are stored transposed into NCHW.
  // Quads only, not with `wide`.
  bool lanes_channels = false;
  // AMX level (isa kAmx; mr = q8::kAmxChannels, nr = q8::kAmxCells): the
  // quads convs PackConvQ8 picks run as tile products (conv_q8_amx.h) over
  // cells staged from the input rows, weights packed as
  // [group][m_tiles][amx_blocks][2][16][16][4] bytes: the depth runs kernel
  // tap, then amx_cblocks blocks of 64 channels in AmxCellChannel order (the
  // last one padded with zero weights), one B tile per block and half of the
  // channel tile.
  int64_t amx_cblocks = 0, amx_blocks = 0;
  // [group][m_tiles][k4][mr][4], zero padded; in huge pages when large (it is
  // streamed from memory once per run: ResNet-18's layer4 holds 2.4 MB).
  std::vector<int8_t, HugePageAllocator<int8_t>> w8;
  std::vector<int16_t> w16;  // same, when wide
  // bias[m] - x_zero_point' * sum(w[m]), wrapped to int32, where x_zero_point'
  // is the zero point of the input shifted to u8 (+128 for int8 inputs).
  std::vector<int32_t> bias_u8, bias_s8;
  // lanes_channels with kernel height > 1: [out_channels][kh], the sum of
  // w[m][.][ky][.] (wrapped). A row tile that skips kernel rows lying wholly in
  // the padding adds x_zero_point' times their sums back to its bias: what
  // those taps would have added, so the skip holds for any zero point.
  std::vector<int32_t> row_sums;
  std::vector<int32_t> mult, shift;  // 1 (per tensor) or out_channels values
  // By input type: every output's MultiplyByQuantizedMultiplier result is
  // bounded below 2^30 in magnitude (from the weights, bias and input range),
  // so the micro-kernels may requantize without int32 saturation.
  bool narrow_u8 = false, narrow_s8 = false;
  int32_t x_zero_point = 0, y_zero_point = 0, y_min = 0, y_max = 0;
};

// True when the fast path computes exactly what ConvQ8Reference does for these
// params, weights [M, C/group, *kernel] and bias ([M] or null): 1 or 2 spatial
// dims, weight zero points all 0, the input zero point within the input type,
// 1 or M multipliers with shift in [1, 62], |y_zero_point| <= 2^16, and the
// reference's int32 bound holds (otherwise the reference fails and names the
// channel, so callers should fall back to it). Depthwise convolutions
// (C == M == group) work but are not what this kernel is built for: route them
// to the dwconv kernels first.
bool ConvQ8FastSupports(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, bool x_signed);

// Packs for `isa` (lowered to what this CPU runs). Uses p's channels, group,
// geo.kernel, zero points, multipliers and clamp; geo.in/out/stride/pads and
// batch are read at run time, so one packing serves every input size.
ConvQ8Packed PackConvQ8(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, Isa isa);

// Lanes-are-channels mode, the row tiles of a task's output positions
// [pos0, pos0 + np) when they are read in place from its tap buffer: runs
// within one output row (width ow), each row's run split into balanced pieces
// of at most mr positions (a 7x7 map: 7 tiles of 7, where plain runs of 8
// leave a tile of 1). Fills `runs` with (first position, count) and returns
// true, or returns false when that takes more tiles than ceil(np / mr) (narrow
// maps: the task then copies its positions into plain runs of mr).
bool ConvQ8RowRuns(int64_t pos0, int64_t np, int64_t ow, int mr, std::vector<std::pair<int64_t, int>>& runs);

// Tap buffers this thread has reused so far: a task whose position block (and
// image and group) is the one the previous task of the same run (see
// ConvQ8FastNewRun) gathered on this thread takes that buffer as it is. For tests.
int64_t ConvQ8TapBufferReuses();

// Kernel rows this thread's lanes-are-channels row tiles have skipped so far
// (rows wholly in the padding), and of those, the ones whose padding byte was
// not 0 (their share of the bias added back). For tests.
int64_t ConvQ8KernelRowsSkipped();
int64_t ConvQ8KernelRowsSkippedNonzeroPad();
// Row tiles of 7 or 8 positions this thread has given the edge-column hint
// (MicroArgs::edge). For tests.
int64_t ConvQ8EdgeTiles();
// Tasks this thread has run on channels-last input read in place (no padding
// read, whole channel quads) rather than from a staged copy. For tests.
int64_t ConvQ8PixelsReadInPlace();

// Independent tasks for running p (same node as packed, any batch / input size).
int64_t ConvQ8FastTaskCount(const ConvQ8Packed& packed, const ConvQ8Params& p);
// Output positions per task (the last block of a map may hold fewer). For tests.
int64_t ConvQ8FastBlockPositions(const ConvQ8Packed& packed, const ConvQ8Params& p);

// A new run id: the ConvQ8FastRun calls that split one conv's tasks between
// them (the tasks of a ParallelForTasks) pass the same id, so a thread that runs
// two of those chunks gathers a shared position block once. Each new input
// (even at the same address) needs a new id.
uint64_t ConvQ8FastNewRun();

// Channels-last activations (NHWC: an image's positions one after another,
// each with its channels contiguous) for the input and/or the output, instead
// of NCHW. Only where ConvQ8FastChannelsLast(packed), convs of one group
// that are
// * AMX tile convs, which stage their input as cells of channels and
//   requantize cells of channels; in NHWC neither needs a transpose (an AMX
//   conv's staging and transposed store were about a quarter of ResNet-18
//   layer1's time in a profile);
// * or lanes-are-channels convs (ConvQ8Packed::lanes_channels), whose tiles
//   are positions x channels: written as pixels they need no transposed
//   store, and they read their positions' channel quads straight out of the
//   pixels (a copy of the rows where there is padding) instead of a byte
//   interleave of four planes.
struct ConvQ8Layout {
  bool x_channels_last = false, y_channels_last = false;
};
bool ConvQ8FastChannelsLast(const ConvQ8Packed& packed);

// Runs tasks [task_lo, task_hi). x: [N, C, *in] (uint8_t or int8_t), y: [N, M, *out]
// (uint8_t or int8_t), or channels-last as `layout` says; the clamp is
// narrowed to TY's range. run: an id from ConvQ8FastNewRun shared by the
// calls over one input, or 0 (a call of its own).
template <class TX, class TY>
void ConvQ8FastRun(const ConvQ8Packed& packed, const ConvQ8Params& p, const TX* x, TY* y, int64_t task_lo,
                   int64_t task_hi, uint64_t run = 0, ConvQ8Layout layout = {});

}  // namespace nibble
