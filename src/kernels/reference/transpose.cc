#include "kernels/reference/transpose.h"

#include "kernels/reference/axis_map_copy.h"

namespace nibble {

void TransposeElements(const void* in, void* out, const std::vector<int64_t>& in_shape,
                       const std::vector<int64_t>& perm, size_t elem_size) {
  const std::vector<int64_t> stride = ContiguousStrides(in_shape);
  std::vector<std::vector<int64_t>> maps(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) {
    const int64_t axis = perm[k];
    maps[k].resize(in_shape[axis]);
    for (int64_t i = 0; i < in_shape[axis]; ++i) maps[k][i] = i * stride[axis];
  }
  CopyByAxisMaps(in, out, maps, elem_size);
}

}  // namespace nibble
