// Transpose: out axis k is input axis perm[k].
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nibble {

// perm must be a permutation of 0..rank-1 (the caller checks).
void TransposeElements(const void* in, void* out, const std::vector<int64_t>& in_shape,
                       const std::vector<int64_t>& perm, size_t elem_size);

}  // namespace nibble
