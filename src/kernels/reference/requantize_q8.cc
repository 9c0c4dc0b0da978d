#include "kernels/reference/requantize_q8.h"

#include <cmath>

#include "nibble/error.h"

namespace nibble {

RequantizeQ8Params MakeRequantizeQ8Params(double x_scale, int32_t x_zero_point, double y_scale, int32_t y_zero_point,
                                          int32_t y_min, int32_t y_max) {
  for (double s : {x_scale, y_scale})
    NIBBLE_CHECK(std::isfinite(s) && s > 0, "RequantizeQ8: scale ", s, " is not a finite positive number");
  RequantizeQ8Params p;
  p.multiplier = QuantizeMultiplier(x_scale / y_scale);
  p.x_zero_point = x_zero_point;
  p.y_zero_point = y_zero_point;
  p.y_min = y_min;
  p.y_max = y_max;
  return p;
}

template <class TX, class TY>
void RequantizeQ8Reference(const RequantizeQ8Params& p, const TX* x, TY* y, int64_t n) {
  NIBBLE_CHECK(p.x_zero_point >= std::numeric_limits<TX>::min() && p.x_zero_point <= std::numeric_limits<TX>::max(),
               "RequantizeQ8: input zero point ", p.x_zero_point, " is outside the input type");
  int32_t lo = p.y_min, hi = p.y_max;
  IntersectWithTypeRange<TY>(lo, hi);
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<TY>(Requantize(int32_t{x[i]} - p.x_zero_point, p.multiplier, p.y_zero_point, lo, hi));
}

template void RequantizeQ8Reference<uint8_t, uint8_t>(const RequantizeQ8Params&, const uint8_t*, uint8_t*, int64_t);
template void RequantizeQ8Reference<uint8_t, int8_t>(const RequantizeQ8Params&, const uint8_t*, int8_t*, int64_t);
template void RequantizeQ8Reference<int8_t, uint8_t>(const RequantizeQ8Params&, const int8_t*, uint8_t*, int64_t);
template void RequantizeQ8Reference<int8_t, int8_t>(const RequantizeQ8Params&, const int8_t*, int8_t*, int64_t);

}  // namespace nibble
