// AMX-INT8 tile kernel for the convolution driver's AMX mode (conv_q8_fast.cc),
// internal to src/kernels/x86.
//
// The activations are the A operand, the weights B. The driver stages the
// task's input as cells: one per input position of one row and column phase
// (the tap buffer's lanes, conv_q8_fast.cc), `cell` bytes each holding the
// position's channels (a multiple of 64, the channels past the group's
// zero, in AmxCellChannel order). A tile row is then 64 channels of one
// cell, 64-byte aligned, and the 16 output positions of a tile are 16
// consecutive cells for every kernel tap: rows `cell` bytes apart. One call computes, for each of its passes (32 cells),
//
//   acc[p][m] = sum over blocks b, k < 64 of X[pass cell + p][x_off[b] + k] * W_b[k / 4][m][k % 4]
//
// for output channels m < channels (<= 32), with tdpbusd (unsigned
// activations x signed weights, int32 accumulators that wrap like
// vpdpbusd's), requantizes per channel like the vpdpbusd kernels and stores
// the cells named by `segs` (runs of one output row each) transposed into
// the NCHW output. Cells between the segments are computed and dropped; the
// driver leaves every cell a pass reads readable.
#pragma once
#include <cstdint>

namespace nibble::q8 {

// Output channels per weight tile (two 16-column tiles); cells per pass (two
// 16-row tiles); bytes of depth per block (a tile row).
constexpr int kAmxChannels = 32;
constexpr int kAmxCells = 32;
constexpr int kAmxBlockBytes = 64;

// Cells [lo, lo + n) of the pass go to output elements [out, out + n) of each channel.
struct AmxSeg {
  int lo = 0, n = 0;
  int64_t out = 0;
};

// One pass: its first cell; segs [first, first + count) of the call's.
struct AmxPass {
  int64_t cell = 0;
  int first = 0, count = 0;
};

struct AmxConvArgs {
  const uint8_t* x = nullptr;      // cell 0
  int64_t cell = 0;                // bytes per cell
  const int64_t* x_off = nullptr;  // per block: bytes from a cell to the block's tile row
  int64_t blocks = 0;
  const int8_t* w = nullptr;  // [blocks][2][16][16][4]: B tiles of channels 0-15 and 16-31
  int channels = 0;           // valid output channels, <= kAmxChannels
  const AmxPass* passes = nullptr;
  int npasses = 0;
  const AmxSeg* segs = nullptr;
  // Epilogue, per channel m: y = clamp(MultiplyByQuantizedMultiplier(acc + bias[m]) + zp, lo, hi).
  const int32_t* bias = nullptr;
  const int32_t* mult = nullptr;
  const int32_t* shift = nullptr;
  int mult_stride = 1;  // 0: one multiplier for every channel
  int32_t zp = 0, lo = 0, hi = 0;
  bool narrow = false;  // MicroArgs::narrow
  void* c = nullptr;    // channel m's outputs at c + m * ldc elements (uint8_t or int8_t)
  int64_t ldc = 0;
  // Channels-last output instead: output element e's channel m at c + e * ldc + m
  // (the cells' codes stored as they are, no transpose).
  bool channels_last = false;
  // Each pass's epilogue runs interleaved with the next pass's products (the
  // tile unit multiplies while the vector ports requantize); false: right
  // after its own products.
  bool interleave_epilogue = false;
};

void ConvAmxU8(const AmxConvArgs& g);
void ConvAmxS8(const AmxConvArgs& g);

// One run of cells of one input row, for channel block [0, channels) of up
// to 64 channels (planes `plane` bytes apart from x): cell j of out (`cell`
// bytes apart) gets the 64 bytes of input column start + j * step (step 1 or
// 2), codes ^ flip, fill ^ flip outside [0, iw) or when row < 0 (the row's
// offset in its plane otherwise), zero for channels >= `channels`. The
// channels of a cell are in the order AmxCellChannel gives; writes 64 bytes
// per cell, for j < n.
void AmxCellsFromRow(const uint8_t* x, int64_t plane, int channels, int64_t row, int64_t start, int step, int64_t iw,
                     int64_t n, uint8_t fill, uint8_t flip, uint8_t* out, int64_t cell);

// The same cells from channels-last input: pixel q's channels at x + q *
// pixel_stride (contiguous). Cell j of out (`cell` bytes apart, cell = 64
// ceil(channels / 64)) gets input column start + j * step of the row whose
// first pixel is `row` (or fill ^ flip outside [0, iw), and everywhere when
// row < 0), each block of 64 channels in AmxCellChannel order, codes ^ flip;
// bytes of channels >= `channels` are not read (their weights are zero).
void AmxCellsFromPixels(const uint8_t* x, int64_t pixel_stride, int channels, int64_t row, int64_t start, int step,
                        int64_t iw, int64_t n, uint8_t fill, uint8_t flip, uint8_t* out, int64_t cell);

// The channel (of its block of 64) at byte d of a cell block: the staging's
// transpose leaves channel 4 b + l at byte 16 l + b.
constexpr int AmxCellChannel(int d) { return 4 * (d % 16) + d / 16; }
constexpr int AmxCellByte(int c) { return 16 * (c % 4) + c / 4; }

// The 64-byte operand of ldtilecfg (palette 1): bytes per row and rows of
// each of the eight tiles.
struct alignas(64) AmxTileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Bytes of one channel tile's packed weights.
constexpr int64_t AmxTileBytes(int64_t blocks) { return blocks * kAmxBlockBytes * kAmxChannels; }

}  // namespace nibble::q8
