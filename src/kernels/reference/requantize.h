// The integer arithmetic every quantized kernel shares, and THE rounding rule.
//
// A real value is scale * (q - zero_point). Products of codes are summed in
// int32; a real multiplier (e.g. sx*sw/sy) then brings the sum to the output
// scale. The multiplier is held in fixed point:
//
//   real ~= multiplier * 2^-shift,  multiplier in [2^30, 2^31), shift in [1, 62]
//
// (multiplier is 0 when real == 0 or real < 2^-40: then |x * real| < 2^-9 for
// every int32 x, which rounds to 0 anyway. For 2^-40 <= real < 2^-32, shift is
// capped at 62 and multiplier = round(real * 2^62) < 2^30 keeps >= 22 bits.)
// Representation error: |multiplier * 2^-shift - real| <= 2^-31 * real for
// real >= 2^-32 (23 bits of precision below that).
//
// Rounding rule (the only one; vector kernels must reproduce it bit for bit):
//
//   MultiplyByQuantizedMultiplier(x, m) = (int64(x) * m.multiplier + 2^(shift-1)) >> shift
//
// with an arithmetic shift: round to nearest, ties toward +infinity (2.5 -> 3,
// -2.5 -> -2; XNNPACK calls this "rndnu"). The int64 sum cannot overflow
// (|x * multiplier| < 2^62, plus 2^61). A result outside int32 saturates.
// Against the exact value: |result - x*real| <= 1/2 + |x*real| * 2^-31, hence
// |result - round(x*real)| <= 1 whenever |x*real| < 2^31, with equality
// (result == floor(x*real + 1/2)) when multiplier * 2^-shift == real exactly
// (e.g. real a power of two).
//
// QuantizeLinear (float -> code) follows ONNX instead: x / scale in float32,
// round half to even, + zero_point, saturate. That rounding is used only where
// a float is turned into a code (QuantizeLinear, lookup tables, clamp bounds).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "base/activation.h"

namespace nibble {

struct FixedPointMultiplier {
  int32_t multiplier = 0;
  int32_t shift = 31;
  bool operator==(const FixedPointMultiplier& o) const { return multiplier == o.multiplier && shift == o.shift; }
};

// Fails (nibble::Error) for a negative or NaN real, or real >= 2^30.
FixedPointMultiplier QuantizeMultiplier(double real);

// The value multiplier * 2^-shift represents (for tests and diagnostics).
double FixedPointMultiplierValue(FixedPointMultiplier m);

inline int32_t MultiplyByQuantizedMultiplier(int32_t x, FixedPointMultiplier m) {
  const int64_t rounded = (static_cast<int64_t>(x) * m.multiplier + (int64_t{1} << (m.shift - 1))) >> m.shift;
  return static_cast<int32_t>(std::clamp<int64_t>(rounded, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
}

// The one exception to the rule above, for averages (AveragePool,
// GlobalAveragePool): ties go to the even neighbour. Where the multiplier is
// exact (1/4 for a 2x2 window at equal scales), an average lands on .5 often
// (a quarter of all 2x2 windows), and the QDQ graph the average replaces
// rounds those half to even (QuantizeLinear); ties toward +infinity would be
// 1 LSB off on every one of them. Same saturation as above.
inline int32_t MultiplyByQuantizedMultiplierHalfEven(int32_t x, FixedPointMultiplier m) {
  const int64_t prod = static_cast<int64_t>(x) * m.multiplier;
  int64_t q = prod >> m.shift;  // floor
  const int64_t rem = prod - (q << m.shift), half = int64_t{1} << (m.shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  return static_cast<int32_t>(
      std::clamp<int64_t>(q, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
}

// clamp(MultiplyByQuantizedMultiplier(acc, m) + zero_point, qmin, qmax); the
// addition is done in int64 so it cannot wrap.
inline int32_t Requantize(int32_t acc, FixedPointMultiplier m, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const int64_t v = static_cast<int64_t>(MultiplyByQuantizedMultiplier(acc, m)) + zero_point;
  return static_cast<int32_t>(std::clamp<int64_t>(v, qmin, qmax));
}

// Largest |q - zero_point| over every code q of T: the factor that bounds an
// int32 accumulator of products (see the kernels' overflow checks).
template <class T>
constexpr int64_t MaxAbsOffset(int32_t zero_point) {
  return std::max<int64_t>(int64_t{zero_point} - std::numeric_limits<T>::min(),
                           int64_t{std::numeric_limits<T>::max()} - zero_point);
}

[[noreturn]] void IntersectWithTypeRangeFailed(int32_t lo, int32_t hi);

// Narrows clamp bounds [lo, hi] to T's range; fails when nothing is left.
template <class T>
void IntersectWithTypeRange(int32_t& lo, int32_t& hi) {
  const int32_t new_lo = std::max<int32_t>(lo, std::numeric_limits<T>::min());
  const int32_t new_hi = std::min<int32_t>(hi, std::numeric_limits<T>::max());
  if (new_lo > new_hi) IntersectWithTypeRangeFailed(lo, hi);
  lo = new_lo;
  hi = new_hi;
}

// Round half to even, independent of the floating-point environment
// (the rounding of ONNX QuantizeLinear and of _mm*_cvtps_epi32 by default).
inline float RoundHalfEven(float v) {
  float f = std::floor(v);
  const float frac = v - f;  // exact for every finite float
  if (frac > 0.5f || (frac == 0.5f && std::fmod(f, 2.0f) != 0.0f)) f += 1.0f;
  return f;
}

// One float to one code, ONNX QuantizeLinear: saturate(round_half_even(x / scale)
// + zero_point) into [qmin, qmax]. NaN maps to zero_point (clamped).
inline int32_t QuantizeValue(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const float v = x / scale;
  if (std::isnan(v)) return std::clamp(zero_point, qmin, qmax);
  const double q = static_cast<double>(RoundHalfEven(v)) + zero_point;
  return static_cast<int32_t>(std::clamp<double>(q, qmin, qmax));
}

// One code to float, ONNX DequantizeLinear: float(q - zero_point) * scale.
inline float DequantizeValue(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(static_cast<int64_t>(q) - zero_point) * scale;
}

// QuantizeLinear over x viewed as [outer, channels, inner]: channel c uses
// scale[c] and zero_point[c] (per-axis), or pass channels = 1 for per-tensor.
// zero_point may be null (all 0). T: int8_t or uint8_t.
template <class T>
void QuantizeLinear(const float* x, T* y, int64_t outer, int64_t channels, int64_t inner, const float* scale,
                    const T* zero_point);
template <class T>
void QuantizeLinear(const float* x, T* y, int64_t n, float scale, T zero_point) {
  QuantizeLinear<T>(x, y, 1, 1, n, &scale, &zero_point);
}

// DequantizeLinear, same layout. T: int8_t, uint8_t or int32_t.
template <class T>
void DequantizeLinear(const T* x, float* y, int64_t outer, int64_t channels, int64_t inner, const float* scale,
                      const T* zero_point);
template <class T>
void DequantizeLinear(const T* x, float* y, int64_t n, float scale, T zero_point) {
  DequantizeLinear<T>(x, y, 1, 1, n, &scale, &zero_point);
}

// A fused Relu or Clip as clamp bounds on the output codes, within [qmin, qmax].
// Exact: quantization is monotone, so quantize(clip(r, a, b)) ==
// clamp(quantize(r), quantize(a), quantize(b)). Fails for activations that are
// not clamps (HardSwish, LeakyRelu: use a lookup table).
struct ClampRange {
  int32_t lo, hi;
};
ClampRange QuantizedActivationRange(const Activation& act, float scale, int32_t zero_point, int32_t qmin,
                                    int32_t qmax);

}  // namespace nibble
