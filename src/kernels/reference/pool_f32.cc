#include "kernels/reference/pool_f32.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace nibble {
namespace {

template <class T>
T Lowest() {
  if constexpr (std::numeric_limits<T>::has_infinity) return -std::numeric_limits<T>::infinity();
  return std::numeric_limits<T>::lowest();
}

// One output value accumulated tap by tap. Both kernels feed taps in the same
// (row-major kernel) order, so they agree bit for bit.
template <class T>
struct Accumulator {
  const PoolParams& p;
  T best = Lowest<T>();
  int64_t best_index = -1;
  double sum = 0;
  int64_t count = 0;

  explicit Accumulator(const PoolParams& params) : p(params) {}

  void Add(T v, int64_t index) {
    switch (p.kind) {
      case PoolKind::kMax:
        if (best_index < 0 || v > best) {
          best = v;
          best_index = index;
        }
        break;
      case PoolKind::kAverage: sum += static_cast<double>(v); break;
      case PoolKind::kLp: sum += std::pow(std::abs(static_cast<double>(v)), p.p); break;
    }
    ++count;
  }

  T Result(int64_t kernel_size) const {
    switch (p.kind) {
      case PoolKind::kMax: return best;
      case PoolKind::kAverage: {
        int64_t div = p.count_include_pad ? kernel_size : count;
        return static_cast<T>(div ? sum / static_cast<double>(div) : 0.0);
      }
      case PoolKind::kLp: return static_cast<T>(std::pow(sum, 1.0 / p.p));
    }
    return best;
  }
};

// First and one-past-last kernel tap k with 0 <= base + k * dil < in.
inline void TapRange(int64_t base, int64_t dil, int64_t kernel, int64_t in, int64_t& k0, int64_t& k1) {
  k0 = base >= 0 ? 0 : (-base + dil - 1) / dil;
  k1 = base > in - 1 ? 0 : std::min(kernel, (in - 1 - base) / dil + 1);
  if (k1 < k0) k1 = k0;
}

}  // namespace

template <class T>
void PoolReference(const PoolParams& p, const T* x, T* y, int64_t* indices, int64_t plane_lo, int64_t plane_hi) {
  const WindowGeometry& g = p.geo;
  const int64_t r = static_cast<int64_t>(g.in.size());
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  std::vector<int64_t> o_idx(r), k_idx(r);
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * in_sz;
    for (int64_t o = 0; o < out_sz; ++o) {
      for (int64_t t = o, d = r - 1; d >= 0; --d) {
        o_idx[d] = t % g.out[d];
        t /= g.out[d];
      }
      Accumulator<T> acc(p);
      for (int64_t k = 0; k < k_sz; ++k) {
        for (int64_t t = k, d = r - 1; d >= 0; --d) {
          k_idx[d] = t % g.kernel[d];
          t /= g.kernel[d];
        }
        int64_t off = 0, col = 0, col_stride = 1;
        bool inside = true;
        for (int64_t d = 0; d < r && inside; ++d) {
          const int64_t pos = o_idx[d] * g.stride[d] - g.pad_begin[d] + k_idx[d] * g.dilation[d];
          inside = pos >= 0 && pos < g.in[d];
          off = off * g.in[d] + pos;
          col += pos * col_stride;
          col_stride *= g.in[d];
        }
        if (inside) acc.Add(xp[off], p.col_major_indices ? col : off);
      }
      y[plane * out_sz + o] = acc.Result(k_sz);
      if (indices) indices[plane * out_sz + o] = acc.best_index < 0 ? -1 : plane * in_sz + acc.best_index;
    }
  }
}

template <class T>
void PoolClipped(const PoolParams& p, const T* x, T* y, int64_t* indices, int64_t plane_lo, int64_t plane_hi) {
  const WindowGeometry& g = p.geo;
  const size_t r = g.in.size();
  // View 1-D and 2-D pooling as 3-D with leading dims of size 1.
  int64_t in[3], out[3], ker[3], str[3], dil[3], pb[3];
  for (size_t a = 0; a < 3; ++a) {
    const bool real = a + r >= 3;
    const size_t d = real ? a + r - 3 : 0;
    in[a] = real ? g.in[d] : 1;
    out[a] = real ? g.out[d] : 1;
    ker[a] = real ? g.kernel[d] : 1;
    str[a] = real ? g.stride[d] : 1;
    dil[a] = real ? g.dilation[d] : 1;
    pb[a] = real ? g.pad_begin[d] : 0;
  }
  std::vector<int64_t> k0[3], k1[3];
  for (int a = 0; a < 3; ++a) {
    k0[a].resize(out[a]);
    k1[a].resize(out[a]);
    for (int64_t o = 0; o < out[a]; ++o) TapRange(o * str[a] - pb[a], dil[a], ker[a], in[a], k0[a][o], k1[a][o]);
  }
  const int64_t in_sz = in[0] * in[1] * in[2], out_sz = out[0] * out[1] * out[2];
  const int64_t k_sz = ker[0] * ker[1] * ker[2];
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * in_sz;
    T* yp = y + plane * out_sz;
    int64_t* ip = indices ? indices + plane * out_sz : nullptr;
    for (int64_t od = 0; od < out[0]; ++od)
      for (int64_t oh = 0; oh < out[1]; ++oh)
        for (int64_t ow = 0; ow < out[2]; ++ow) {
          Accumulator<T> acc(p);
          for (int64_t kd = k0[0][od]; kd < k1[0][od]; ++kd) {
            const int64_t id = od * str[0] - pb[0] + kd * dil[0];
            for (int64_t kh = k0[1][oh]; kh < k1[1][oh]; ++kh) {
              const int64_t ih = oh * str[1] - pb[1] + kh * dil[1];
              const T* row = xp + (id * in[1] + ih) * in[2];
              for (int64_t kw = k0[2][ow]; kw < k1[2][ow]; ++kw) {
                const int64_t iw = ow * str[2] - pb[2] + kw * dil[2];
                acc.Add(row[iw], p.col_major_indices ? id + ih * in[0] + iw * in[0] * in[1]
                                                     : (id * in[1] + ih) * in[2] + iw);
              }
            }
          }
          const int64_t o = (od * out[1] + oh) * out[2] + ow;
          yp[o] = acc.Result(k_sz);
          if (ip) ip[o] = acc.best_index < 0 ? -1 : plane * in_sz + acc.best_index;
        }
  }
}

template <class T>
void GlobalPool(PoolKind kind, int64_t spatial, const T* x, T* y, int64_t plane_lo, int64_t plane_hi) {
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * spatial;
    if (kind == PoolKind::kMax) {
      T best = Lowest<T>();
      for (int64_t i = 0; i < spatial; ++i) best = i == 0 || xp[i] > best ? xp[i] : best;
      y[plane] = best;
    } else {
      double sum = 0;
      for (int64_t i = 0; i < spatial; ++i) sum += static_cast<double>(xp[i]);
      y[plane] = static_cast<T>(sum / static_cast<double>(spatial));
    }
  }
}

#define NIBBLE_INSTANTIATE_POOL(T)                                                                                   \
  template void PoolReference<T>(const PoolParams&, const T*, T*, int64_t*, int64_t, int64_t);                      \
  template void PoolClipped<T>(const PoolParams&, const T*, T*, int64_t*, int64_t, int64_t);                        \
  template void GlobalPool<T>(PoolKind, int64_t, const T*, T*, int64_t, int64_t);
NIBBLE_INSTANTIATE_POOL(float)
NIBBLE_INSTANTIATE_POOL(double)
NIBBLE_INSTANTIATE_POOL(int8_t)
NIBBLE_INSTANTIATE_POOL(uint8_t)
#undef NIBBLE_INSTANTIATE_POOL

}  // namespace nibble
