// Elementwise Add and Mul of two quantized tensors of the same 8-bit type,
// numpy broadcasting, integer-only. Parameters are computed once per node
// (Make*Params); the per-element functions are inline so vector kernels can
// mirror them. Real values: a = sa*(qa - za), b = sb*(qb - zb), y = sy*(qy - zy);
// ra = sa/sy, rb = sb/sy, and t = ra (qa - za) + rb (qb - zb) is the exact sum
// in output LSBs.
//
// Add, rule kInt32 (XNNPACK's qs8/qu8-vadd form; one int32 multiply-add per input):
//   am = round(ra 2^s), bm = round(rb 2^s), bias = 2^(s-1) - am za - bm zb
//   acc = bias + qa am + qb bm                       (int32, never overflows)
//   qy = clamp((acc >> s) + zy, y_min, y_max)         (arithmetic shift)
// i.e. qy = floor(t' + 1/2) + zy with t' = (am (qa - za) + bm (qb - zb)) / 2^s:
// round to nearest, ties toward +infinity, the rule of requantize.h.
// No overflow: qa, za (and qb, zb) are codes of one type, so |qa - za| <= 255,
// and every code and zero point lies in [-128, 255], so |q|, |z| <= 255. Every
// product and partial sum the kernels form (qa am; qb bm; bias; bias + qa am;
// bias + qb bm; acc) is at most 2^(s-1) plus terms am x + bm y with |x|, |y| <=
// 255 (e.g. bias + qa am = 2^(s-1) + am (qa - za) - bm zb), so its magnitude
// is at most 2^(s-1) + 255 (am + bm). MakeAddQ8Params picks the largest s in
// [1, 31] with 255 (am + bm) + 2^(s-1) <= 2^31 - 1 (the worst case, reached
// e.g. by uint8 qa = qb = 255, za = zb = 0), so int32 holds them all (am, bm
// >= 0). A kernel may also form them with wrapping int32 arithmetic: the value
// is then exact modulo 2^32 and, lying in int32, exact.
// Error: |am 2^-s - ra| <= 2^-(s+1) and likewise for b, so
//   |t' - t| <= 2^-(s+1) (|qa - za| + |qb - zb|) <= 255 * 2^-s,
// and qy is floor(t + 1/2) + zy (clamped) unless t lies within 255 * 2^-s of a
// half-integer, where it may be one code off. MakeAddQ8Params takes this rule
// only when s >= kMinInt32Shift = 18, i.e. 255 * 2^-s < 2^-10 LSB; that holds
// while ra + rb <~ 32 (2^18 (255 (ra + rb) + 1/2) <= 2^31). At equal scales
// (ra + rb = 2) s = 22 and the bound is 2^-14 LSB. Small ratios need no bound:
// as ra + rb shrinks, s grows (up to 31) and the bound with it shrinks.
//
// Add, rule kRescale64 (TFLite's scheme), for ra + rb beyond that range: both
// inputs are lifted by 2^20 and brought to the common scale 2*max(sa, sb), summed
// exactly, then brought to the output scale with 64-bit fixed-point products:
//   A = MBQM((qa - za) << 20, sa / (2 max))      B = MBQM((qb - zb) << 20, sb / (2 max))
//   qy = clamp(MBQM(A + B, 2 max / (2^20 sy)) + zy, y_min, y_max)
// (MBQM = MultiplyByQuantizedMultiplier, requantize.h.) |qa - za| <= 255, so the
// lifted inputs stay below 2^28 and their sum below 2^29.
// Error bound: let ro = 2 max / (2^20 sy).
// Each input rescale errs by <= 1/2 + 2^27 * 2^-31 = 9/16, the sum by <= 9/8, so
//   |qy - clamp(t + zy, y_min, y_max)| <= 1/2 + (9/8) ro + 2^-31 |t| + 2^-31
// which is <= 1 LSB whenever sy >= 5e-6 * max(sa, sb).
//
// Mul: qy = clamp(MBQM((qa - za) * (qb - zb), sa sb / sy) + zy, y_min, y_max); the
// product of offsets fits in 17 bits, so the only error is the final rounding:
//   |qy - clamp(t + zy, y_min, y_max)| <= 1/2 + 2^-31 |t|,  t = sa sb (qa - za)(qb - zb) / sy.
//
// All round ties toward +infinity (the MBQM rule), where a float Add/Mul
// followed by QuantizeLinear would round half to even: the two differ by one
// code exactly at ties. Make*Params fails when a ratio of scales is >= 2^30
// (Add: 2 max(sa, sb) / sy >= 2^50, on the kRescale64 path).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/reference/requantize.h"
#include "nibble/tensor.h"

namespace nibble {

struct AddQ8Params {
  enum class Rule { kInt32, kRescale64 };
  static constexpr int kMinInt32Shift = 18;  // below it, kRescale64 (see above)
  static constexpr int kLeftShift = 20;      // kRescale64's lift
  Rule rule = Rule::kInt32;
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  // kInt32: acc = bias + qa * a_mult + qb * b_mult, then >> shift.
  int32_t a_mult = 0, b_mult = 0, bias = 0, shift = 1;
  // kRescale64.
  FixedPointMultiplier a_multiplier, b_multiplier, y_multiplier;
  // Output clamp (fused Relu/Clip); the kernels narrow it to the element type's range.
  int32_t y_min = std::numeric_limits<int32_t>::min(), y_max = std::numeric_limits<int32_t>::max();
};

AddQ8Params MakeAddQ8Params(double a_scale, int32_t a_zero_point, double b_scale, int32_t b_zero_point,
                            double y_scale, int32_t y_zero_point,
                            int32_t y_min = std::numeric_limits<int32_t>::min(),
                            int32_t y_max = std::numeric_limits<int32_t>::max());

// The kInt32 sum before the shift; qa, qb codes of the zero points' type.
inline int32_t AddQ8Int32Acc(int32_t qa, int32_t qb, const AddQ8Params& p) {
  return p.bias + qa * p.a_mult + qb * p.b_mult;  // cannot overflow (see above)
}

inline int32_t AddQ8Int32(int32_t qa, int32_t qb, const AddQ8Params& p) {
  const int64_t v = int64_t{AddQ8Int32Acc(qa, qb, p) >> p.shift} + p.y_zero_point;
  return static_cast<int32_t>(std::clamp<int64_t>(v, p.y_min, p.y_max));
}

inline int32_t AddQ8Rescale64(int32_t qa, int32_t qb, const AddQ8Params& p) {
  const int32_t a = MultiplyByQuantizedMultiplier((qa - p.a_zero_point) * (1 << AddQ8Params::kLeftShift), p.a_multiplier);
  const int32_t b = MultiplyByQuantizedMultiplier((qb - p.b_zero_point) * (1 << AddQ8Params::kLeftShift), p.b_multiplier);
  return Requantize(a + b, p.y_multiplier, p.y_zero_point, p.y_min, p.y_max);
}

inline int32_t AddQ8(int32_t qa, int32_t qb, const AddQ8Params& p) {
  return p.rule == AddQ8Params::Rule::kInt32 ? AddQ8Int32(qa, qb, p) : AddQ8Rescale64(qa, qb, p);
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

// y has shape BroadcastShapes({a_shape, b_shape}). T, TY: uint8_t or int8_t.
// An Add may write the other code type than it reads (a Brevitas QuantReLU
// after a signed sum); its arithmetic does not depend on the output's type.
template <class T, class TY = T>
void AddQ8Reference(const AddQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, TY* y);
template <class T>
void MulQ8Reference(const MulQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y);

}  // namespace nibble
