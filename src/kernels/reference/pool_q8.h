// Quantized pooling over 1 to 3 spatial dims, NCHW, on 8-bit codes.
//
// MaxPool: input and output share scale and zero point, and dequantization is
// monotone, so the maximum of the codes is the code of the maximum; no
// arithmetic. (Delegates to PoolReference, the float kernel's ground truth.)
//
// AveragePool / GlobalAveragePool: with count = the divisor of the float op
// (taps inside the input, or the whole kernel when count_include_pad, as in
// pool_f32.h), the real result is x_scale * sum(q - x_zero_point) / count, so
//   y = clamp(MBQM(sum(q) - x_zero_point * count, x_scale / (y_scale * count)) + y_zero_point, y_min, y_max)
// with one FixedPointMultiplier per distinct count (AvgPoolQ8Multipliers). The
// sum is exact in int32 (fails if kernel size * 255 could overflow it), so the
// only error is the final rounding, which sends ties to even (as the QDQ graph
// does; MultiplyByQuantizedMultiplierHalfEven in requantize.h):
//   |y - clamp(t + y_zero_point, y_min, y_max)| <= 1/2 + 2^-31 |t|,  t = x_scale * sum(q - zx) / (y_scale * count).
// A window with no tap inside the input and count_include_pad off gives
// y_zero_point (real zero, like the float kernel).
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/reference/requantize.h"
#include "kernels/reference/window_geometry.h"

namespace nibble {

// x: [planes, *geo.in], y: [planes, *geo.out]; computes planes [plane_lo, plane_hi).
// A window with no tap inside the input gives T's lowest code.
template <class T>
void MaxPoolQ8Reference(int64_t planes, const WindowGeometry& geo, const T* x, T* y, int64_t plane_lo,
                        int64_t plane_hi);

struct AvgPoolQ8Params {
  int64_t planes = 0;  // batch * channels
  WindowGeometry geo;  // filled by ComputeWindow
  bool count_include_pad = false;
  int32_t x_zero_point = 0, y_zero_point = 0;
  int32_t y_min = std::numeric_limits<int32_t>::min(), y_max = std::numeric_limits<int32_t>::max();
  // multiplier[c] for the divisor c = 1 .. geo.kernel_size(); multiplier[0] is unused.
  std::vector<FixedPointMultiplier> multiplier;
};

// [0, QuantizeMultiplier(x_scale / (y_scale * c)) for c = 1 .. max_count].
std::vector<FixedPointMultiplier> AvgPoolQ8Multipliers(double x_scale, double y_scale, int64_t max_count);

template <class T>
void AvgPoolQ8Reference(const AvgPoolQ8Params& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi);

struct GlobalAvgPoolQ8Params {
  int64_t spatial = 0;  // elements per plane
  int32_t x_zero_point = 0, y_zero_point = 0;
  int32_t y_min = std::numeric_limits<int32_t>::min(), y_max = std::numeric_limits<int32_t>::max();
  FixedPointMultiplier multiplier;  // QuantizeMultiplier(x_scale / (y_scale * spatial))
};

// x: [planes, spatial], y: [planes].
template <class T>
void GlobalAvgPoolQ8Reference(const GlobalAvgPoolQ8Params& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi);

// The checks GlobalAvgPoolQ8Reference makes on p (nibble::Error when they fail),
// for a vectorized twin that only replaces the sums.
template <class T>
void GlobalAvgPoolQ8Check(const GlobalAvgPoolQ8Params& p);

// Its last step: y[i] for i in [0, n) from sums[i], the sum of the codes of a
// plane (the zero point not taken off).
template <class T>
void GlobalAvgPoolQ8FromSums(const GlobalAvgPoolQ8Params& p, const int32_t* sums, T* y, int64_t n);

}  // namespace nibble
