// Fast float convolution: the output of each image and group is cut into
// tiles (a range of output positions x a range of output channels); each
// tile is an independent job for the thread pool that builds the im2col
// columns of its positions in a per-thread buffer small enough to stay in
// cache (skipped for 1x1 / stride 1 / no pad), multiplies them with one
// single-threaded SGEMM, then adds bias and applies the fused activation
// while the tile is hot. Matches ConvF32Reference to float rounding.
#pragma once
#include <vector>

#include "base/thread_pool.h"
#include "kernels/reference/conv_f32.h"

namespace nibble {

// `scratch` holds the per-thread column buffers between calls.
void ConvF32Im2col(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                   std::vector<float>& scratch, ThreadPool& pool);

}  // namespace nibble
