// Elementwise Add and Mul of two quantized tensors of the same 8-bit type,
// numpy broadcasting, integer-only. Parameters are computed once per node
// (Make*Params); the per-element functions are inline so vector kernels can
// mirror them. Real values: a = sa*(qa - za), b = sb*(qb - zb), y = sy*(qy - zy).
//
// Add (TFLite's scheme): both inputs are lifted by 2^20 and brought to the
// common scale 2*max(sa, sb), summed exactly, then brought to the output scale:
//   A = MBQM((qa - za) << 20, sa / (2 max))      B = MBQM((qb - zb) << 20, sb / (2 max))
//   qy = clamp(MBQM(A + B, 2 max / (2^20 sy)) + zy, y_min, y_max)
// (MBQM = MultiplyByQuantizedMultiplier, requantize.h.) |qa - za| <= 255, so the
// lifted inputs stay below 2^28 and their sum below 2^29.
// Error bound: let t = (sa (qa - za) + sb (qb - zb)) / sy and ro = 2 max / (2^20 sy).
// Each input rescale errs by <= 1/2 + 2^27 * 2^-31 = 9/16, the sum by <= 9/8, so
//   |qy - clamp(t + zy, y_min, y_max)| <= 1/2 + (9/8) ro + 2^-31 |t| + 2^-31
// which is <= 1 LSB whenever sy >= 5e-6 * max(sa, sb) (in practice ~ 1/2 + 1e-5).
//
// Mul: qy = clamp(MBQM((qa - za) * (qb - zb), sa sb / sy) + zy, y_min, y_max); the
// product of offsets fits in 17 bits, so the only error is the final rounding:
//   |qy - clamp(t + zy, y_min, y_max)| <= 1/2 + 2^-31 |t|,  t = sa sb (qa - za)(qb - zb) / sy.
//
// Both round ties toward +infinity (the MBQM rule), where a float Add/Mul
// followed by QuantizeLinear would round half to even: the two differ by one
// code exactly at ties. Make*Params fails when a ratio of scales is >= 2^30.
#pragma once
#include <cstdint>
#include <limits>

#include "kernels/reference/requantize.h"
#include "nibble/tensor.h"

namespace nibble {

struct AddQ8Params {
  static constexpr int kLeftShift = 20;
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  FixedPointMultiplier a_multiplier, b_multiplier, y_multiplier;
  // Output clamp (fused Relu/Clip); the kernels narrow it to the element type's range.
  int32_t y_min = std::numeric_limits<int32_t>::min(), y_max = std::numeric_limits<int32_t>::max();
};

AddQ8Params MakeAddQ8Params(double a_scale, int32_t a_zero_point, double b_scale, int32_t b_zero_point,
                            double y_scale, int32_t y_zero_point,
                            int32_t y_min = std::numeric_limits<int32_t>::min(),
                            int32_t y_max = std::numeric_limits<int32_t>::max());

inline int32_t AddQ8(int32_t qa, int32_t qb, const AddQ8Params& p) {
  const int32_t a = MultiplyByQuantizedMultiplier((qa - p.a_zero_point) * (1 << AddQ8Params::kLeftShift), p.a_multiplier);
  const int32_t b = MultiplyByQuantizedMultiplier((qb - p.b_zero_point) * (1 << AddQ8Params::kLeftShift), p.b_multiplier);
  return Requantize(a + b, p.y_multiplier, p.y_zero_point, p.y_min, p.y_max);
}

struct MulQ8Params {
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  FixedPointMultiplier multiplier;
  int32_t y_min = std::numeric_limits<int32_t>::min(), y_max = std::numeric_limits<int32_t>::max();
};

MulQ8Params MakeMulQ8Params(double a_scale, int32_t a_zero_point, double b_scale, int32_t b_zero_point,
                            double y_scale, int32_t y_zero_point,
                            int32_t y_min = std::numeric_limits<int32_t>::min(),
                            int32_t y_max = std::numeric_limits<int32_t>::max());

inline int32_t MulQ8(int32_t qa, int32_t qb, const MulQ8Params& p) {
  return Requantize((qa - p.a_zero_point) * (qb - p.b_zero_point), p.multiplier, p.y_zero_point, p.y_min, p.y_max);
}

// y has shape BroadcastShapes({a_shape, b_shape}). T: uint8_t or int8_t.
template <class T>
void AddQ8Reference(const AddQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y);
template <class T>
void MulQ8Reference(const MulQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y);

}  // namespace nibble
