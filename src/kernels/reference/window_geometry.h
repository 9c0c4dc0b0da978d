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
};

// Fills out/pad_* from in/kernel/stride/dilation; `pads` is ONNX's
// [b1..bn, e1..en] (may be empty). Fails with a reason on bad geometry.
void ComputeWindow(WindowGeometry& g, const std::vector<int64_t>& pads, const std::string& auto_pad, bool ceil_mode);

}  // namespace nibble
