// Tile and Expand: repeating an input to fill a larger shape.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nibble {

// out dim d = in_shape[d] * repeats[d]; out[i] = in[i mod in_shape] per axis.
void TileElements(const void* in, void* out, const std::vector<int64_t>& in_shape,
                  const std::vector<int64_t>& repeats, size_t elem_size);

// Numpy broadcasting of in to out_shape (in_shape right-aligned; each of its
// dims equals the output's or is 1; the caller checks).
void ExpandElements(const void* in, void* out, const std::vector<int64_t>& in_shape,
                    const std::vector<int64_t>& out_shape, size_t elem_size);

}  // namespace nibble
