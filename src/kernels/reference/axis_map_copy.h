// The one loop behind Transpose, Slice, Pad, Tile and Expand: every output
// element is read from the input at an offset that is a sum of per-axis
// offsets, so each of those ops only has to say, per output axis, where each
// coordinate comes from.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nibble {

// out has rank maps.size() and shape {maps[0].size(), maps[1].size(), ...}.
// out[i0,...,ik] = in[maps[0][i0] + ... + maps[k][ik]] (offsets in elements),
// or *fill when any of those offsets is negative (fill may then not be null).
// Rank 0 copies one element. Elements are elem_size bytes (1, 2, 4 or 8 are
// fast; other sizes go through memcpy).
void CopyByAxisMaps(const void* in, void* out, const std::vector<std::vector<int64_t>>& maps, size_t elem_size,
                    const void* fill = nullptr);

// Row-major element strides of a shape.
std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape);

}  // namespace nibble
