#include "kernels/reference/layernorm_f32.h"

#include <cmath>

namespace nibble {
namespace {

template <class T>
void Moments(const T* x, int64_t n, double eps, double& mean, double& inv_std) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  mean = n ? sum / static_cast<double>(n) : 0.0;
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    sq += d * d;
  }
  const double var = n ? sq / static_cast<double>(n) : 0.0;
  inv_std = 1.0 / std::sqrt(var + eps);
}

}  // namespace

template <class T, class U>
void LayerNormReference(const T* x, T* y, int64_t cols, const T* scale, const T* bias, double eps, U* mean,
                        U* inv_std, int64_t row_lo, int64_t row_hi) {
  for (int64_t r = row_lo; r < row_hi; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    double m, s;
    Moments(xr, cols, eps, m, s);
    for (int64_t i = 0; i < cols; ++i) {
      const double v = (static_cast<double>(xr[i]) - m) * s * static_cast<double>(scale[i]);
      yr[i] = static_cast<T>(bias ? v + static_cast<double>(bias[i]) : v);
    }
    if (mean) mean[r] = static_cast<U>(m);
    if (inv_std) inv_std[r] = static_cast<U>(s);
  }
}

template <class T>
void InstanceNormReference(const T* x, T* y, int64_t channels, int64_t spatial, const T* scale, const T* bias,
                           double eps, int64_t plane_lo, int64_t plane_hi) {
  for (int64_t p = plane_lo; p < plane_hi; ++p) {
    const T* xp = x + p * spatial;
    T* yp = y + p * spatial;
    double m, s;
    Moments(xp, spatial, eps, m, s);
    const double a = s * static_cast<double>(scale[p % channels]), b = static_cast<double>(bias[p % channels]);
    for (int64_t i = 0; i < spatial; ++i) yp[i] = static_cast<T>((static_cast<double>(xp[i]) - m) * a + b);
  }
}

template void LayerNormReference<float, float>(const float*, float*, int64_t, const float*, const float*, double,
                                               float*, float*, int64_t, int64_t);
template void LayerNormReference<float, double>(const float*, float*, int64_t, const float*, const float*, double,
                                                double*, double*, int64_t, int64_t);
template void LayerNormReference<double, float>(const double*, double*, int64_t, const double*, const double*, double,
                                                float*, float*, int64_t, int64_t);
template void LayerNormReference<double, double>(const double*, double*, int64_t, const double*, const double*,
                                                 double, double*, double*, int64_t, int64_t);
template void InstanceNormReference<float>(const float*, float*, int64_t, int64_t, const float*, const float*, double,
                                           int64_t, int64_t);
template void InstanceNormReference<double>(const double*, double*, int64_t, int64_t, const double*, const double*,
                                            double, int64_t, int64_t);

}  // namespace nibble
