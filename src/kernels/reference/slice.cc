#include "kernels/reference/slice.h"

#include <algorithm>

#include "kernels/reference/axis_map_copy.h"

namespace nibble {

SliceAxis ClampSliceAxis(int64_t start, int64_t end, int64_t step, int64_t dim) {
  SliceAxis a;
  a.step = step;
  if (dim <= 0 || step == 0) return a;
  if (start < 0) start += dim;  // cannot overflow: dim >= 0
  if (end < 0) end += dim;
  uint64_t range, magnitude;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    range = end > start ? static_cast<uint64_t>(end - start) : 0;
    magnitude = static_cast<uint64_t>(step);
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    range = start > end ? static_cast<uint64_t>(start - end) : 0;
    magnitude = 0 - static_cast<uint64_t>(step);  // |INT64_MIN| fits in uint64
  }
  // range <= 2^63 and magnitude <= 2^63, so the sum fits in uint64.
  a.count = static_cast<int64_t>((range + magnitude - 1) / magnitude);
  a.start = start;
  return a;
}

void SliceElements(const void* in, void* out, const std::vector<int64_t>& in_shape, const std::vector<SliceAxis>& axes,
                   size_t elem_size) {
  const std::vector<int64_t> stride = ContiguousStrides(in_shape);
  std::vector<std::vector<int64_t>> maps(axes.size());
  for (size_t d = 0; d < axes.size(); ++d) {
    maps[d].resize(axes[d].count);
    for (int64_t i = 0; i < axes[d].count; ++i) maps[d][i] = (axes[d].start + i * axes[d].step) * stride[d];
  }
  CopyByAxisMaps(in, out, maps, elem_size);
}

}  // namespace nibble
