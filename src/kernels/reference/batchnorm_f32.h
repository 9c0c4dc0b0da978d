// BatchNormalization in inference mode, per channel c of x: [N, C, spatial...]:
//   y = scale[c] * (x - mean[c]) / sqrt(var[c] + eps) + bias[c].
// The parameters are passed as double so that float and double parameter
// tensors (ONNX allows them to differ from x's type) share one kernel.
#pragma once
#include <cstdint>

namespace nibble {

// Ground truth: the formula as written, in double, element by element.
template <class T>
void BatchNormReference(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial, const double* scale,
                        const double* bias, const double* mean, const double* var, double eps);

// The same as an affine map y = x * a[c] + b[c]; a and b come from
// BatchNormCoefficients. Processes planes [plane_lo, plane_hi) of N*C planes.
void BatchNormCoefficients(int64_t channels, const double* scale, const double* bias, const double* mean,
                           const double* var, double eps, double* a, double* b);
template <class T>
void BatchNormAffine(const T* x, T* y, int64_t channels, int64_t spatial, const T* a, const T* b, int64_t plane_lo,
                     int64_t plane_hi);

}  // namespace nibble
