#include "kernels/reference/window_geometry.h"

#include <algorithm>

#include "nibble/error.h"

namespace nibble {

int64_t WindowGeometry::spatial_size_in() const {
  int64_t n = 1;
  for (int64_t d : in) n *= d;
  return n;
}
int64_t WindowGeometry::spatial_size_out() const {
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  return n;
}
int64_t WindowGeometry::kernel_size() const {
  int64_t n = 1;
  for (int64_t d : kernel) n *= d;
  return n;
}

int64_t WindowGeometry::planes_per_task() const {
  const int64_t taps = spatial_size_out() * kernel_size();
  return taps <= 0 ? 1 : std::max<int64_t>(1, (int64_t{1} << 14) / taps);
}

void UnravelIndex(int64_t flat, const std::vector<int64_t>& dims, int64_t* idx) {
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    idx[d] = flat % dims[d];
    flat /= dims[d];
  }
}

int64_t TapOffset(const WindowGeometry& g, const int64_t* o_idx, const int64_t* k_idx) {
  int64_t off = 0;
  for (size_t d = 0; d < g.in.size(); ++d) {
    const int64_t pos = o_idx[d] * g.stride[d] - g.pad_begin[d] + k_idx[d] * g.dilation[d];
    if (pos < 0 || pos >= g.in[d]) return -1;
    off = off * g.in[d] + pos;
  }
  return off;
}

void ComputeWindow(WindowGeometry& g, const std::vector<int64_t>& pads, const std::string& auto_pad, bool ceil_mode) {
  const size_t r = g.in.size();
  NIBBLE_CHECK(g.kernel.size() == r, "kernel has ", g.kernel.size(), " dims for ", r, " spatial dims");
  if (g.stride.empty()) g.stride.assign(r, 1);
  if (g.dilation.empty()) g.dilation.assign(r, 1);
  NIBBLE_CHECK(g.stride.size() == r && g.dilation.size() == r, "strides/dilations must have ", r, " values");
  g.out.assign(r, 0);
  g.pad_begin.assign(r, 0);
  g.pad_end.assign(r, 0);
  for (size_t i = 0; i < r; ++i) {
    NIBBLE_CHECK(g.stride[i] > 0 && g.dilation[i] > 0 && g.kernel[i] > 0, "kernel, strides and dilations must be positive");
    const int64_t eff = (g.kernel[i] - 1) * g.dilation[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[i] = (g.in[i] + g.stride[i] - 1) / g.stride[i];
      int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * g.stride[i] + eff - g.in[i]);
      int64_t small = total / 2;
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[i] = total - g.pad_begin[i];
      continue;
    }
    if (auto_pad == "VALID") {
      NIBBLE_CHECK(g.in[i] >= eff, "the window (", eff, ") is larger than the input (", g.in[i], ")");
      g.out[i] = (g.in[i] - eff) / g.stride[i] + 1;
      continue;
    }
    NIBBLE_CHECK(auto_pad == "NOTSET" || auto_pad.empty(), "unknown auto_pad '", auto_pad, "'");
    if (!pads.empty()) {
      NIBBLE_CHECK(pads.size() == 2 * r, "pads must have ", 2 * r, " values, got ", pads.size());
      g.pad_begin[i] = pads[i];
      g.pad_end[i] = pads[i + r];
      NIBBLE_CHECK(g.pad_begin[i] >= 0 && g.pad_end[i] >= 0, "pads must be non-negative");
    }
    int64_t span = g.in[i] + g.pad_begin[i] + g.pad_end[i] - eff;
    NIBBLE_CHECK(span >= 0, "the window (", eff, ") is larger than the padded input (", span + eff, ")");
    if (ceil_mode) {
      g.out[i] = (span + g.stride[i] - 1) / g.stride[i] + 1;
      // The last window must start inside the input or the left padding.
      if ((g.out[i] - 1) * g.stride[i] >= g.in[i] + g.pad_begin[i]) --g.out[i];
    } else {
      g.out[i] = span / g.stride[i] + 1;
    }
  }
}

}  // namespace nibble
