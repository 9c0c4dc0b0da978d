// Softmax, LogSoftmax and Hardmax along one axis of a tensor viewed as
// [outer, n, inner] (the axis has n elements, consecutive ones `inner` apart).
// Sums run in double; exp is taken of x - max so large inputs do not overflow.
#pragma once
#include <cstdint>

namespace nibble {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

// Processes the lines [line_lo, line_hi) of the outer * inner lines along the
// axis; line l is outer index l / inner, inner index l % inner. Hardmax puts
// 1 at the first maximum of each line and 0 elsewhere.
template <class T>
void SoftmaxReference(SoftmaxKind kind, const T* x, T* y, int64_t outer, int64_t n, int64_t inner, int64_t line_lo,
                      int64_t line_hi);

}  // namespace nibble
