#include "kernels/reference/resize_f32.h"

#include <algorithm>
#include <cmath>

namespace nibble {

double ResizeSourceCoordinate(ResizeCoord coord, const ResizeAxisSpec& s, double x) {
  const double in = static_cast<double>(s.in);
  switch (coord) {
    case ResizeCoord::kHalfPixel: return (x + 0.5) / s.scale - 0.5;
    case ResizeCoord::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(s.out) / s.length_resized;
      const double offset = in / 2 * (1 - adjustment);
      return offset + (x + 0.5) / s.scale - 0.5;
    }
    case ResizeCoord::kPytorchHalfPixel: return s.out > 1 ? (x + 0.5) / s.scale - 0.5 : 0.0;
    case ResizeCoord::kAlignCorners: return s.length_resized == 1 ? 0.0 : x * (in - 1) / (s.length_resized - 1);
    case ResizeCoord::kAsymmetric: return x / s.scale;
    case ResizeCoord::kTfHalfPixelForNn: return (x + 0.5) / s.scale;
    case ResizeCoord::kTfCropAndResize:
      if (s.length_resized > 1)
        return s.roi_start * (in - 1) + x * (s.roi_end - s.roi_start) * (in - 1) / (s.length_resized - 1);
      return 0.5 * (s.roi_start + s.roi_end) * (in - 1);
  }
  return x;
}

ResizeAxis MakeResizeAxis(ResizeMode mode, ResizeCoord coord, ResizeNearest nearest, const ResizeAxisSpec& s) {
  ResizeAxis a;
  a.in = s.in;
  a.out = s.out;
  a.lo.resize(s.out);
  a.hi.resize(s.out);
  a.w.assign(s.out, 0.0);
  a.outside.assign(s.out, 0);
  auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), s.in - 1); };
  for (int64_t o = 0; o < s.out; ++o) {
    double c = ResizeSourceCoordinate(coord, s, static_cast<double>(o));
    if (coord == ResizeCoord::kTfCropAndResize && !(c >= 0 && c <= static_cast<double>(s.in - 1))) a.outside[o] = 1;
    // Positions beyond the edges read the edge anyway; bounding them keeps the
    // integer conversion below defined for absurd scales (and NaN).
    if (!(c >= -2)) c = -2;
    if (c > static_cast<double>(s.in + 1)) c = static_cast<double>(s.in + 1);
    const double f = std::floor(c);
    const double frac = c - f;
    const int64_t fi = static_cast<int64_t>(f);
    if (mode == ResizeMode::kNearest) {
      int64_t pick = fi;
      if (frac > 0) {
        switch (nearest) {
          case ResizeNearest::kRoundPreferFloor: pick = frac <= 0.5 ? fi : fi + 1; break;
          case ResizeNearest::kRoundPreferCeil: pick = frac < 0.5 ? fi : fi + 1; break;
          case ResizeNearest::kFloor: pick = fi; break;
          case ResizeNearest::kCeil: pick = fi + 1; break;
        }
      }
      a.lo[o] = a.hi[o] = clamp(pick);
    } else {
      a.lo[o] = clamp(fi);
      a.hi[o] = clamp(fi + 1);
      a.w[o] = a.lo[o] == a.hi[o] ? 0.0 : frac;
    }
  }
  return a;
}

template <class T>
void ResizeReference(ResizeMode mode, const std::vector<ResizeAxis>& axes, const T* x, T* y,
                     double extrapolation_value, int64_t row_lo, int64_t row_hi) {
  const int64_t r = static_cast<int64_t>(axes.size());
  if (r == 0) {
    if (row_lo < row_hi) y[0] = x[0];
    return;
  }
  std::vector<int64_t> stride(r, 1);
  for (int64_t d = r - 2; d >= 0; --d) stride[d] = stride[d + 1] * axes[d + 1].in;
  const ResizeAxis& last = axes[r - 1];
  const T extrapolated = static_cast<T>(extrapolation_value);
  std::vector<int64_t> delta;  // per active axis: offset from the lo to the hi input
  std::vector<double> weight;  // per active axis: weight of hi
  for (int64_t row = row_lo; row < row_hi; ++row) {
    int64_t base = 0;
    bool outside = false;
    delta.clear();
    weight.clear();
    for (int64_t rem = row, d = r - 2; d >= 0; --d) {
      const ResizeAxis& a = axes[d];
      const int64_t o = rem % a.out;
      rem /= a.out;
      base += a.lo[o] * stride[d];
      outside |= a.outside[o] != 0;
      if (a.w[o] != 0) {
        delta.push_back((a.hi[o] - a.lo[o]) * stride[d]);
        weight.push_back(a.w[o]);
      }
    }
    T* yr = y + row * last.out;
    for (int64_t o = 0; o < last.out; ++o) {
      if (outside || last.outside[o]) {
        yr[o] = extrapolated;
        continue;
      }
      const int64_t at = base + last.lo[o];
      if (mode == ResizeMode::kNearest) {
        yr[o] = x[at];
        continue;
      }
      const size_t k = delta.size() + (last.w[o] != 0 ? 1 : 0);
      double acc = 0;
      for (size_t mask = 0; mask < (size_t{1} << k); ++mask) {
        double wt = 1;
        int64_t off = at;
        for (size_t j = 0; j < k; ++j) {
          const bool hi = (mask >> j) & 1;
          const double w = j < delta.size() ? weight[j] : last.w[o];
          wt *= hi ? w : 1 - w;
          if (hi) off += j < delta.size() ? delta[j] : last.hi[o] - last.lo[o];
        }
        acc += wt * static_cast<double>(x[off]);
      }
      yr[o] = static_cast<T>(acc);
    }
  }
}

#define NIBBLE_INSTANTIATE_RESIZE(T)                                                                     \
  template void ResizeReference<T>(ResizeMode, const std::vector<ResizeAxis>&, const T*, T*, double, int64_t, \
                                   int64_t);
NIBBLE_INSTANTIATE_RESIZE(float)
NIBBLE_INSTANTIATE_RESIZE(double)
NIBBLE_INSTANTIATE_RESIZE(int8_t)
NIBBLE_INSTANTIATE_RESIZE(uint8_t)
NIBBLE_INSTANTIATE_RESIZE(int16_t)
NIBBLE_INSTANTIATE_RESIZE(uint16_t)
NIBBLE_INSTANTIATE_RESIZE(int32_t)
NIBBLE_INSTANTIATE_RESIZE(uint32_t)
NIBBLE_INSTANTIATE_RESIZE(int64_t)
NIBBLE_INSTANTIATE_RESIZE(uint64_t)
NIBBLE_INSTANTIATE_RESIZE(bool)
#undef NIBBLE_INSTANTIATE_RESIZE

}  // namespace nibble
