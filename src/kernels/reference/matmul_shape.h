// Numpy matmul shape rules, shared by MatMul, QLinearMatMul and MatMulInteger:
// 1-D operands are promoted (a to [1, K], b to [K, 1]) and the promoted axis is
// removed from the output; leading (batch) dims broadcast.
#pragma once
#include <cstdint>

#include "nibble/tensor.h"

namespace nibble {

struct MatMulGeometry {
  Shape out, batch_a, batch_b, batch;
  int64_t m = 0, n = 0, k = 0;
};

// Fails with the two shapes when they do not multiply.
MatMulGeometry MatMulShapes(const Shape& a, const Shape& b);

}  // namespace nibble
