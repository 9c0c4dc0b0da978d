#include "kernels/reference/pad.h"

#include <algorithm>

#include "kernels/reference/axis_map_copy.h"

namespace nibble {

int64_t PadSourceIndex(int64_t p, int64_t n, PadMode mode) {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return p < 0 ? 0 : n - 1;
    case PadMode::kWrap: return (p % n + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t q = (p % period + period) % period;
      return q < n ? q : period - q;
    }
  }
  return -1;
}

void PadElements(const void* in, void* out, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& begin,
                 const std::vector<int64_t>& end, PadMode mode, const void* value, size_t elem_size) {
  const std::vector<int64_t> stride = ContiguousStrides(in_shape);
  std::vector<std::vector<int64_t>> maps(in_shape.size());
  for (size_t d = 0; d < in_shape.size(); ++d) {
    const int64_t crop_lo = std::max<int64_t>(0, -begin[d]);
    const int64_t crop_hi = std::max<int64_t>(0, -end[d]);
    const int64_t n = in_shape[d] - crop_lo - crop_hi;  // the cropped axis
    const int64_t pad_lo = std::max<int64_t>(0, begin[d]);
    const int64_t out_dim = in_shape[d] + begin[d] + end[d];
    maps[d].resize(std::max<int64_t>(out_dim, 0));
    for (int64_t o = 0; o < out_dim; ++o) {
      const int64_t src = n > 0 ? PadSourceIndex(o - pad_lo, n, mode) : -1;
      maps[d][o] = src < 0 ? -1 : (src + crop_lo) * stride[d];
    }
  }
  CopyByAxisMaps(in, out, maps, elem_size, value);
}

}  // namespace nibble
