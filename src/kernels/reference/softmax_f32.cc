#include "kernels/reference/softmax_f32.h"

#include <cmath>

namespace nibble {

template <class T>
void SoftmaxReference(SoftmaxKind kind, const T* x, T* y, int64_t outer, int64_t n, int64_t inner, int64_t line_lo,
                      int64_t line_hi) {
  if (n <= 0) return;
  for (int64_t line = line_lo; line < line_hi; ++line) {
    const int64_t base = (line / inner) * n * inner + line % inner;
    const T* xl = x + base;
    T* yl = y + base;
    int64_t arg = 0;
    for (int64_t i = 1; i < n; ++i)
      if (xl[i * inner] > xl[arg * inner]) arg = i;
    if (kind == SoftmaxKind::kHardmax) {
      for (int64_t i = 0; i < n; ++i) yl[i * inner] = static_cast<T>(i == arg ? 1 : 0);
      continue;
    }
    const double max = static_cast<double>(xl[arg * inner]);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(xl[i * inner]) - max);
    if (kind == SoftmaxKind::kSoftmax) {
      const double inv = 1.0 / sum;
      for (int64_t i = 0; i < n; ++i) yl[i * inner] = static_cast<T>(std::exp(static_cast<double>(xl[i * inner]) - max) * inv);
    } else {
      const double shift = max + std::log(sum);
      for (int64_t i = 0; i < n; ++i) yl[i * inner] = static_cast<T>(static_cast<double>(xl[i * inner]) - shift);
    }
  }
}

template void SoftmaxReference<float>(SoftmaxKind, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t);
template void SoftmaxReference<double>(SoftmaxKind, const double*, double*, int64_t, int64_t, int64_t, int64_t,
                                       int64_t);

}  // namespace nibble
