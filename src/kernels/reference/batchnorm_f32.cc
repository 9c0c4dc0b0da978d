#include "kernels/reference/batchnorm_f32.h"

#include <cmath>

namespace nibble {

template <class T>
void BatchNormReference(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial, const double* scale,
                        const double* bias, const double* mean, const double* var, double eps) {
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < spatial; ++i) {
        const int64_t k = (n * channels + c) * spatial + i;
        y[k] = static_cast<T>(scale[c] * (static_cast<double>(x[k]) - mean[c]) / std::sqrt(var[c] + eps) + bias[c]);
      }
}

void BatchNormCoefficients(int64_t channels, const double* scale, const double* bias, const double* mean,
                           const double* var, double eps, double* a, double* b) {
  for (int64_t c = 0; c < channels; ++c) {
    a[c] = scale[c] / std::sqrt(var[c] + eps);
    b[c] = bias[c] - mean[c] * a[c];
  }
}

template <class T>
void BatchNormAffine(const T* x, T* y, int64_t channels, int64_t spatial, const T* a, const T* b, int64_t plane_lo,
                     int64_t plane_hi) {
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T ac = a[plane % channels], bc = b[plane % channels];
    const T* xp = x + plane * spatial;
    T* yp = y + plane * spatial;
    for (int64_t i = 0; i < spatial; ++i) yp[i] = xp[i] * ac + bc;
  }
}

template void BatchNormReference<float>(const float*, float*, int64_t, int64_t, int64_t, const double*, const double*,
                                        const double*, const double*, double);
template void BatchNormReference<double>(const double*, double*, int64_t, int64_t, int64_t, const double*,
                                         const double*, const double*, const double*, double);
template void BatchNormAffine<float>(const float*, float*, int64_t, int64_t, const float*, const float*, int64_t,
                                     int64_t);
template void BatchNormAffine<double>(const double*, double*, int64_t, int64_t, const double*, const double*, int64_t,
                                      int64_t);

}  // namespace nibble
