// Output size and padding of a sliding window (Conv, pooling) along each
// spatial axis, for ONNX's explicit pads and auto_pad modes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nibble {

struct WindowGeometry {
  std::vector<int64_t> in, out, kernel, stride, dilation, pad_begin, pad_end;
  int64_t spatial_size_in() const;
  int64_t spatial_size_out() const;
  int64_t kernel_size() const;
  // Planes (channel maps) per thread-pool task so that a task holds about
  // 16K window taps: enough work to outweigh handing it out.
  int64_t planes_per_task() const;
};

// Splits a flat index over `dims` (row-major) into per-axis indices.
void UnravelIndex(int64_t flat, const std::vector<int64_t>& dims, int64_t* idx);

// The flat input offset that kernel tap `k_idx` of output position `o_idx`
// reads, or -1 when the tap falls in the padding.
int64_t TapOffset(const WindowGeometry& g, const int64_t* o_idx, const int64_t* k_idx);

// Fills out/pad_* from in/kernel/stride/dilation; `pads` is ONNX's
// [b1..bn, e1..en] (may be empty). Fails with a reason on bad geometry.
void ComputeWindow(WindowGeometry& g, const std::vector<int64_t>& pads, const std::string& auto_pad, bool ceil_mode);

}  // namespace nibble
