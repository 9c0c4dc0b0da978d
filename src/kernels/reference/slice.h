// Strided slicing (ONNX Slice, numpy a[start:end:step]) with its clamping rules.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nibble {

struct SliceAxis {
  int64_t start = 0;  // first input index read (meaningful when count > 0)
  int64_t step = 1;
  int64_t count = 0;  // output extent
};

// ONNX Slice semantics for one axis of size dim: negative start/end count from
// the end, then both are clamped ([0, dim] for step > 0, [-1, dim-1] for
// step < 0) and the extent is ceil((end - start) / step), at least 0.
// step must not be 0; any int64 start/end (INT64_MIN/MAX included) is fine.
SliceAxis ClampSliceAxis(int64_t start, int64_t end, int64_t step, int64_t dim);

// out[i0..ik] = in[axes[0].start + i0*axes[0].step, ...] for every axis of the
// input (axes.size() == in_shape.size(); each axis' reads stay inside it).
void SliceElements(const void* in, void* out, const std::vector<int64_t>& in_shape, const std::vector<SliceAxis>& axes,
                   size_t elem_size);

}  // namespace nibble
