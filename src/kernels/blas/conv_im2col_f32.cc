#include "kernels/blas/conv_im2col_f32.h"

#include <cstring>

#include "kernels/blas/sgemm.h"

namespace nibble {
namespace {

bool IsPointwise(const WindowGeometry& g) {
  for (size_t d = 0; d < g.in.size(); ++d)
    if (g.kernel[d] != 1 || g.stride[d] != 1 || g.pad_begin[d] || g.pad_end[d]) return false;
  return true;
}

// Rows of the column matrix are (channel, kernel offset); columns are output positions.
void Im2col(const WindowGeometry& g, int64_t channels, const float* x, float* col, ThreadPool& pool) {
  const size_t r = g.in.size();
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  pool.ParallelFor(channels * k_sz, [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> k_idx(r), o_idx(r);
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t c = row / k_sz, k = row % k_sz;
      for (int64_t t = k, d = r - 1; d >= 0; --d) {
        k_idx[d] = t % g.kernel[d];
        t /= g.kernel[d];
      }
      const float* xc = x + c * in_sz;
      float* dst = col + row * out_sz;
      if (r == 2) {
        // The common 2-D case, with the innermost loop free of index arithmetic.
        const int64_t oh = g.out[0], ow = g.out[1], ih = g.in[0], iw = g.in[1];
        const int64_t sh = g.stride[0], sw = g.stride[1];
        const int64_t off_h = k_idx[0] * g.dilation[0] - g.pad_begin[0];
        const int64_t off_w = k_idx[1] * g.dilation[1] - g.pad_begin[1];
        for (int64_t y = 0; y < oh; ++y) {
          const int64_t iy = y * sh + off_h;
          float* d = dst + y * ow;
          if (iy < 0 || iy >= ih) {
            std::memset(d, 0, ow * sizeof(float));
            continue;
          }
          const float* src = xc + iy * iw;
          if (sw == 1) {
            for (int64_t xo = 0; xo < ow; ++xo) {
              const int64_t ix = xo + off_w;
              d[xo] = (ix >= 0 && ix < iw) ? src[ix] : 0.f;
            }
          } else {
            for (int64_t xo = 0; xo < ow; ++xo) {
              const int64_t ix = xo * sw + off_w;
              d[xo] = (ix >= 0 && ix < iw) ? src[ix] : 0.f;
            }
          }
        }
        continue;
      }
      for (int64_t o = 0; o < out_sz; ++o) {
        for (int64_t t = o, d = r - 1; d >= 0; --d) {
          o_idx[d] = t % g.out[d];
          t /= g.out[d];
        }
        int64_t off = 0;
        bool inside = true;
        for (size_t d = 0; d < r && inside; ++d) {
          int64_t pos = o_idx[d] * g.stride[d] - g.pad_begin[d] + k_idx[d] * g.dilation[d];
          inside = pos >= 0 && pos < g.in[d];
          off = off * g.in[d] + pos;
        }
        dst[o] = inside ? xc[off] : 0.f;
      }
    }
  }, 4);
}

}  // namespace

void ConvF32Im2col(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                   std::vector<float>& scratch, ThreadPool& pool) {
  const WindowGeometry& g = p.geo;
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  const bool pointwise = IsPointwise(g);
  if (!pointwise) scratch.resize(static_cast<size_t>(cg * k_sz * out_sz));
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t grp = 0; grp < p.group; ++grp) {
      const float* xg = x + (n * p.in_channels + grp * cg) * in_sz;
      const float* col = xg;
      if (!pointwise) {
        Im2col(g, cg, xg, scratch.data(), pool);
        col = scratch.data();
      }
      float* yg = y + (n * p.out_channels + grp * mg) * out_sz;
      Sgemm(false, false, mg, out_sz, cg * k_sz, 1.f, w + grp * mg * cg * k_sz, cg * k_sz, col, out_sz, 0.f, yg,
            out_sz);
    }
  // Epilogue: bias and activation, one output channel plane at a time.
  pool.ParallelFor(p.batch * p.out_channels, [&](int64_t lo, int64_t hi) {
    for (int64_t nm = lo; nm < hi; ++nm) {
      float* plane = y + nm * out_sz;
      const float b = bias ? bias[nm % p.out_channels] : 0.f;
      if (b != 0.f)
        for (int64_t i = 0; i < out_sz; ++i) plane[i] += b;
      p.act.ApplyInPlace(plane, out_sz);
    }
  }, 8);
}

}  // namespace nibble
