// Depthwise float convolution (group == in_channels == out_channels, one
// filter per channel), 1 to 3 spatial dims, with bias and the fused
// activation. A direct loop: each kernel tap adds w * (a strided slice of an
// input row) into an output row, with the valid output range clipped once per
// tap, so the inner loop has no bounds checks. Matches ConvF32Reference to
// float rounding (it accumulates in float, tap by tap).
#pragma once
#include "kernels/reference/conv_f32.h"

namespace nibble {

// x: [N, C, *in], w: [C, 1, *kernel], bias: [C] or nullptr, y: [N, C, *out].
// Computes the planes [plane_lo, plane_hi) of the N * C output planes.
void DepthwiseConvF32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                      int64_t plane_lo, int64_t plane_hi);

}  // namespace nibble
