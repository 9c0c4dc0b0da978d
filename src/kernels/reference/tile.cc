#include "kernels/reference/tile.h"

#include "kernels/reference/axis_map_copy.h"

namespace nibble {

void TileElements(const void* in, void* out, const std::vector<int64_t>& in_shape,
                  const std::vector<int64_t>& repeats, size_t elem_size) {
  const std::vector<int64_t> stride = ContiguousStrides(in_shape);
  std::vector<std::vector<int64_t>> maps(in_shape.size());
  for (size_t d = 0; d < in_shape.size(); ++d) {
    maps[d].resize(in_shape[d] * repeats[d]);
    for (int64_t o = 0; o < static_cast<int64_t>(maps[d].size()); ++o) maps[d][o] = (o % in_shape[d]) * stride[d];
  }
  CopyByAxisMaps(in, out, maps, elem_size);
}

void ExpandElements(const void* in, void* out, const std::vector<int64_t>& in_shape,
                    const std::vector<int64_t>& out_shape, size_t elem_size) {
  const std::vector<int64_t> stride = ContiguousStrides(in_shape);
  const size_t lead = out_shape.size() - in_shape.size();
  std::vector<std::vector<int64_t>> maps(out_shape.size());
  for (size_t d = 0; d < out_shape.size(); ++d) {
    maps[d].assign(out_shape[d], 0);
    if (d < lead || in_shape[d - lead] == 1) continue;
    for (int64_t o = 0; o < out_shape[d]; ++o) maps[d][o] = o * stride[d - lead];
  }
  CopyByAxisMaps(in, out, maps, elem_size);
}

}  // namespace nibble
