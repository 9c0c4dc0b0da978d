#include "kernels/reference/dwconv_f32.h"

#include <algorithm>

namespace nibble {
namespace {

// Output indices o in [lo, hi) whose tap reads inside [0, in): 0 <= o * stride + shift < in.
inline void OutputRange(int64_t shift, int64_t stride, int64_t in, int64_t out, int64_t& lo, int64_t& hi) {
  lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
  hi = shift > in - 1 ? 0 : std::min(out, (in - 1 - shift) / stride + 1);
  if (hi < lo) hi = lo;
}

}  // namespace

void DepthwiseConvF32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                      int64_t plane_lo, int64_t plane_hi) {
  const WindowGeometry& g = p.geo;
  const size_t r = g.in.size();
  // 1-D and 2-D run as 3-D with leading dims of size 1.
  int64_t in[3], out[3], ker[3], str[3], dil[3], pad[3];
  for (size_t a = 0; a < 3; ++a) {
    const bool real = a + r >= 3;
    const size_t d = real ? a + r - 3 : 0;
    in[a] = real ? g.in[d] : 1;
    out[a] = real ? g.out[d] : 1;
    ker[a] = real ? g.kernel[d] : 1;
    str[a] = real ? g.stride[d] : 1;
    dil[a] = real ? g.dilation[d] : 1;
    pad[a] = real ? g.pad_begin[d] : 0;
  }
  const int64_t in_sz = in[0] * in[1] * in[2], out_sz = out[0] * out[1] * out[2], k_sz = ker[0] * ker[1] * ker[2];
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const int64_t c = plane % p.in_channels;
    const float* xp = x + plane * in_sz;
    const float* wc = w + c * k_sz;
    float* yp = y + plane * out_sz;
    std::fill(yp, yp + out_sz, bias ? bias[c] : 0.f);
    for (int64_t od = 0; od < out[0]; ++od)
      for (int64_t kd = 0; kd < ker[0]; ++kd) {
        const int64_t id = od * str[0] - pad[0] + kd * dil[0];
        if (id < 0 || id >= in[0]) continue;
        for (int64_t oh = 0; oh < out[1]; ++oh) {
          float* yrow = yp + (od * out[1] + oh) * out[2];
          for (int64_t kh = 0; kh < ker[1]; ++kh) {
            const int64_t ih = oh * str[1] - pad[1] + kh * dil[1];
            if (ih < 0 || ih >= in[1]) continue;
            const float* xrow = xp + (id * in[1] + ih) * in[2];
            for (int64_t kw = 0; kw < ker[2]; ++kw) {
              const float wv = wc[(kd * ker[1] + kh) * ker[2] + kw];
              const int64_t shift = kw * dil[2] - pad[2];
              int64_t lo, hi;
              OutputRange(shift, str[2], in[2], out[2], lo, hi);
              if (str[2] == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[ow + shift];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[ow * str[2] + shift];
              }
            }
          }
        }
      }
    p.act.ApplyInPlace(yp, out_sz);
  }
}

}  // namespace nibble
