// Fast 2-D max pooling (no dilation, no indices): for each output row, the
// element-wise max of the kernel's input rows, then the max over each
// window of that row. Two passes of contiguous, vectorizable loops instead
// of a gather per tap. Matches PoolClipped/PoolReference exactly (max is exact).
#pragma once
#include <cstdint>

#include "kernels/reference/pool_f32.h"

namespace nibble {

// True when MaxPool2dRows handles `p` (2 spatial dims, dilation 1, every window non-empty).
bool MaxPool2dRowsApplies(const PoolParams& p);

template <class T>
void MaxPool2dRows(const PoolParams& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi);

}  // namespace nibble
