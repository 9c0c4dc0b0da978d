#include "kernels/blas/conv_transpose_col2im_f32.h"

#include <algorithm>

#include "kernels/blas/sgemm.h"

namespace nibble {
namespace {

// floor(a / b) and ceil(a / b) for b > 0.
inline int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

// Input indices i in [lo, hi) whose tap k lands inside [0, out).
inline void InputRange(int64_t k, int64_t stride, int64_t dil, int64_t pad, int64_t in, int64_t out, int64_t& lo,
                       int64_t& hi) {
  const int64_t shift = k * dil - pad;  // output position = i * stride + shift
  lo = std::max<int64_t>(0, CeilDiv(-shift, stride));
  hi = std::min<int64_t>(in, FloorDiv(out - 1 - shift, stride) + 1);
  if (hi < lo) hi = lo;
}

// Adds one output channel's column rows (kernel_size rows of in_size) into
// its output plane. 1-D and 2-D are viewed as 3-D with leading 1s.
void Col2imPlane(const ConvTransposeParams& p, const float* col, float* y) {
  const size_t r = p.in.size();
  int64_t in[3], out[3], ker[3], str[3], dil[3], pad[3];
  for (size_t a = 0; a < 3; ++a) {
    const bool real = a + r >= 3;
    const size_t d = real ? a + r - 3 : 0;
    in[a] = real ? p.in[d] : 1;
    out[a] = real ? p.out[d] : 1;
    ker[a] = real ? p.kernel[d] : 1;
    str[a] = real ? p.stride[d] : 1;
    dil[a] = real ? p.dilation[d] : 1;
    pad[a] = real ? p.pad_begin[d] : 0;
  }
  const int64_t in_sz = in[0] * in[1] * in[2];
  for (int64_t kd = 0; kd < ker[0]; ++kd) {
    int64_t d0, d1;
    InputRange(kd, str[0], dil[0], pad[0], in[0], out[0], d0, d1);
    for (int64_t kh = 0; kh < ker[1]; ++kh) {
      int64_t h0, h1;
      InputRange(kh, str[1], dil[1], pad[1], in[1], out[1], h0, h1);
      for (int64_t kw = 0; kw < ker[2]; ++kw) {
        int64_t w0, w1;
        InputRange(kw, str[2], dil[2], pad[2], in[2], out[2], w0, w1);
        const float* c = col + ((kd * ker[1] + kh) * ker[2] + kw) * in_sz;
        const int64_t shift_w = kw * dil[2] - pad[2];
        for (int64_t id = d0; id < d1; ++id) {
          const int64_t od = id * str[0] + kd * dil[0] - pad[0];
          for (int64_t ih = h0; ih < h1; ++ih) {
            const int64_t oh = ih * str[1] + kh * dil[1] - pad[1];
            const float* crow = c + (id * in[1] + ih) * in[2];
            float* yrow = y + (od * out[1] + oh) * out[2];
            if (str[2] == 1) {
              for (int64_t iw = w0; iw < w1; ++iw) yrow[iw + shift_w] += crow[iw];
            } else {
              for (int64_t iw = w0; iw < w1; ++iw) yrow[iw * str[2] + shift_w] += crow[iw];
            }
          }
        }
      }
    }
  }
}

bool IsPointwise(const ConvTransposeParams& p) {
  for (size_t d = 0; d < p.in.size(); ++d)
    if (p.kernel[d] != 1 || p.stride[d] != 1 || p.pad_begin[d] != 0 || p.out[d] != p.in[d]) return false;
  return true;
}

}  // namespace

void ConvTransposeF32Col2im(const ConvTransposeParams& p, const float* x, const float* w, const float* bias, float* y,
                            std::vector<float>& scratch, ThreadPool& pool) {
  if (p.in.size() > 3) {
    ConvTransposeF32Reference(p, x, w, bias, y);
    return;
  }
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = p.in_size(), out_sz = p.out_size(), k_sz = p.kernel_size();
  const bool pointwise = IsPointwise(p);
  if (!pointwise) scratch.resize(static_cast<size_t>(mg * k_sz * in_sz));
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t grp = 0; grp < p.group; ++grp) {
      const float* xg = x + (n * p.in_channels + grp * cg) * in_sz;
      const float* wg = w + grp * cg * mg * k_sz;
      float* yg = y + (n * p.out_channels + grp * mg) * out_sz;
      float* col = pointwise ? yg : scratch.data();
      Sgemm(true, false, mg * k_sz, in_sz, cg, 1.f, wg, mg * k_sz, xg, in_sz, 0.f, col, in_sz);
      pool.ParallelFor(mg, [&](int64_t lo, int64_t hi) {
        for (int64_t m = lo; m < hi; ++m) {
          float* plane = yg + m * out_sz;
          const float b = bias ? bias[grp * mg + m] : 0.f;
          if (pointwise) {
            if (b != 0.f)
              for (int64_t i = 0; i < out_sz; ++i) plane[i] += b;
            continue;
          }
          std::fill(plane, plane + out_sz, b);
          Col2imPlane(p, col + m * k_sz * in_sz, plane);
        }
      }, 1);
    }
}

}  // namespace nibble
