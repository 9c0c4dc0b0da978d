// Elementwise change of quantization, (x_scale, x_zero_point) -> (y_scale,
// y_zero_point), 8-bit to 8-bit of either signedness: Concat inputs brought to
// the output's parameters, a DequantizeLinear -> QuantizeLinear pair folded.
//
//   y = clamp(MBQM(x - x_zero_point, x_scale / y_scale) + y_zero_point, y_min, y_max)
//
// |y - clamp(t + y_zero_point, y_min, y_max)| <= 1/2 + 2^-31 |t|, t = x_scale (x - x_zero_point) / y_scale;
// exact (and so identical to the float pair) when x_scale / y_scale is a power
// of two, e.g. equal scales (a pure zero point shift such as uint8 -> int8).
// Otherwise ties round toward +infinity where the float pair rounds half to even.
#pragma once
#include <cstdint>
#include <limits>

#include "kernels/reference/requantize.h"

namespace nibble {

struct RequantizeQ8Params {
  FixedPointMultiplier multiplier;
  int32_t x_zero_point = 0, y_zero_point = 0;
  int32_t y_min = std::numeric_limits<int32_t>::min(), y_max = std::numeric_limits<int32_t>::max();
};

// Fails when a scale is not finite and positive or x_scale / y_scale >= 2^30.
RequantizeQ8Params MakeRequantizeQ8Params(double x_scale, int32_t x_zero_point, double y_scale, int32_t y_zero_point,
                                          int32_t y_min = std::numeric_limits<int32_t>::min(),
                                          int32_t y_max = std::numeric_limits<int32_t>::max());

// TX, TY: uint8_t or int8_t; the clamp is narrowed to TY's range.
template <class TX, class TY>
void RequantizeQ8Reference(const RequantizeQ8Params& p, const TX* x, TY* y, int64_t n);

}  // namespace nibble
