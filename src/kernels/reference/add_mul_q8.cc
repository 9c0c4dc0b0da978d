#include "kernels/reference/add_mul_q8.h"

#include <algorithm>
#include <cmath>

#include "kernels/reference/broadcast.h"

namespace nibble {
namespace {

void CheckScales(const char* op, double a_scale, double b_scale, double y_scale) {
  for (double s : {a_scale, b_scale, y_scale})
    NIBBLE_CHECK(std::isfinite(s) && s > 0, op, "Q8: scale ", s, " is not a finite positive number");
}

template <class T, class TY, class Params, class F>
void BroadcastQ8(Params p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, TY* y, F&& op) {
  for (int32_t z : {p.a_zero_point, p.b_zero_point})
    NIBBLE_CHECK(z >= std::numeric_limits<T>::min() && z <= std::numeric_limits<T>::max(), "zero point ", z,
                 " is outside the input type");
  IntersectWithTypeRange<TY>(p.y_min, p.y_max);
  const Shape out = BroadcastShapes({a_shape, b_shape});
  const std::vector<int64_t> strides[2] = {BroadcastStrides(a_shape, out), BroadcastStrides(b_shape, out)};
  ForEachBroadcast(out, strides, [&](int64_t o, const int64_t* idx) {
    y[o] = static_cast<TY>(op(static_cast<int32_t>(a[idx[0]]), static_cast<int32_t>(b[idx[1]]), p));
  });
}

// The kInt32 rule's multipliers, bias and shift (add_mul_q8.h): the largest s in
// [1, 31] with 255 (am + bm) + 2^(s-1) <= 2^31 - 1, the first that passes
// counting down. Returns false when that s is below kMinInt32Shift (too imprecise).
bool ChooseInt32Rule(double ra, double rb, AddQ8Params& p) {
  constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
  for (int s = 31; s >= AddQ8Params::kMinInt32Shift; --s) {
    const double scaled_a = std::ldexp(ra, s), scaled_b = std::ldexp(rb, s);
    if (255 * (scaled_a + scaled_b) > 2.0 * kI32Max) continue;  // also keeps llround in range
    const int64_t am = std::llround(scaled_a), bm = std::llround(scaled_b);
    if (255 * (am + bm) + (int64_t{1} << (s - 1)) > kI32Max) continue;
    p.rule = AddQ8Params::Rule::kInt32;
    p.a_mult = static_cast<int32_t>(am);
    p.b_mult = static_cast<int32_t>(bm);
    p.shift = s;
    // |bias| <= 2^(s-1) + 255 (am + bm): in int32 (zero points checked by the caller).
    p.bias = static_cast<int32_t>((int64_t{1} << (s - 1)) - am * p.a_zero_point - bm * p.b_zero_point);
    return true;
  }
  return false;
}

}  // namespace

AddQ8Params MakeAddQ8Params(double a_scale, int32_t a_zero_point, double b_scale, int32_t b_zero_point,
                            double y_scale, int32_t y_zero_point, int32_t y_min, int32_t y_max) {
  CheckScales("Add", a_scale, b_scale, y_scale);
  // Zero points of an 8-bit code type: the kInt32 overflow bound assumes it, and
  // the vector kernels add zy in int16.
  for (int32_t z : {a_zero_point, b_zero_point, y_zero_point})
    NIBBLE_CHECK(z >= -128 && z <= 255, "AddQ8: zero point ", z, " is not an 8-bit code");
  AddQ8Params p;
  p.a_zero_point = a_zero_point;
  p.b_zero_point = b_zero_point;
  p.y_zero_point = y_zero_point;
  p.y_min = y_min;
  p.y_max = y_max;
  if (ChooseInt32Rule(a_scale / y_scale, b_scale / y_scale, p)) return p;
  p.rule = AddQ8Params::Rule::kRescale64;
  const double twice_max = 2 * std::max(a_scale, b_scale);
  p.a_multiplier = QuantizeMultiplier(a_scale / twice_max);
  p.b_multiplier = QuantizeMultiplier(b_scale / twice_max);
  p.y_multiplier = QuantizeMultiplier(twice_max / (std::ldexp(1.0, AddQ8Params::kLeftShift) * y_scale));
  return p;
}

MulQ8Params MakeMulQ8Params(double a_scale, int32_t a_zero_point, double b_scale, int32_t b_zero_point,
                            double y_scale, int32_t y_zero_point, int32_t y_min, int32_t y_max) {
  CheckScales("Mul", a_scale, b_scale, y_scale);
  MulQ8Params p;
  p.a_zero_point = a_zero_point;
  p.b_zero_point = b_zero_point;
  p.y_zero_point = y_zero_point;
  p.multiplier = QuantizeMultiplier(a_scale * b_scale / y_scale);
  p.y_min = y_min;
  p.y_max = y_max;
  return p;
}

template <class T, class TY>
void AddQ8Reference(const AddQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, TY* y) {
  BroadcastQ8(p, a_shape, a, b_shape, b, y, [](int32_t qa, int32_t qb, const AddQ8Params& q) { return AddQ8(qa, qb, q); });
}

template <class T>
void MulQ8Reference(const MulQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y) {
  BroadcastQ8(p, a_shape, a, b_shape, b, y, [](int32_t qa, int32_t qb, const MulQ8Params& q) { return MulQ8(qa, qb, q); });
}

template void AddQ8Reference<uint8_t, uint8_t>(const AddQ8Params&, const Shape&, const uint8_t*, const Shape&,
                                               const uint8_t*, uint8_t*);
template void AddQ8Reference<int8_t, int8_t>(const AddQ8Params&, const Shape&, const int8_t*, const Shape&,
                                             const int8_t*, int8_t*);
template void AddQ8Reference<uint8_t, int8_t>(const AddQ8Params&, const Shape&, const uint8_t*, const Shape&,
                                              const uint8_t*, int8_t*);
template void AddQ8Reference<int8_t, uint8_t>(const AddQ8Params&, const Shape&, const int8_t*, const Shape&,
                                              const int8_t*, uint8_t*);
template void MulQ8Reference<uint8_t>(const MulQ8Params&, const Shape&, const uint8_t*, const Shape&, const uint8_t*,
                                      uint8_t*);
template void MulQ8Reference<int8_t>(const MulQ8Params&, const Shape&, const int8_t*, const Shape&, const int8_t*,
                                     int8_t*);

}  // namespace nibble
