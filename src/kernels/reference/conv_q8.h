// Quantized convolution, N-d (1 to 3 spatial dims), NCHW, grouped, dilated: the
// scalar ground truth for every integer Conv kernel.
//
//   acc[n,m,o] = sum over c, k of (x - x_zero_point) * (w[m,c,k] - w_zero_point[m])   (int32)
//   y[n,m,o]   = Requantize(acc + bias[m], multiplier[m], y_zero_point, y_min, y_max)
//
// Taps in the padding read x = x_zero_point (real zero), so they add nothing.
// ConvQ8Int32Reference stops at acc (ONNX ConvInteger: no bias, no requantization).
// Before computing anything both fail, naming the output channel, when some
// input could make acc + bias leave int32: the bound is
// max|x - x_zero_point| * sum_k |w[m,k] - w_zero_point[m]| + |bias[m]|,
// so every partial sum of an int32 accumulation is exact too.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/reference/requantize.h"
#include "kernels/reference/window_geometry.h"

namespace nibble {

struct ConvQ8Params {
  int64_t batch = 1, in_channels = 0, out_channels = 0, group = 1;
  WindowGeometry geo;  // filled by ComputeWindow
  int32_t x_zero_point = 0;
  std::vector<int32_t> w_zero_point;  // empty (all 0), 1 (per tensor) or out_channels values
  // Requantization (ConvQ8Reference only): multiplier[m] ~ x_scale * w_scale[m] / y_scale,
  // 1 value (per tensor) or out_channels values.
  std::vector<FixedPointMultiplier> multiplier;
  int32_t y_zero_point = 0;
  // Output clamp (fused Relu/Clip, see QuantizedActivationRange), narrowed to the output type's range.
  int32_t y_min = std::numeric_limits<int32_t>::min(), y_max = std::numeric_limits<int32_t>::max();
};

// x: [N, C, *in] (TX = uint8_t or int8_t), w: [M, C/group, *kernel] (TW = int8_t or uint8_t),
// y: [N, M, *out] int32.
template <class TX, class TW>
void ConvQ8Int32Reference(const ConvQ8Params& p, const TX* x, const TW* w, int32_t* y);

// Same, bias: [M] int32 or nullptr, y requantized to TY (uint8_t or int8_t).
template <class TX, class TW, class TY>
void ConvQ8Reference(const ConvQ8Params& p, const TX* x, const TW* w, const int32_t* bias, TY* y);

}  // namespace nibble
