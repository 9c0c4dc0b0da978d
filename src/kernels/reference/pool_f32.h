// Pooling over 1 to 3 spatial dims, NCHW: max (with optional argmax indices),
// average and Lp, plus the global variants. Float32 first; the templates are
// also instantiated for double, int8 and uint8 (MaxPool takes 8-bit ints).
//
// PoolReference is the ground truth: a loop over every kernel tap with a bounds
// check. PoolClipped computes the same numbers (same taps, same order) but
// clips each window to the input once per output row instead of per tap.
#pragma once
#include <cstdint>

#include "kernels/reference/window_geometry.h"

namespace nibble {

enum class PoolKind { kMax, kAverage, kLp };

struct PoolParams {
  int64_t planes = 0;  // batch * channels; each plane is one image of geo.in
  WindowGeometry geo;  // filled by ComputeWindow
  PoolKind kind = PoolKind::kMax;
  // Average: divide by the whole kernel size (padding counts as zeros), as
  // ONNX's reference does, including the overhang that ceil_mode adds.
  // Otherwise divide by the number of taps inside the input.
  bool count_include_pad = false;
  double p = 2;                    // Lp: (sum |x|^p)^(1/p) over taps inside the input
  bool col_major_indices = false;  // MaxPool storage_order = 1
};

// Processes planes [plane_lo, plane_hi). x: [planes, *geo.in], y: [planes, *geo.out].
// `indices` (max only, may be null) receives for each output the flat index of
// the chosen input element in the whole tensor: plane * spatial + offset, the
// offset row-major (or column-major over the spatial dims if col_major_indices).
// A window with no tap inside the input yields the type's lowest value and
// index -1 (max) or 0 (average, Lp).
template <class T>
void PoolReference(const PoolParams& p, const T* x, T* y, int64_t* indices, int64_t plane_lo, int64_t plane_hi);

template <class T>
void PoolClipped(const PoolParams& p, const T* x, T* y, int64_t* indices, int64_t plane_lo, int64_t plane_hi);

// GlobalAveragePool / GlobalMaxPool: one value per plane of `spatial` elements.
template <class T>
void GlobalPool(PoolKind kind, int64_t spatial, const T* x, T* y, int64_t plane_lo, int64_t plane_hi);

}  // namespace nibble
