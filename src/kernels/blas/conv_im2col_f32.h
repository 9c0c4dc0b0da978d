// Fast float convolution: im2col (skipped for 1x1/stride 1/no pad) into a
// column buffer, then one BLAS GEMM per image and group, then bias and the
// fused activation. Matches ConvF32Reference to float rounding.
#pragma once
#include <vector>

#include "base/thread_pool.h"
#include "kernels/reference/conv_f32.h"

namespace nibble {

// `scratch` is reused across calls to avoid reallocating the column buffer.
void ConvF32Im2col(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                   std::vector<float>& scratch, ThreadPool& pool);

}  // namespace nibble
