// AMX-INT8 tile kernel for the convolution driver's lanes-are-positions mode
// (conv_q8_fast.cc), internal to src/kernels/x86.
//
// One call computes, for each of its passes, output channels [0, rows) x 32 lanes of
//
//   acc[r][j] = sum over blocks b, steps i < kb, t < 4 of A[b][r][4 i + t] * B_b[i][j][t]
//
// with tdpbsud (signed weights x unsigned activations, int32 accumulators
// that wrap like vpdpbusd's), then requantizes like the vpdpbusd kernels and
// stores the lanes named by `segs` (runs of one output row each). A, the
// weights of one tile of kAmxRows output channels, is [blocks][kAmxRows][4 kb]
// bytes. Block b of the activations is kb rows of 32 lanes x 4 bytes, rows
// b_stride apart, at b + pass cell + b_off[b]: the driver's tap buffer read
// in place (rows are channel quads of one kernel tap, lanes its cells).
// Lanes outside the segments, and rows past the channels (the zero-weight
// padding of a tap's last block), are read but not used: the driver leaves
// them readable.
#pragma once
#include <cstdint>

namespace nibble::q8 {

// Output channels per weight tile (two 16-row tiles); lanes per pass.
constexpr int kAmxRows = 32;
constexpr int kAmxLanes = 32;

// Lanes [lo, lo + n) of the pass go to output elements [out, out + n) of each row.
struct AmxSeg {
  int lo = 0, n = 0;
  int64_t out = 0;
};

// One pass: lane 0 of B at b + cell; segs [first, first + count) of the call's.
struct AmxPass {
  int64_t cell = 0;
  int first = 0, count = 0;
};

struct AmxConvArgs {
  const int8_t* a = nullptr;
  int64_t kb = 0, blocks = 0;  // depth steps per block (1..16), blocks
  const uint8_t* b = nullptr;
  const int64_t* b_off = nullptr;  // per block
  int64_t b_stride = 0;
  int rows = 0;  // valid output channels, <= kAmxRows
  const AmxPass* passes = nullptr;  // every pass runs over the same weight tile
  int npasses = 0;
  const AmxSeg* segs = nullptr;
  // Epilogue, per row: y = clamp(MultiplyByQuantizedMultiplier(acc + bias) + zp, lo, hi).
  const int32_t* bias = nullptr;
  const int32_t* mult = nullptr;
  const int32_t* shift = nullptr;
  int mult_stride = 1;
  int32_t zp = 0, lo = 0, hi = 0;
  bool narrow = false;  // MicroArgs::narrow
  void* c = nullptr;  // row r at c + r * ldc elements (uint8_t or int8_t)
  int64_t ldc = 0;
};

void ConvAmxU8(const AmxConvArgs& g);
void ConvAmxS8(const AmxConvArgs& g);

// The 64-byte operand of ldtilecfg (palette 1): bytes per row and rows of
// each of the eight tiles.
struct alignas(64) AmxTileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Bytes of one packed weight tile.
inline int64_t AmxTileBytes(int64_t kb, int64_t blocks) { return blocks * kb * 4 * kAmxRows; }

}  // namespace nibble::q8
