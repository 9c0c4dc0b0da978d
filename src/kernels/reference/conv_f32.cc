#include "kernels/reference/conv_f32.h"

#include <vector>

namespace nibble {

void ConvF32Reference(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const WindowGeometry& g = p.geo;
  const size_t r = g.in.size();
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  std::vector<int64_t> o_idx(r), k_idx(r);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t grp = m / mg;
      for (int64_t o = 0; o < out_sz; ++o) {
        UnravelIndex(o, g.out, o_idx.data());
        double acc = bias ? bias[m] : 0.0;
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t k = 0; k < k_sz; ++k) {
            UnravelIndex(k, g.kernel, k_idx.data());
            const int64_t off = TapOffset(g, o_idx.data(), k_idx.data());
            if (off < 0) continue;
            acc += static_cast<double>(x[(n * p.in_channels + grp * cg + c) * in_sz + off]) *
                   w[(m * cg + c) * k_sz + k];
          }
        y[(n * p.out_channels + m) * out_sz + o] = p.act.Apply(static_cast<float>(acc));
      }
    }
}

}  // namespace nibble
