// Float convolution, N-d (1 to 3 spatial dims), NCHW, grouped, dilated.
// conv_f32_reference is the ground truth: a direct loop nest, slow and obvious.
#pragma once
#include "base/activation.h"
#include "kernels/reference/window_geometry.h"

namespace nibble {

struct ConvParams {
  int64_t batch = 1, in_channels = 0, out_channels = 0, group = 1;
  WindowGeometry geo;
  Activation act;
};

// x: [N, C, *in], w: [M, C/group, *kernel], bias: [M] or nullptr, y: [N, M, *out].
void ConvF32Reference(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

}  // namespace nibble
