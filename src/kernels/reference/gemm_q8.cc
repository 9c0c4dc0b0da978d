#include "kernels/reference/gemm_q8.h"

#include <cstdlib>

#include "nibble/error.h"

namespace nibble {
namespace {

int32_t ZeroPointAt(const std::vector<int32_t>& v, int64_t i) { return v.empty() ? 0 : v[v.size() == 1 ? 0 : i]; }

template <class T>
void CheckZeroPoints(const std::vector<int32_t>& z, int64_t count, const char* what) {
  NIBBLE_CHECK(z.size() <= 1 || static_cast<int64_t>(z.size()) == count, "GemmQ8: ", z.size(), " zero points for ",
               what, " where 1 or ", count, " are expected");
  for (int32_t v : z)
    NIBBLE_CHECK(v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max(), "GemmQ8: zero point ", v,
                 " of ", what, " is outside its type");
}

template <class TA, class TB>
void CheckGemmQ8(const GemmQ8Params& p, const TB* b, const int32_t* bias) {
  NIBBLE_CHECK(p.m >= 0 && p.n >= 0 && p.k >= 0, "GemmQ8: negative size");
  CheckZeroPoints<TA>(p.a_zero_point, p.m, "A (per row)");
  CheckZeroPoints<TB>(p.b_zero_point, p.n, "B (per column)");
  int64_t a_max = p.a_zero_point.empty() ? MaxAbsOffset<TA>(0) : 0;
  for (int32_t z : p.a_zero_point) a_max = std::max(a_max, MaxAbsOffset<TA>(z));
  for (int64_t j = 0; j < p.n; ++j) {
    const int32_t zb = ZeroPointAt(p.b_zero_point, j);
    int64_t b_sum = 0;
    for (int64_t l = 0; l < p.k; ++l) b_sum += std::llabs(int64_t{b[p.transpose_b ? j * p.k + l : l * p.n + j]} - zb);
    const int64_t bound = a_max * b_sum + (bias ? std::llabs(bias[j]) : 0);
    NIBBLE_CHECK(bound <= std::numeric_limits<int32_t>::max(), "GemmQ8: column ", j,
                 " can overflow the int32 accumulator (worst case ", bound, " over ", p.k, " products)");
  }
}

template <class TA, class TB, class Store>
void GemmQ8Loop(const GemmQ8Params& p, const TA* a, const TB* b, Store&& store) {
  for (int64_t i = 0; i < p.m; ++i) {
    const int32_t za = ZeroPointAt(p.a_zero_point, i);
    for (int64_t j = 0; j < p.n; ++j) {
      const int32_t zb = ZeroPointAt(p.b_zero_point, j);
      int64_t acc = 0;
      for (int64_t l = 0; l < p.k; ++l) {
        const int64_t av = int64_t{a[p.transpose_a ? l * p.m + i : i * p.k + l]} - za;
        const int64_t bv = int64_t{b[p.transpose_b ? j * p.k + l : l * p.n + j]} - zb;
        acc += av * bv;
      }
      store(i * p.n + j, j, static_cast<int32_t>(acc));  // exact: CheckGemmQ8 bounds it by int32
    }
  }
}

}  // namespace

template <class TA, class TB>
void GemmQ8Int32Reference(const GemmQ8Params& p, const TA* a, const TB* b, int32_t* c) {
  CheckGemmQ8<TA, TB>(p, b, nullptr);
  GemmQ8Loop(p, a, b, [&](int64_t idx, int64_t, int32_t acc) { c[idx] = acc; });
}

template <class TA, class TB, class TC>
void GemmQ8Reference(const GemmQ8Params& p, const TA* a, const TB* b, const int32_t* bias, TC* c) {
  CheckGemmQ8<TA, TB>(p, b, bias);
  NIBBLE_CHECK(p.multiplier.size() == 1 || static_cast<int64_t>(p.multiplier.size()) == p.n, "GemmQ8: ",
               p.multiplier.size(), " requantization multipliers for ", p.n, " columns");
  int32_t lo = p.c_min, hi = p.c_max;
  IntersectWithTypeRange<TC>(lo, hi);
  GemmQ8Loop(p, a, b, [&](int64_t idx, int64_t j, int32_t acc) {
    const FixedPointMultiplier& mult = p.multiplier[p.multiplier.size() == 1 ? 0 : j];
    c[idx] = static_cast<TC>(Requantize(acc + (bias ? bias[j] : 0), mult, p.c_zero_point, lo, hi));
  });
}

#define NIBBLE_INSTANTIATE_GEMM_Q8_INT32(TA, TB) \
  template void GemmQ8Int32Reference<TA, TB>(const GemmQ8Params&, const TA*, const TB*, int32_t*);
#define NIBBLE_INSTANTIATE_GEMM_Q8(TA, TB, TC) \
  template void GemmQ8Reference<TA, TB, TC>(const GemmQ8Params&, const TA*, const TB*, const int32_t*, TC*);
NIBBLE_INSTANTIATE_GEMM_Q8_INT32(uint8_t, int8_t)
NIBBLE_INSTANTIATE_GEMM_Q8_INT32(int8_t, int8_t)
NIBBLE_INSTANTIATE_GEMM_Q8_INT32(uint8_t, uint8_t)
NIBBLE_INSTANTIATE_GEMM_Q8_INT32(int8_t, uint8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(uint8_t, int8_t, uint8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(uint8_t, int8_t, int8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(int8_t, int8_t, uint8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(int8_t, int8_t, int8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(uint8_t, uint8_t, uint8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(uint8_t, uint8_t, int8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(int8_t, uint8_t, uint8_t)
NIBBLE_INSTANTIATE_GEMM_Q8(int8_t, uint8_t, int8_t)
#undef NIBBLE_INSTANTIATE_GEMM_Q8
#undef NIBBLE_INSTANTIATE_GEMM_Q8_INT32

}  // namespace nibble
