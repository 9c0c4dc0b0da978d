// Internal helpers of the conv driver (conv_q8_fast.cc): building the
// channel-interleaved tap buffer of a task and copying panel segments out of
// it. A portable version (conv_q8_fast.cc, SSE2 at most) and an AVX-512 one
// (conv_q8_pack_avx512vnni.cc, masked loads: no byte outside the source rows
// is touched) compute the same bytes; for the pixel-rows helpers also an AVX2
// one (conv_q8_pack_avx2.cc). Not for use outside src/kernels/x86.
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

// A whole tap buffer at once, for maps whose rows are short (per-row
// interleaving would leave most of each 64-lane step empty): every row of
// every channel is first staged plainly (stage + t * (lanes + 64) for channel
// t of a quad, row segment i at lane segs[i].lane), then each quad's four
// staged channels are interleaved in 64-lane steps. Writes, for every quad q
// and segment i, the bytes TapRowArgs{rows of channels 4q..4q+3 at
// segs[i].row, valid = iw (0 past `channels` or for row < 0), start =
// segs[i].start, step, n} would write at out + q * quad_stride + 4 *
// segs[i].lane; lanes of a quad outside every segment get unspecified bytes.
struct TapSeg {
  int64_t row;    // offset of the input row in its plane (iy * iw), or -1 (outside the map: fill)
  int64_t start;  // first column read (may be negative: padding)
  int64_t lane;   // where the segment's lanes start in its quad
};

struct TapStagedArgs {
  const uint8_t* x;                // channel c's plane at x + c * plane
  int64_t plane, channels, quads;  // channels past `channels` read fill
  int64_t iw;                      // valid bytes per input row
  const TapSeg* segs;
  int nsegs;  // in increasing lane order
  int64_t step, n;  // step 1 with n <= 64, or step 2 with n <= 32
  int64_t lanes, quad_stride;  // lanes per quad (every segment ends by then); bytes between quads
  uint8_t fill, flip;
  uint8_t* stage;  // 4 * (lanes + 64) bytes of scratch
  uint8_t* out;    // quads * quad_stride bytes, plus 63 of slack
};

// Pixel-rows panel (ConvQ8Packed::pixel_rows) of one run of positions over
// all kernel rows: depth byte l = 4 q + t of lane i is byte b = l - ky *
// row_bytes of kernel row ky = min(l / row_bytes, rows - 1), read at
//   src + ky * row_stride + i * pitch + b,
// and goes to dst + q * dst_stride + 4 i + t, for q < steps, t < 4, i < lanes.
// A step may straddle two kernel rows when row_bytes is not a multiple of 4;
// bytes of the last step past rows * row_bytes read on in the last row (their
// weights are 0). Each row must be readable from 4 bytes before src + ky *
// row_stride to 128 bytes past its last lane's byte 0; nothing past the lanes
// is written.
struct PixelPanelArgs {
  const uint8_t* src;
  int64_t pitch, row_stride, rows, row_bytes, steps;
  int lanes;
  uint8_t* dst;
  int64_t dst_stride;
};
void PixelPanelPortable(const PixelPanelArgs& a);
void PixelPanelAvx512(const PixelPanelArgs& a);  // 15 pitch + row_bytes <= 118; else the portable one
void PixelPanelAvx2(const PixelPanelArgs& a);    // dword gathers (conv_q8_pack_avx2.cc)

// Three channels' rows as 3-byte pixels (pixel-rows order, 3 channels):
// out[3 j + t] = v ^ flip for j < n and t < 3, v as TapRowArgs defines it at
// step 1 (row[3] and valid[3] are not read). Up to 191 bytes past out + 3 n
// may be written.
void PixelRow3Portable(const TapRowArgs& a);
void PixelRow3Avx512(const TapRowArgs& a);
void PixelRow3Avx2(const TapRowArgs& a);  // byte shuffles (conv_q8_pack_avx2.cc)

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

// Channels-last input (ConvQ8Layout::x_channels_last): one input row as
// `cols` pixels of cq bytes (cq >= channels, a multiple of 4): for c < cols
// and t < cq,
//   out[c * cq + t] = v ^ flip, where v = x[(c - pl) * channels + t] if
//   0 <= c - pl < iw and t < channels, and fill otherwise (padding, a row
//   outside the map when x is null, channels past the last).
// Only pixels [0, iw) of x are read, and only out[0, cols * cq) is written.
struct PixelRowArgs {
  const uint8_t* x;  // pixel 0 of the input row, or null
  int64_t iw, channels, cq, pl, cols;
  uint8_t fill, flip;
  uint8_t* out;
};
void PixelRowPortable(const PixelRowArgs& a);
void PixelRowAvx512(const PixelRowArgs& a);

void TapRowPortable(const TapRowArgs& a);
void PanelCopyPortable(const PanelCopyArgs& a);
void TapRowAvx512(const TapRowArgs& a);
void TapStagedAvx512(const TapStagedArgs& a);
void PanelCopyAvx512(const PanelCopyArgs& a);

}  // namespace nibble::q8
