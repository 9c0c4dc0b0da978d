#include "kernels/reference/pool_q8.h"

#include "kernels/reference/pool_f32.h"
#include "nibble/error.h"

namespace nibble {
namespace {

template <class T>
void CheckSumFits(int64_t count, int32_t x_zero_point, const char* what) {
  NIBBLE_CHECK(x_zero_point >= std::numeric_limits<T>::min() && x_zero_point <= std::numeric_limits<T>::max(), what,
               ": input zero point ", x_zero_point, " is outside the input type");
  NIBBLE_CHECK(count <= std::numeric_limits<int32_t>::max() / 255, what, ": a window of ", count,
               " elements can overflow the int32 sum");
}

// Requantize with the averages' tie rule (requantize.h).
int32_t RequantizeAverage(int32_t sum, FixedPointMultiplier m, int32_t zero_point, int32_t lo, int32_t hi) {
  const int64_t v = static_cast<int64_t>(MultiplyByQuantizedMultiplierHalfEven(sum, m)) + zero_point;
  return static_cast<int32_t>(std::clamp<int64_t>(v, lo, hi));
}

}  // namespace

template <class T>
void MaxPoolQ8Reference(int64_t planes, const WindowGeometry& geo, const T* x, T* y, int64_t plane_lo,
                        int64_t plane_hi) {
  PoolParams p;
  p.planes = planes;
  p.geo = geo;
  p.kind = PoolKind::kMax;
  PoolReference<T>(p, x, y, nullptr, plane_lo, plane_hi);
}

std::vector<FixedPointMultiplier> AvgPoolQ8Multipliers(double x_scale, double y_scale, int64_t max_count) {
  std::vector<FixedPointMultiplier> m(max_count + 1);
  for (int64_t c = 1; c <= max_count; ++c) m[c] = QuantizeMultiplier(x_scale / (y_scale * static_cast<double>(c)));
  return m;
}

template <class T>
void AvgPoolQ8Reference(const AvgPoolQ8Params& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi) {
  const WindowGeometry& g = p.geo;
  const int64_t r = static_cast<int64_t>(g.in.size());
  const int64_t in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out(), k_sz = g.kernel_size();
  CheckSumFits<T>(k_sz, p.x_zero_point, "AvgPoolQ8");
  NIBBLE_CHECK(static_cast<int64_t>(p.multiplier.size()) == k_sz + 1, "AvgPoolQ8: ", p.multiplier.size(),
               " multipliers for a kernel of ", k_sz, " taps (expected one per divisor, see AvgPoolQ8Multipliers)");
  int32_t lo = p.y_min, hi = p.y_max;
  IntersectWithTypeRange<T>(lo, hi);
  std::vector<int64_t> o_idx(r), k_idx(r);
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * in_sz;
    for (int64_t o = 0; o < out_sz; ++o) {
      for (int64_t t = o, d = r - 1; d >= 0; --d) {
        o_idx[d] = t % g.out[d];
        t /= g.out[d];
      }
      int32_t sum = 0, taps = 0;
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
        if (!inside) continue;  // padding is real zero: adds nothing to sum(q - x_zero_point)
        sum += xp[off];
        ++taps;
      }
      const int32_t count = p.count_include_pad ? static_cast<int32_t>(k_sz) : taps;
      const int32_t out = count == 0 ? std::clamp(p.y_zero_point, lo, hi)
                                     : RequantizeAverage(sum - p.x_zero_point * taps, p.multiplier[count],
                                                         p.y_zero_point, lo, hi);
      y[plane * out_sz + o] = static_cast<T>(out);
    }
  }
}

template <class T>
void GlobalAvgPoolQ8Check(const GlobalAvgPoolQ8Params& p) {
  CheckSumFits<T>(p.spatial, p.x_zero_point, "GlobalAvgPoolQ8");
  NIBBLE_CHECK(p.spatial > 0, "GlobalAvgPoolQ8: empty planes");
}

template <class T>
void GlobalAvgPoolQ8FromSums(const GlobalAvgPoolQ8Params& p, const int32_t* sums, T* y, int64_t n) {
  int32_t lo = p.y_min, hi = p.y_max;
  IntersectWithTypeRange<T>(lo, hi);
  const int32_t zero_sum = p.x_zero_point * static_cast<int32_t>(p.spatial);  // fits: CheckSumFits
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(RequantizeAverage(sums[i] - zero_sum, p.multiplier, p.y_zero_point, lo, hi));
}

template <class T>
void GlobalAvgPoolQ8Reference(const GlobalAvgPoolQ8Params& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi) {
  GlobalAvgPoolQ8Check<T>(p);
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * p.spatial;
    int32_t sum = 0;
    for (int64_t i = 0; i < p.spatial; ++i) sum += xp[i];
    GlobalAvgPoolQ8FromSums(p, &sum, y + plane, 1);
  }
}

#define NIBBLE_INSTANTIATE_POOL_Q8(T)                                                                         \
  template void MaxPoolQ8Reference<T>(int64_t, const WindowGeometry&, const T*, T*, int64_t, int64_t);       \
  template void AvgPoolQ8Reference<T>(const AvgPoolQ8Params&, const T*, T*, int64_t, int64_t);               \
  template void GlobalAvgPoolQ8Reference<T>(const GlobalAvgPoolQ8Params&, const T*, T*, int64_t, int64_t);   \
  template void GlobalAvgPoolQ8Check<T>(const GlobalAvgPoolQ8Params&);                                        \
  template void GlobalAvgPoolQ8FromSums<T>(const GlobalAvgPoolQ8Params&, const int32_t*, T*, int64_t);
NIBBLE_INSTANTIATE_POOL_Q8(uint8_t)
NIBBLE_INSTANTIATE_POOL_Q8(int8_t)
#undef NIBBLE_INSTANTIATE_POOL_Q8

}  // namespace nibble
