// Normalization by statistics computed from the data itself:
// LayerNormalization (each row of `cols` elements) and InstanceNormalization
// (each [n, c] plane). Mean and population variance are computed in double,
// in two passes; inv_std = 1 / sqrt(var + eps).
#pragma once
#include <cstdint>

namespace nibble {

// y = (x - mean) * inv_std * scale + bias, with scale and bias (bias may be
// null) already expanded to `cols` elements. Rows [row_lo, row_hi). mean and
// inv_std (may be null) receive one value per row, in type U.
template <class T, class U>
void LayerNormReference(const T* x, T* y, int64_t cols, const T* scale, const T* bias, double eps, U* mean,
                        U* inv_std, int64_t row_lo, int64_t row_hi);

// x: [N, C, spatial...]; plane p = n * C + c uses scale[c], bias[c].
// Planes [plane_lo, plane_hi).
template <class T>
void InstanceNormReference(const T* x, T* y, int64_t channels, int64_t spatial, const T* scale, const T* bias,
                           double eps, int64_t plane_lo, int64_t plane_hi);

}  // namespace nibble
