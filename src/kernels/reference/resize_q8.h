// Resize of 8-bit codes with the same scale and zero point in and out.
// Coordinates come from resize_f32.h (MakeResizeAxis), shared with the float op.
//
// Nearest copies codes (ResizeReference with ResizeMode::kNearest).
//
// Bilinear mixes the last two dims (H, W) with fixed-point weights: the weight
// of the upper neighbour along an axis is wq = round(w * 2^15) in [0, 2^15]
// (round half up), the lower one gets 2^15 - wq, so the four 2-D weights sum
// to exactly 2^30. Because the weights sum to one the zero point passes
// through, so codes are mixed directly, in int64:
//   acc = (2^15 - wy) * ((2^15 - wx) * q00 + wx * q01) + wy * ((2^15 - wx) * q10 + wx * q11)
//   y   = acc / 2^30 rounded half to even
// Half to even because that is what the QDQ graph this replaces does (the
// float Resize, then QuantizeLinear): the common weights (1/4, 3/4 at scale 2)
// are exact and land on .5 often. Error against the exact bilinear value v of
// the codes (weights in double): each axis weight errs by <= 2^-16 and moves
// the result by <= 2^-16 * 255, so
//   |y - v| <= 1/2 + 2 * 255 * 2^-16 < 0.508 (y is round(v) or its neighbour).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/reference/resize_f32.h"

namespace nibble {

constexpr int kResizeQ8WeightBits = 15;

// Fixed-point weight of the upper neighbour for a double weight w in [0, 1].
inline int32_t ResizeQ8Weight(double w) { return static_cast<int32_t>(std::lround(w * (1 << kResizeQ8WeightBits))); }

// x: [planes, h.in, w.in], y: [planes, h.out, w.out]; h and w made by
// MakeResizeAxis(ResizeMode::kLinear, ...). Computes planes [plane_lo, plane_hi).
// Outputs that tf_crop_and_resize places outside the input take `extrapolation`.
// T: uint8_t or int8_t.
template <class T>
void ResizeBilinearQ8Reference(const ResizeAxis& h, const ResizeAxis& w, const T* x, T* y, T extrapolation,
                               int64_t plane_lo, int64_t plane_hi);

// Any rank; axes made with ResizeMode::kNearest; rows as in ResizeReference.
template <class T>
void ResizeNearestQ8Reference(const std::vector<ResizeAxis>& axes, const T* x, T* y, T extrapolation, int64_t row_lo,
                              int64_t row_hi);

}  // namespace nibble
