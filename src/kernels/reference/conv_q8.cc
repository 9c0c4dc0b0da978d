#include "kernels/reference/conv_q8.h"

#include <cstdlib>

#include "nibble/error.h"

namespace nibble {
namespace {

int32_t PerChannel(const std::vector<int32_t>& v, int64_t m) { return v.empty() ? 0 : v[v.size() == 1 ? 0 : m]; }

template <class TX, class TW>
void CheckConvQ8(const ConvQ8Params& p, const TW* w, const int32_t* bias) {
  const WindowGeometry& g = p.geo;
  NIBBLE_CHECK(p.group > 0 && p.in_channels % p.group == 0 && p.out_channels % p.group == 0, "ConvQ8: ",
               p.in_channels, " input and ", p.out_channels, " output channels do not split into ", p.group,
               " groups");
  NIBBLE_CHECK(g.in.size() >= 1 && g.in.size() <= 3 && g.out.size() == g.in.size(),
               "ConvQ8: expected 1 to 3 spatial dims with a computed window, got ", g.in.size());
  NIBBLE_CHECK(p.w_zero_point.size() <= 1 || static_cast<int64_t>(p.w_zero_point.size()) == p.out_channels,
               "ConvQ8: ", p.w_zero_point.size(), " weight zero points for ", p.out_channels, " output channels");
  NIBBLE_CHECK(p.x_zero_point >= std::numeric_limits<TX>::min() && p.x_zero_point <= std::numeric_limits<TX>::max(),
               "ConvQ8: input zero point ", p.x_zero_point, " is outside the input type");
  const int64_t k = p.in_channels / p.group * g.kernel_size();
  const int64_t x_max = MaxAbsOffset<TX>(p.x_zero_point);
  for (int64_t m = 0; m < p.out_channels; ++m) {
    const int32_t zw = PerChannel(p.w_zero_point, m);
    NIBBLE_CHECK(zw >= std::numeric_limits<TW>::min() && zw <= std::numeric_limits<TW>::max(),
                 "ConvQ8: weight zero point ", zw, " of output channel ", m, " is outside the weight type");
    int64_t w_sum = 0;
    for (int64_t i = 0; i < k; ++i) w_sum += std::llabs(int64_t{w[m * k + i]} - zw);
    const int64_t bound = x_max * w_sum + (bias ? std::llabs(bias[m]) : 0);
    NIBBLE_CHECK(bound <= std::numeric_limits<int32_t>::max(), "ConvQ8: output channel ", m,
                 " can overflow the int32 accumulator (worst case ", bound, " over ", k, " products)");
  }
}

// acc (without bias) for every output, in int64 (exact: CheckConvQ8 bounds it by int32).
template <class TX, class TW, class Store>
void ConvQ8Loop(const ConvQ8Params& p, const TX* x, const TW* w, Store&& store) {
  const WindowGeometry& g = p.geo;
  const int64_t r = static_cast<int64_t>(g.in.size());
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  std::vector<int64_t> o_idx(r), k_idx(r);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t grp = m / mg;
      const int32_t zw = PerChannel(p.w_zero_point, m);
      for (int64_t o = 0; o < out_sz; ++o) {
        for (int64_t t = o, d = r - 1; d >= 0; --d) {
          o_idx[d] = t % g.out[d];
          t /= g.out[d];
        }
        int64_t acc = 0;
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t k = 0; k < k_sz; ++k) {
            for (int64_t t = k, d = r - 1; d >= 0; --d) {
              k_idx[d] = t % g.kernel[d];
              t /= g.kernel[d];
            }
            int64_t off = 0;
            bool inside = true;
            for (int64_t d = 0; d < r && inside; ++d) {
              const int64_t pos = o_idx[d] * g.stride[d] - g.pad_begin[d] + k_idx[d] * g.dilation[d];
              inside = pos >= 0 && pos < g.in[d];
              off = off * g.in[d] + pos;
            }
            if (!inside) continue;  // padding: x - x_zero_point == 0
            const int64_t xv = int64_t{x[(n * p.in_channels + grp * cg + c) * in_sz + off]} - p.x_zero_point;
            const int64_t wv = int64_t{w[(m * cg + c) * k_sz + k]} - zw;
            acc += xv * wv;
          }
        store((n * p.out_channels + m) * out_sz + o, m, static_cast<int32_t>(acc));
      }
    }
}

}  // namespace

template <class TX, class TW>
void ConvQ8Int32Reference(const ConvQ8Params& p, const TX* x, const TW* w, int32_t* y) {
  CheckConvQ8<TX, TW>(p, w, nullptr);
  ConvQ8Loop(p, x, w, [&](int64_t i, int64_t, int32_t acc) { y[i] = acc; });
}

template <class TX, class TW, class TY>
void ConvQ8Reference(const ConvQ8Params& p, const TX* x, const TW* w, const int32_t* bias, TY* y) {
  CheckConvQ8<TX, TW>(p, w, bias);
  NIBBLE_CHECK(p.multiplier.size() == 1 || static_cast<int64_t>(p.multiplier.size()) == p.out_channels, "ConvQ8: ",
               p.multiplier.size(), " requantization multipliers for ", p.out_channels, " output channels");
  int32_t lo = p.y_min, hi = p.y_max;
  IntersectWithTypeRange<TY>(lo, hi);
  ConvQ8Loop(p, x, w, [&](int64_t i, int64_t m, int32_t acc) {
    const FixedPointMultiplier& mult = p.multiplier[p.multiplier.size() == 1 ? 0 : m];
    y[i] = static_cast<TY>(Requantize(acc + (bias ? bias[m] : 0), mult, p.y_zero_point, lo, hi));
  });
}

#define NIBBLE_INSTANTIATE_CONV_Q8_INT32(TX, TW) \
  template void ConvQ8Int32Reference<TX, TW>(const ConvQ8Params&, const TX*, const TW*, int32_t*);
#define NIBBLE_INSTANTIATE_CONV_Q8(TX, TW, TY) \
  template void ConvQ8Reference<TX, TW, TY>(const ConvQ8Params&, const TX*, const TW*, const int32_t*, TY*);
NIBBLE_INSTANTIATE_CONV_Q8_INT32(uint8_t, int8_t)
NIBBLE_INSTANTIATE_CONV_Q8_INT32(int8_t, int8_t)
NIBBLE_INSTANTIATE_CONV_Q8_INT32(uint8_t, uint8_t)
NIBBLE_INSTANTIATE_CONV_Q8_INT32(int8_t, uint8_t)
NIBBLE_INSTANTIATE_CONV_Q8(uint8_t, int8_t, uint8_t)
NIBBLE_INSTANTIATE_CONV_Q8(uint8_t, int8_t, int8_t)
NIBBLE_INSTANTIATE_CONV_Q8(int8_t, int8_t, uint8_t)
NIBBLE_INSTANTIATE_CONV_Q8(int8_t, int8_t, int8_t)
NIBBLE_INSTANTIATE_CONV_Q8(uint8_t, uint8_t, uint8_t)
NIBBLE_INSTANTIATE_CONV_Q8(uint8_t, uint8_t, int8_t)
NIBBLE_INSTANTIATE_CONV_Q8(int8_t, uint8_t, uint8_t)
NIBBLE_INSTANTIATE_CONV_Q8(int8_t, uint8_t, int8_t)
#undef NIBBLE_INSTANTIATE_CONV_Q8
#undef NIBBLE_INSTANTIATE_CONV_Q8_INT32

}  // namespace nibble
