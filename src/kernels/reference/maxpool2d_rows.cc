#include "kernels/reference/maxpool2d_rows.h"

#include <algorithm>
#include <vector>

namespace nibble {

bool MaxPool2dRowsApplies(const PoolParams& p) {
  const WindowGeometry& g = p.geo;
  if (p.kind != PoolKind::kMax || g.in.size() != 2) return false;
  for (int d = 0; d < 2; ++d) {
    if (g.dilation[d] != 1) return false;
    // An empty input (a 0-sized axis with padding still has outputs) has no
    // row to start a window from.
    if (g.in[d] < 1 || g.out[d] < 1) return false;
    // The last window must still overlap the input (ceil_mode can push it out).
    if ((g.out[d] - 1) * g.stride[d] - g.pad_begin[d] >= g.in[d]) return false;
    if (g.kernel[d] <= g.pad_begin[d]) return false;
  }
  return true;
}

template <class T>
void MaxPool2dRows(const PoolParams& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi) {
  const WindowGeometry& g = p.geo;
  const int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sh = g.stride[0], sw = g.stride[1];
  const int64_t ph = g.pad_begin[0], pw = g.pad_begin[1];
  std::vector<T> row(iw);
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * ih * iw;
    T* yp = y + plane * oh * ow;
    for (int64_t r = 0; r < oh; ++r) {
      const int64_t r0 = std::max<int64_t>(0, r * sh - ph), r1 = std::min(ih, r * sh - ph + kh);
      std::copy(xp + r0 * iw, xp + r0 * iw + iw, row.begin());
      for (int64_t rr = r0 + 1; rr < r1; ++rr) {
        const T* src = xp + rr * iw;
        for (int64_t c = 0; c < iw; ++c) row[c] = std::max(row[c], src[c]);
      }
      T* dst = yp + r * ow;
      for (int64_t c = 0; c < ow; ++c) {
        const int64_t c0 = std::max<int64_t>(0, c * sw - pw), c1 = std::min(iw, c * sw - pw + kw);
        T m = row[c0];
        for (int64_t cc = c0 + 1; cc < c1; ++cc) m = std::max(m, row[cc]);
        dst[c] = m;
      }
    }
  }
}

template void MaxPool2dRows<float>(const PoolParams&, const float*, float*, int64_t, int64_t);
template void MaxPool2dRows<double>(const PoolParams&, const double*, double*, int64_t, int64_t);
template void MaxPool2dRows<int8_t>(const PoolParams&, const int8_t*, int8_t*, int64_t, int64_t);
template void MaxPool2dRows<uint8_t>(const PoolParams&, const uint8_t*, uint8_t*, int64_t, int64_t);

}  // namespace nibble
