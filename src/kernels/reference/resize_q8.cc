#include "kernels/reference/resize_q8.h"

#include "nibble/error.h"

namespace nibble {

template <class T>
void ResizeBilinearQ8Reference(const ResizeAxis& h, const ResizeAxis& w, const T* x, T* y, T extrapolation,
                               int64_t plane_lo, int64_t plane_hi) {
  constexpr int64_t one = int64_t{1} << kResizeQ8WeightBits;
  constexpr int shift = 2 * kResizeQ8WeightBits;
  std::vector<int32_t> wx(w.out), wy(h.out);
  for (int64_t o = 0; o < w.out; ++o) wx[o] = ResizeQ8Weight(w.w[o]);
  for (int64_t o = 0; o < h.out; ++o) wy[o] = ResizeQ8Weight(h.w[o]);
  for (int32_t v : wx) NIBBLE_CHECK(v >= 0 && v <= one, "ResizeBilinearQ8: weight outside [0, 1]");
  for (int32_t v : wy) NIBBLE_CHECK(v >= 0 && v <= one, "ResizeBilinearQ8: weight outside [0, 1]");
  const int64_t in_sz = h.in * w.in, out_sz = h.out * w.out;
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * in_sz;
    T* yp = y + plane * out_sz;
    for (int64_t oh = 0; oh < h.out; ++oh) {
      const T* row_lo = xp + h.lo[oh] * w.in;
      const T* row_hi = xp + h.hi[oh] * w.in;
      for (int64_t ow = 0; ow < w.out; ++ow) {
        if (h.outside[oh] || w.outside[ow]) {
          yp[oh * w.out + ow] = extrapolation;
          continue;
        }
        const int64_t c0 = w.lo[ow], c1 = w.hi[ow];
        const int64_t top = (one - wx[ow]) * row_lo[c0] + wx[ow] * row_lo[c1];
        const int64_t bottom = (one - wx[ow]) * row_hi[c0] + wx[ow] * row_hi[c1];
        const int64_t acc = (one - wy[oh]) * top + wy[oh] * bottom;
        // Round half to even (>> floors, also for negative acc), as QuantizeLinear
        // rounds the float graph's result.
        int64_t q = acc >> shift;
        const int64_t rem = acc - q * (int64_t{1} << shift), half = int64_t{1} << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) ++q;
        yp[oh * w.out + ow] = static_cast<T>(q);
      }
    }
  }
}

template <class T>
void ResizeNearestQ8Reference(const std::vector<ResizeAxis>& axes, const T* x, T* y, T extrapolation, int64_t row_lo,
                              int64_t row_hi) {
  ResizeReference<T>(ResizeMode::kNearest, axes, x, y, static_cast<double>(extrapolation), row_lo, row_hi);
}

#define NIBBLE_INSTANTIATE_RESIZE_Q8(T)                                                                            \
  template void ResizeBilinearQ8Reference<T>(const ResizeAxis&, const ResizeAxis&, const T*, T*, T, int64_t,       \
                                             int64_t);                                                             \
  template void ResizeNearestQ8Reference<T>(const std::vector<ResizeAxis>&, const T*, T*, T, int64_t, int64_t);
NIBBLE_INSTANTIATE_RESIZE_Q8(uint8_t)
NIBBLE_INSTANTIATE_RESIZE_Q8(int8_t)
#undef NIBBLE_INSTANTIATE_RESIZE_Q8

}  // namespace nibble
