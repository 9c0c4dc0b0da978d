#include "kernels/blas/conv_im2col_f32.h"

#include <algorithm>
#include <cstring>

#include "kernels/blas/sgemm.h"

namespace nibble {
namespace {

// Column buffers of about this many floats (1 MiB) stay in L2 next to the GEMM's
// packing; tiles narrower than kMinTile columns would make the GEMM repack the
// weights too often (measured: 16-column tiles made ResNet's layer3 convs 40% slower).
constexpr int64_t kTileFloats = 256 * 1024;
constexpr int64_t kMinTile = 256;

bool IsPointwise(const WindowGeometry& g) {
  for (size_t d = 0; d < g.in.size(); ++d)
    if (g.kernel[d] != 1 || g.stride[d] != 1 || g.pad_begin[d] || g.pad_end[d]) return false;
  return true;
}

// Columns [c0, c1) of the im2col matrix of one group: row (c, k) holds, for
// each output position o, the input element tap k of channel c reads (0 in padding).
void Im2colTile(const WindowGeometry& g, int64_t channels, const float* x, int64_t c0, int64_t c1, float* col) {
  const size_t r = g.in.size();
  const int64_t in_sz = g.spatial_size_in(), k_sz = g.kernel_size(), tn = c1 - c0;
  std::vector<int64_t> k_idx(r), o_idx(r);
  for (int64_t row = 0; row < channels * k_sz; ++row) {
    const int64_t c = row / k_sz, k = row % k_sz;
    UnravelIndex(k, g.kernel, k_idx.data());
    const float* xc = x + c * in_sz;
    float* dst = col + row * tn;
    if (r == 2) {
      const int64_t ow = g.out[1], ih = g.in[0], iw = g.in[1], sh = g.stride[0], sw = g.stride[1];
      const int64_t off_h = k_idx[0] * g.dilation[0] - g.pad_begin[0];
      const int64_t off_w = k_idx[1] * g.dilation[1] - g.pad_begin[1];
      // Output columns whose tap lands inside a row: [x_lo, x_hi).
      const int64_t x_lo = std::min(ow, off_w >= 0 ? int64_t{0} : (-off_w + sw - 1) / sw);
      const int64_t x_hi = std::max(x_lo, iw - off_w <= 0 ? int64_t{0} : std::min(ow, (iw - off_w + sw - 1) / sw));
      for (int64_t o = c0; o < c1;) {
        const int64_t oy = o / ow, ox0 = o % ow, ox1 = std::min(ow, ox0 + (c1 - o));
        float* d = dst + (o - c0) - ox0;  // indexed by output column
        const int64_t iy = oy * sh + off_h;
        if (iy < 0 || iy >= ih) {
          std::memset(d + ox0, 0, (ox1 - ox0) * sizeof(float));
        } else {
          const float* src = xc + iy * iw + off_w;
          const int64_t a = std::max(ox0, x_lo), b = std::min(ox1, x_hi);
          for (int64_t xo = ox0; xo < std::min(a, ox1); ++xo) d[xo] = 0.f;
          if (a < b) {
            if (sw == 1) std::memcpy(d + a, src + a, (b - a) * sizeof(float));
            else
              for (int64_t xo = a; xo < b; ++xo) d[xo] = src[xo * sw];
          }
          for (int64_t xo = std::max(b, ox0); xo < ox1; ++xo) d[xo] = 0.f;
        }
        o += ox1 - ox0;
      }
      continue;
    }
    for (int64_t o = c0; o < c1; ++o) {
      UnravelIndex(o, g.out, o_idx.data());
      const int64_t off = TapOffset(g, o_idx.data(), k_idx.data());
      dst[o - c0] = off >= 0 ? xc[off] : 0.f;
    }
  }
}

// y = act(y + b), with the activation chosen outside the loop so each case vectorizes.
void BiasActivation(float* y, int64_t n, float b, const Activation& act) {
  switch (act.kind) {
    case Activation::Kind::kNone:
      if (b != 0.f)
        for (int64_t i = 0; i < n; ++i) y[i] += b;
      return;
    case Activation::Kind::kRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = std::max(y[i] + b, 0.f);
      return;
    case Activation::Kind::kClip:
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(y[i] + b, act.lo), act.hi);
      return;
    default:
      for (int64_t i = 0; i < n; ++i) y[i] = act.Apply(y[i] + b);
  }
}

}  // namespace

void ConvF32Im2col(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                   std::vector<float>& scratch, ThreadPool& pool) {
  const WindowGeometry& g = p.geo;
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  const int64_t kdim = cg * k_sz;
  const bool pointwise = IsPointwise(g);
  const int threads = pool.num_threads();
  // Positions per tile: as many as fit the buffer, a multiple of 16, at least 16.
  int64_t tile_n = std::max<int64_t>(kMinTile, kTileFloats / std::max<int64_t>(1, kdim)) / 16 * 16;
  tile_n = std::min(out_sz, tile_n);
  if (pointwise) tile_n = std::min<int64_t>(out_sz, 1024);
  const int64_t n_tiles = (out_sz + tile_n - 1) / tile_n;
  // Few positions (late layers): split the output channels too, so every thread has work.
  int64_t m_chunks = 1;
  if (n_tiles * p.batch * p.group < 2 * threads) m_chunks = std::min<int64_t>(2 * threads, (mg + 15) / 16);
  m_chunks = std::max<int64_t>(1, m_chunks);
  const int64_t m_per = (mg + m_chunks - 1) / m_chunks;
  if (!pointwise) scratch.resize(static_cast<size_t>(threads * kdim * tile_n));
  const int64_t jobs = p.batch * p.group * n_tiles * m_chunks;
  pool.ParallelForChunks(jobs, [&](int chunk, int64_t lo, int64_t hi) {
    const AsyncSignalsBlocked blocked;  // once for all of this chunk's Sgemm calls
    float* col = pointwise ? nullptr : scratch.data() + chunk * kdim * tile_n;
    int64_t built = -1;  // the (image, group, tile) whose columns `col` holds
    for (int64_t j = lo; j < hi; ++j) {
      const int64_t mi = j % m_chunks, rest = j / m_chunks;
      const int64_t ti = rest % n_tiles, ng = rest / n_tiles;
      const int64_t n = ng / p.group, grp = ng % p.group;
      const int64_t c0 = ti * tile_n, c1 = std::min(out_sz, c0 + tile_n), tn = c1 - c0;
      const int64_t m0 = mi * m_per, m1 = std::min(mg, m0 + m_per);
      if (m0 >= m1) continue;
      const float* xg = x + (n * p.in_channels + grp * cg) * in_sz;
      const float* b_mat;
      int64_t ldb;
      if (pointwise) {
        b_mat = xg + c0;
        ldb = out_sz;
      } else {
        if (built != rest) {
          Im2colTile(g, cg, xg, c0, c1, col);
          built = rest;
        }
        b_mat = col;
        ldb = tn;
      }
      float* yt = y + (n * p.out_channels + grp * mg + m0) * out_sz + c0;
      Sgemm(false, false, m1 - m0, tn, kdim, 1.f, w + (grp * mg + m0) * kdim, kdim, b_mat, ldb, 0.f, yt, out_sz);
      for (int64_t m = m0; m < m1; ++m)
        BiasActivation(yt + (m - m0) * out_sz, tn, bias ? bias[grp * mg + m] : 0.f, p.act);
    }
  });
}

}  // namespace nibble
