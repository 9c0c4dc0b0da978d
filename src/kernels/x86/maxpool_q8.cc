// 2-D int8 MaxPool: which geometries vectorize, and the dispatch.
#include "kernels/x86/maxpool_q8.h"

#include <algorithm>

#include "kernels/reference/maxpool2d_rows.h"
#include "kernels/reference/pool_q8.h"

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
                  Isa isa) {
  if (isa == Isa::kScalar || !MaxPoolQ8X86Vectorizes(geo)) {
    PoolParams p;  // the scalar level: the row-wise loop where it applies
    p.planes = planes;
    p.geo = geo;
    p.kind = PoolKind::kMax;
    if (MaxPool2dRowsApplies(p)) MaxPool2dRows(p, x, y, plane_lo, plane_hi);
    else MaxPoolQ8Reference(planes, geo, x, y, plane_lo, plane_hi);
  } else if (isa >= Isa::kAvx512Vnni) {
    maxpoolq8_detail::RunAvx512(geo, x, y, plane_lo, plane_hi);
  } else {
    maxpoolq8_detail::RunAvx2(geo, x, y, plane_lo, plane_hi);
  }
}

template void MaxPoolQ8X86<uint8_t>(int64_t, const WindowGeometry&, const uint8_t*, uint8_t*, int64_t, int64_t, Isa);
template void MaxPoolQ8X86<int8_t>(int64_t, const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t, Isa);

}  // namespace nibble
