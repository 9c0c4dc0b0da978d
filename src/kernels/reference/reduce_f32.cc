#include "kernels/reference/reduce_f32.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace nibble {
namespace {

template <class T>
using AccOf = std::conditional_t<std::is_floating_point_v<T>, double,
                                 std::conditional_t<std::is_same_v<T, bool> || std::is_signed_v<T>, int64_t, uint64_t>>;

template <class T>
AccOf<T> Init(ReduceKind k) {
  using A = AccOf<T>;
  switch (k) {
    case ReduceKind::kProd: return A(1);
    case ReduceKind::kMax:
      if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<double>::infinity();
      else return static_cast<A>(std::numeric_limits<T>::lowest());
    case ReduceKind::kMin:
      if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<double>::infinity();
      else return static_cast<A>(std::numeric_limits<T>::max());
    default: return A(0);
  }
}

template <class A>
inline bool IsNan(A v) {
  if constexpr (std::is_floating_point_v<A>) return std::isnan(v);
  return false;
}

// `shift` is the line's maximum, used by LogSumExp only.
template <class T>
inline void Accumulate(ReduceKind k, AccOf<T>& acc, T t, double shift) {
  using A = AccOf<T>;
  const A v = static_cast<A>(t);
  switch (k) {
    case ReduceKind::kSum:
    case ReduceKind::kMean:
    case ReduceKind::kLogSum: acc += v; break;
    case ReduceKind::kMax:
      if (v > acc || IsNan(v)) acc = v;  // NaN propagates, as in numpy
      break;
    case ReduceKind::kMin:
      if (v < acc || IsNan(v)) acc = v;
      break;
    case ReduceKind::kProd: acc *= v; break;
    case ReduceKind::kL1:
      if constexpr (std::is_unsigned_v<A>) acc += v;
      else acc += v < 0 ? -v : v;
      break;
    case ReduceKind::kL2:
    case ReduceKind::kSumSquare: acc += v * v; break;
    case ReduceKind::kLogSumExp: acc += static_cast<A>(std::exp(static_cast<double>(v) - shift)); break;
  }
}

template <class T>
inline T Finish(ReduceKind k, AccOf<T> acc, int64_t count, double shift) {
  using A = AccOf<T>;
  switch (k) {
    case ReduceKind::kMean:
      if constexpr (std::is_floating_point_v<T>) return static_cast<T>(acc / static_cast<double>(count));
      else return static_cast<T>(count ? acc / static_cast<A>(count) : A(0));
    case ReduceKind::kL2: return static_cast<T>(std::sqrt(static_cast<double>(acc)));
    case ReduceKind::kLogSum: return static_cast<T>(std::log(static_cast<double>(acc)));
    case ReduceKind::kLogSumExp:
      if (count == 0 || std::isinf(shift)) return static_cast<T>(shift);  // -inf when empty or all -inf
      return static_cast<T>(shift + std::log(static_cast<double>(acc)));
    default:
      if constexpr (std::is_same_v<T, bool>) return acc != 0;
      else return static_cast<T>(acc);
  }
}

template <class T>
inline double MaxForShift(double m, T v) {
  const double d = static_cast<double>(v);
  return d > m || std::isnan(d) ? d : m;
}

}  // namespace

template <class T>
void ReduceReference(ReduceKind kind, const std::vector<int64_t>& shape, const std::vector<bool>& reduce, const T* x,
                     T* y, int64_t out_lo, int64_t out_hi) {
  const int64_t r = static_cast<int64_t>(shape.size());
  std::vector<int64_t> stride(r, 1), kept, reduced;
  for (int64_t d = r - 2; d >= 0; --d) stride[d] = stride[d + 1] * shape[d + 1];
  int64_t count = 1;
  for (int64_t d = 0; d < r; ++d) {
    (reduce[d] ? reduced : kept).push_back(d);
    if (reduce[d]) count *= shape[d];
  }
  auto offset_of = [&](int64_t i, const std::vector<int64_t>& dims) {
    int64_t off = 0;
    for (int64_t k = static_cast<int64_t>(dims.size()) - 1; k >= 0; --k) {
      off += (i % shape[dims[k]]) * stride[dims[k]];
      i /= shape[dims[k]];
    }
    return off;
  };
  const double neg_inf = -std::numeric_limits<double>::infinity();
  for (int64_t o = out_lo; o < out_hi; ++o) {
    // Offsets, not a pointer: x may be null when the reduced axes are empty.
    const int64_t base = offset_of(o, kept);
    double shift = 0;
    if (kind == ReduceKind::kLogSumExp) {
      shift = neg_inf;
      for (int64_t i = 0; i < count; ++i) shift = MaxForShift(shift, x[base + offset_of(i, reduced)]);
    }
    AccOf<T> acc = Init<T>(kind);
    for (int64_t i = 0; i < count; ++i) Accumulate<T>(kind, acc, x[base + offset_of(i, reduced)], shift);
    y[o] = Finish<T>(kind, acc, count, shift);
  }
}

template <class T>
void ReduceOuterInner(ReduceKind kind, const T* x, T* y, int64_t n, int64_t inner, int64_t outer_lo,
                      int64_t outer_hi, int64_t inner_lo, int64_t inner_hi) {
  const int64_t w = inner_hi - inner_lo;
  if (w <= 0) return;
  std::vector<AccOf<T>> acc(w);
  std::vector<double> shift(w, 0.0);
  for (int64_t o = outer_lo; o < outer_hi; ++o) {
    // No pointer arithmetic on x when there is nothing to read (x may be null).
    const T* xo = n > 0 ? x + o * n * inner + inner_lo : x;
    if (kind == ReduceKind::kLogSumExp) {
      shift.assign(w, -std::numeric_limits<double>::infinity());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < w; ++j) shift[j] = MaxForShift(shift[j], xo[i * inner + j]);
    }
    acc.assign(w, Init<T>(kind));
    for (int64_t i = 0; i < n; ++i) {
      const T* row = xo + i * inner;
      for (int64_t j = 0; j < w; ++j) Accumulate<T>(kind, acc[j], row[j], shift[j]);
    }
    T* yo = y + o * inner + inner_lo;
    for (int64_t j = 0; j < w; ++j) yo[j] = Finish<T>(kind, acc[j], n, shift[j]);
  }
}

#define NIBBLE_INSTANTIATE_REDUCE(T)                                                                              \
  template void ReduceReference<T>(ReduceKind, const std::vector<int64_t>&, const std::vector<bool>&, const T*, T*, \
                                   int64_t, int64_t);                                                            \
  template void ReduceOuterInner<T>(ReduceKind, const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
NIBBLE_INSTANTIATE_REDUCE(float)
NIBBLE_INSTANTIATE_REDUCE(double)
NIBBLE_INSTANTIATE_REDUCE(int8_t)
NIBBLE_INSTANTIATE_REDUCE(uint8_t)
NIBBLE_INSTANTIATE_REDUCE(int16_t)
NIBBLE_INSTANTIATE_REDUCE(uint16_t)
NIBBLE_INSTANTIATE_REDUCE(int32_t)
NIBBLE_INSTANTIATE_REDUCE(uint32_t)
NIBBLE_INSTANTIATE_REDUCE(int64_t)
NIBBLE_INSTANTIATE_REDUCE(uint64_t)
NIBBLE_INSTANTIATE_REDUCE(bool)
#undef NIBBLE_INSTANTIATE_REDUCE

}  // namespace nibble
