#include "kernels/reference/requantize.h"

#include <cmath>

#include "nibble/error.h"

namespace nibble {

FixedPointMultiplier QuantizeMultiplier(double real) {
  NIBBLE_CHECK(real >= 0 && real < 0x1p30, "requantization multiplier ", real,
               " is outside [0, 2^30) (a scale ratio that is negative, NaN or too large)");
  if (real < 0x1p-40) return {0, 31};
  int exponent = 0;
  const double fraction = std::frexp(real, &exponent);  // real = fraction * 2^exponent, fraction in [0.5, 1)
  int64_t multiplier = std::llround(fraction * 0x1p31);  // exact scaling, then round half up: [2^30, 2^31]
  int32_t shift = 31 - exponent;
  if (multiplier == (int64_t{1} << 31)) {
    multiplier >>= 1;
    --shift;
  }
  if (shift > 62) {  // real < 2^-32: keep the shift in range and give up multiplier bits
    multiplier = std::llround(std::ldexp(real, 62));
    shift = 62;
  }
  if (shift < 1) {  // real rounded up to 2^30: the closest value with shift 1
    multiplier = std::numeric_limits<int32_t>::max();
    shift = 1;
  }
  return {static_cast<int32_t>(multiplier), shift};
}

double FixedPointMultiplierValue(FixedPointMultiplier m) { return std::ldexp(static_cast<double>(m.multiplier), -m.shift); }

void IntersectWithTypeRangeFailed(int32_t lo, int32_t hi) {
  Fail("clamp bounds [", lo, ", ", hi, "] leave no value of the output type");
}

template <class T>
void QuantizeLinear(const float* x, T* y, int64_t outer, int64_t channels, int64_t inner, const float* scale,
                    const T* zero_point) {
  for (int64_t c = 0; c < channels; ++c)
    NIBBLE_CHECK(std::isfinite(scale[c]) && scale[c] > 0, "QuantizeLinear: scale ", scale[c],
                 " is not a finite positive number");
  constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const float s = scale[c];
      const int32_t z = zero_point ? zero_point[c] : 0;
      const int64_t base = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) y[base + i] = static_cast<T>(QuantizeValue(x[base + i], s, z, qmin, qmax));
    }
}

template <class T>
void DequantizeLinear(const T* x, float* y, int64_t outer, int64_t channels, int64_t inner, const float* scale,
                      const T* zero_point) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const float s = scale[c];
      const int32_t z = zero_point ? zero_point[c] : 0;
      const int64_t base = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) y[base + i] = DequantizeValue(x[base + i], s, z);
    }
}

template void QuantizeLinear<int8_t>(const float*, int8_t*, int64_t, int64_t, int64_t, const float*, const int8_t*);
template void QuantizeLinear<uint8_t>(const float*, uint8_t*, int64_t, int64_t, int64_t, const float*,
                                      const uint8_t*);
template void DequantizeLinear<int8_t>(const int8_t*, float*, int64_t, int64_t, int64_t, const float*,
                                       const int8_t*);
template void DequantizeLinear<uint8_t>(const uint8_t*, float*, int64_t, int64_t, int64_t, const float*,
                                        const uint8_t*);
template void DequantizeLinear<int32_t>(const int32_t*, float*, int64_t, int64_t, int64_t, const float*,
                                        const int32_t*);

ClampRange QuantizedActivationRange(const Activation& act, float scale, int32_t zero_point, int32_t qmin,
                                    int32_t qmax) {
  switch (act.kind) {
    case Activation::Kind::kNone: return {qmin, qmax};
    case Activation::Kind::kRelu: return {QuantizeValue(0.0f, scale, zero_point, qmin, qmax), qmax};
    case Activation::Kind::kClip: {
      const int32_t lo = QuantizeValue(act.lo, scale, zero_point, qmin, qmax);
      const int32_t hi = QuantizeValue(act.hi, scale, zero_point, qmin, qmax);
      return {std::min(lo, hi), hi};  // Clip with min > max yields max everywhere
    }
    default: break;
  }
  Fail("fused ", act.Name(), " is not a clamp; it needs a lookup table after the requantization");
}

}  // namespace nibble
