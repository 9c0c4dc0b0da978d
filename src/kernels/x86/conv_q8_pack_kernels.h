// Internal helpers of the conv driver (conv_q8_fast.cc): building the
// channel-interleaved tap buffer of a task and copying panel segments out of
// it. A portable version (conv_q8_fast.cc, SSE2 at most) and an AVX-512 one
// (conv_q8_pack_avx512vnni.cc, masked loads: no byte outside the source rows
// is touched) compute the same bytes. Not for use outside src/kernels/x86.
#pragma once
#include <cstdint>

namespace nibble::q8 {

// One row of the tap buffer: out[4 j + t] = v ^ flip for j < n, where
//   v = row[t][start + j * step]  if 0 <= start + j * step < valid[t],
//   v = fill                      otherwise (padding, rows above/below, channels past the group).
// Only bytes [0, valid[t]) of row[t] are read (row[t] may be anything when valid[t] == 0).
struct TapRowArgs {
  const uint8_t* row[4];
  int64_t valid[4];
  int64_t start, step, n;
  uint8_t fill, flip;
  uint8_t* out;  // n * 4 bytes written, plus up to 63 bytes of slack (may be overwritten)
};

// A run of lanes of one panel row: `bytes` bytes copied from src_base + src to dst_base + dst.
struct PanelSeg {
  int64_t src, dst, bytes;
};

// For s in [0, steps): copy every segment from t + k_off[s] to dst + s * dst_stride.
// Up to 63 bytes past each segment's end may be read (t has that slack) and
// written (later segments / steps, or the panel's slack, take them over: the
// segments are in increasing dst order and dst_stride >= the last one's end).
struct PanelCopyArgs {
  const uint8_t* t;
  const int64_t* k_off;
  int64_t steps;
  const PanelSeg* segs;
  int nsegs;
  uint8_t* dst;
  int64_t dst_stride;
};

// Lanes-are-channels store: out[j * out_stride + r] = tile[r * tile_stride + j]
// for r < rows (<= 8) and j < lanes; nothing else of out is written (the
// bytes past a short run belong to another task). tile must be readable for
// 8 rows of tile_stride bytes plus 16 (the vector version loads whole blocks).
void StoreTransposedPortable(const uint8_t* tile, int64_t tile_stride, int rows, int lanes, uint8_t* out,
                             int64_t out_stride);
void StoreTransposedAvx512(const uint8_t* tile, int64_t tile_stride, int rows, int lanes, uint8_t* out,
                           int64_t out_stride);

void TapRowPortable(const TapRowArgs& a);
void PanelCopyPortable(const PanelCopyArgs& a);
void TapRowAvx512(const TapRowArgs& a);
void PanelCopyAvx512(const PanelCopyArgs& a);

}  // namespace nibble::q8
