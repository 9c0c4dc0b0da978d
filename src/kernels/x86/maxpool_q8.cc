// 2-D int8 MaxPool: which geometries vectorize, and the dispatch.
#include "kernels/x86/maxpool_q8.h"

#include <algorithm>
#include <vector>

#include "nibble/error.h"
#include "kernels/reference/maxpool2d_rows.h"
#include "kernels/reference/pool_q8.h"
#include "kernels/x86/planes_to_pixels.h"

namespace nibble {

bool MaxPoolQ8X86Vectorizes(const WindowGeometry& g) {
  if (g.in.size() != 2 || g.out.size() != 2 || g.kernel.size() != 2) return false;
  if (g.stride[1] != 1 && g.stride[1] != 2) return false;
  for (int d = 0; d < 2; ++d) {
    if (g.dilation[d] != 1 || g.stride[d] < 1 || g.kernel[d] < 1 || g.pad_begin[d] < 0) return false;
    if (g.in[d] < 1 || g.out[d] < 1) return false;
    // Every window must hold a tap inside the input (ceil_mode can push the
    // last one out; a pad >= kernel can make the first all padding): the
    // reference gives the lowest code there, the row scheme would not know.
    if (g.kernel[d] <= g.pad_begin[d]) return false;
    if ((g.out[d] - 1) * g.stride[d] - g.pad_begin[d] >= g.in[d]) return false;
  }
  return true;
}

bool MaxPoolQ8Is2x2Stride2(const WindowGeometry& g) {
  if (!MaxPoolQ8X86Vectorizes(g)) return false;
  for (int d = 0; d < 2; ++d)
    if (g.kernel[d] != 2 || g.stride[d] != 2 || g.pad_begin[d] != 0 || 2 * g.out[d] > g.in[d]) return false;
  return true;
}

bool MaxPoolQ8IsWidth3Stride2(const WindowGeometry& g) {
  return MaxPoolQ8X86Vectorizes(g) && g.kernel[1] == 3 && g.stride[1] == 2 && g.pad_begin[1] <= 1;
}

int MaxPoolQ8RowsPerStep2x2(const WindowGeometry& g) {
  if (!MaxPoolQ8Is2x2Stride2(g)) return 1;
  const int64_t iw = g.in[1], ow = g.out[1];
  if (iw != 2 * ow) return 1;
  // 2 iw input bytes per output row within two zmm loads; ow words per
  // output row within one zmm of 32 words.
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(64 / iw, 32 / ow)));
}

template <class T>
void MaxPoolQ8X86(int64_t planes, const WindowGeometry& geo, const T* x, T* y, int64_t plane_lo, int64_t plane_hi,
                  Isa isa, int64_t x_plane, int64_t y_plane) {
  const int64_t in_sz = geo.spatial_size_in(), out_sz = geo.spatial_size_out();
  if (x_plane == 0) x_plane = in_sz;
  if (y_plane == 0) y_plane = out_sz;
  if (isa == Isa::kScalar || !MaxPoolQ8X86Vectorizes(geo)) {
    PoolParams p;  // the scalar level: the row-wise loop where it applies
    p.planes = planes;
    p.geo = geo;
    p.kind = PoolKind::kMax;
    auto run = [&](const T* xp, T* yp, int64_t lo, int64_t hi) {
      if (MaxPool2dRowsApplies(p)) MaxPool2dRows(p, xp, yp, lo, hi);
      else MaxPoolQ8Reference(planes, geo, xp, yp, lo, hi);
    };
    if (x_plane == in_sz && y_plane == out_sz) return run(x, y, plane_lo, plane_hi);
    // Planes that are not packed: one at a time, as plane 0.
    for (int64_t c = plane_lo; c < plane_hi; ++c) run(x + c * x_plane, y + c * y_plane, 0, 1);
  } else if (isa >= Isa::kAvx512Vnni) {
    maxpoolq8_detail::RunAvx512(geo, x, y, plane_lo, plane_hi, x_plane, y_plane);
  } else {
    maxpoolq8_detail::RunAvx2(geo, x, y, plane_lo, plane_hi, x_plane, y_plane);
  }
}

template <class T>
void MaxPoolQ8X86ToPixels(int64_t channels, const WindowGeometry& geo, const T* x, T* y, int64_t oy_lo,
                          int64_t oy_hi, Isa isa) {
  NIBBLE_CHECK(MaxPoolQ8X86Vectorizes(geo) && 0 <= oy_lo && oy_lo < oy_hi && oy_hi <= geo.out[0],
               "MaxPoolQ8X86ToPixels: a geometry MaxPoolQ8X86Vectorizes accepts, and output rows within its ",
               geo.out.empty() ? 0 : geo.out[0]);
  // The band as a geometry of its own: the input rows its windows read, the
  // padding above it that the first one still reaches.
  const int64_t sh = geo.stride[0], ph = geo.pad_begin[0], kh = geo.kernel[0], ih = geo.in[0], iw = geo.in[1];
  const int64_t ow = geo.out[1];
  const int64_t r_lo = std::max<int64_t>(0, oy_lo * sh - ph), r_hi = std::min(ih, (oy_hi - 1) * sh - ph + kh);
  WindowGeometry band = geo;
  band.in[0] = r_hi - r_lo;
  band.out[0] = oy_hi - oy_lo;
  band.pad_begin[0] = r_lo - (oy_lo * sh - ph);
  band.pad_end[0] = std::max<int64_t>(0, (oy_hi - 1) * sh - ph + kh - r_hi);
  const int64_t n = band.out[0] * ow;
  thread_local std::vector<T> planes;
  if (planes.size() < static_cast<size_t>(channels * n)) planes.resize(static_cast<size_t>(channels * n));
  MaxPoolQ8X86(channels, band, x + r_lo * iw, planes.data(), 0, channels, isa, ih * iw, n);
  PlanesToPixels(reinterpret_cast<const uint8_t*>(planes.data()), n, channels, 0, n,
                 reinterpret_cast<uint8_t*>(y + oy_lo * ow * channels), isa);
}

template void MaxPoolQ8X86<uint8_t>(int64_t, const WindowGeometry&, const uint8_t*, uint8_t*, int64_t, int64_t, Isa,
                                    int64_t, int64_t);
template void MaxPoolQ8X86<int8_t>(int64_t, const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t, Isa,
                                   int64_t, int64_t);
template void MaxPoolQ8X86ToPixels<uint8_t>(int64_t, const WindowGeometry&, const uint8_t*, uint8_t*, int64_t,
                                            int64_t, Isa);
template void MaxPoolQ8X86ToPixels<int8_t>(int64_t, const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t,
                                           Isa);

}  // namespace nibble
