// Fast float ConvTranspose: per image and group one BLAS GEMM
//   col[(m, k), i] = sum_c w[c, (m, k)] * x[c, i]
// then col2im scatters each column row into the output (bias first). Skips
// col2im for 1x1 kernels with stride 1 and no padding. Matches
// ConvTransposeF32Reference to float rounding.
#pragma once
#include <vector>

#include "base/thread_pool.h"
#include "kernels/reference/conv_transpose_f32.h"

namespace nibble {

// `scratch` is reused across calls to avoid reallocating the column buffer.
void ConvTransposeF32Col2im(const ConvTransposeParams& p, const float* x, const float* w, const float* bias, float* y,
                            std::vector<float>& scratch, ThreadPool& pool);

}  // namespace nibble
