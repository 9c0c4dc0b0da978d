#include "kernels/reference/conv_q8_im2col.h"

#include <algorithm>

namespace nibble {

template <class TX, class TY>
void ConvQ8Im2col(const ConvQ8Params& p, const TX* x, const int8_t* w, const int32_t* bias, TY* y,
                  std::vector<TX>& col, std::vector<int32_t>& acc) {
  const WindowGeometry& g = p.geo;
  const size_t r = g.in.size();
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  const int64_t kdim = cg * k_sz;
  col.resize(static_cast<size_t>(kdim * out_sz));
  acc.resize(static_cast<size_t>(out_sz));
  // Beyond this depth int32 sums could overflow (half of int32 is kept for the
  // bias); the reference then checks the actual weights and reports it.
  if (static_cast<int64_t>(kdim) * 255 * 128 > (int64_t{1} << 30)) {
    ConvQ8Reference(p, x, w, bias, y);
    return;
  }
  for (int32_t z : p.w_zero_point)
    if (z != 0) {
      ConvQ8Reference(p, x, w, bias, y);
      return;
    }
  const TX zx = static_cast<TX>(p.x_zero_point);
  std::vector<int64_t> k_idx(r), o_idx(r);
  // Sum over each weight row, for subtracting zx * sum(w) once instead of per tap.
  std::vector<int32_t> w_sum(p.out_channels, 0);
  for (int64_t m = 0; m < p.out_channels; ++m)
    for (int64_t k = 0; k < kdim; ++k) w_sum[m] += w[m * kdim + k];
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t grp = 0; grp < p.group; ++grp) {
      const TX* xg = x + (n * p.in_channels + grp * cg) * in_sz;
      for (int64_t row = 0; row < kdim; ++row) {
        const int64_t c = row / k_sz, k = row % k_sz;
        UnravelIndex(k, g.kernel, k_idx.data());
        for (int64_t o = 0; o < out_sz; ++o) {
          UnravelIndex(o, g.out, o_idx.data());
          const int64_t off = TapOffset(g, o_idx.data(), k_idx.data());
          col[row * out_sz + o] = off >= 0 ? xg[c * in_sz + off] : zx;
        }
      }
      for (int64_t m = grp * mg; m < (grp + 1) * mg; ++m) {
        const int8_t* wm = w + m * kdim;
        std::fill(acc.begin(), acc.end(), 0);
        for (int64_t k = 0; k < kdim; ++k) {
          const int32_t wk = wm[k];
          const TX* cr = col.data() + k * out_sz;
          for (int64_t o = 0; o < out_sz; ++o) acc[o] += wk * static_cast<int32_t>(cr[o]);
        }
        const int32_t base = (bias ? bias[m] : 0) - p.x_zero_point * w_sum[m];
        const FixedPointMultiplier mult = p.multiplier[p.multiplier.size() == 1 ? 0 : m];
        int32_t lo = p.y_min, hi = p.y_max;
        IntersectWithTypeRange<TY>(lo, hi);
        TY* ym = y + (n * p.out_channels + m) * out_sz;
        for (int64_t o = 0; o < out_sz; ++o) ym[o] = static_cast<TY>(Requantize(acc[o] + base, mult, p.y_zero_point, lo, hi));
      }
    }
}

template void ConvQ8Im2col<uint8_t, uint8_t>(const ConvQ8Params&, const uint8_t*, const int8_t*, const int32_t*, uint8_t*,
                                             std::vector<uint8_t>&, std::vector<int32_t>&);
template void ConvQ8Im2col<uint8_t, int8_t>(const ConvQ8Params&, const uint8_t*, const int8_t*, const int32_t*, int8_t*,
                                            std::vector<uint8_t>&, std::vector<int32_t>&);
template void ConvQ8Im2col<int8_t, uint8_t>(const ConvQ8Params&, const int8_t*, const int8_t*, const int32_t*, uint8_t*,
                                            std::vector<int8_t>&, std::vector<int32_t>&);
template void ConvQ8Im2col<int8_t, int8_t>(const ConvQ8Params&, const int8_t*, const int8_t*, const int32_t*, int8_t*,
                                           std::vector<int8_t>&, std::vector<int32_t>&);

}  // namespace nibble
