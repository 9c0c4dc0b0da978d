#include "kernels/reference/gather.h"

#include <cstring>

namespace nibble {

void GatherAlongAxis(const void* data, void* out, int64_t outer, int64_t axis_dim, int64_t inner,
                     const int64_t* indices, int64_t num_indices, size_t elem_size) {
  const size_t row = static_cast<size_t>(inner) * elem_size;
  if (row == 0) return;
  const uint8_t* src = static_cast<const uint8_t*>(data);
  uint8_t* dst = static_cast<uint8_t*>(out);
  for (int64_t o = 0; o < outer; ++o) {
    const uint8_t* block = src + static_cast<size_t>(o * axis_dim) * row;
    for (int64_t j = 0; j < num_indices; ++j, dst += row) std::memcpy(dst, block + static_cast<size_t>(indices[j]) * row, row);
  }
}

}  // namespace nibble
