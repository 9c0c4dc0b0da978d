// Gather along one axis (ONNX Gather, numpy take).
#pragma once
#include <cstddef>
#include <cstdint>

namespace nibble {

// data is viewed as [outer, axis_dim, inner] and out as [outer, num_indices,
// inner]: out[o, j, i] = data[o, indices[j], i]. Every index must already be
// in [0, axis_dim) (the caller normalizes negatives and checks bounds).
void GatherAlongAxis(const void* data, void* out, int64_t outer, int64_t axis_dim, int64_t inner,
                     const int64_t* indices, int64_t num_indices, size_t elem_size);

}  // namespace nibble
