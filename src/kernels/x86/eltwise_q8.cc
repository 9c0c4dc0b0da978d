// Elementwise int8 kernels: parameter checks, the scalar level and dispatch.
#include "kernels/x86/eltwise_q8.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "nibble/error.h"

namespace nibble {
namespace {

int64_t NumElements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// The checks and clamp narrowing of the references' BroadcastQ8.
template <class T, class Params>
Params Prepared(Params p) {
  for (int32_t z : {p.a_zero_point, p.b_zero_point})
    NIBBLE_CHECK(z >= std::numeric_limits<T>::min() && z <= std::numeric_limits<T>::max(), "zero point ", z,
                 " is outside the input type");
  IntersectWithTypeRange<T>(p.y_min, p.y_max);
  return p;
}

template <class T, class Params, class F>
void ScalarSpan(const Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n, F&& op) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(op(static_cast<int32_t>(a[a_scalar ? 0 : i]), static_cast<int32_t>(b[b_scalar ? 0 : i]), p));
}

}  // namespace

bool EltwiseQ8Vectorizes(const Shape& a_shape, const Shape& b_shape) {
  if (a_shape == b_shape) return true;
  const int64_t na = NumElements(a_shape), nb = NumElements(b_shape);
  // One side a single element (any rank): y is the other side's elements in
  // order (its shape may gain leading 1s).
  return na == 1 || nb == 1;
}

template <class T>
void AddQ8Span(const AddQ8Params& params, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n,
               Isa isa) {
  const AddQ8Params p = Prepared<T>(params);
  if (n <= 0) return;
  if (isa == Isa::kScalar || (a_scalar && b_scalar)) {
    ScalarSpan(p, a, a_scalar, b, b_scalar, y, n, [](int32_t qa, int32_t qb, const AddQ8Params& q) { return AddQ8(qa, qb, q); });
  } else if (p.rule == AddQ8Params::Rule::kInt32) {
    // The vector operand first; a broadcast b (or a) joins the bias.
    eltq8_detail::AddInt32Span s{p.bias, p.a_mult, p.b_mult, p.shift, p.y_zero_point, p.y_min, p.y_max};
    const T* x = a;
    const T* z = b;
    if (a_scalar) {
      std::swap(x, z);
      std::swap(s.mx, s.mz);
    }
    if (a_scalar || b_scalar) {
      s.c0 += s.mz * int32_t{*z};  // a partial sum of acc: no overflow (add_mul_q8.h)
      z = nullptr;
    }
    if (isa >= Isa::kAvx512Vnni) eltq8_detail::AddInt32Avx512(s, x, z, y, n);
    else eltq8_detail::AddInt32Avx2(s, x, z, y, n);
  } else if (isa >= Isa::kAvx512Vnni) {
    eltq8_detail::AddRescale64Avx512(p, a, a_scalar, b, b_scalar, y, n);
  } else {
    eltq8_detail::AddRescale64Avx2(p, a, a_scalar, b, b_scalar, y, n);
  }
}

template <class T>
void MulQ8Span(const MulQ8Params& params, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n,
               Isa isa) {
  const MulQ8Params p = Prepared<T>(params);
  if (n <= 0) return;
  if (isa == Isa::kScalar || (a_scalar && b_scalar)) {
    ScalarSpan(p, a, a_scalar, b, b_scalar, y, n, [](int32_t qa, int32_t qb, const MulQ8Params& q) { return MulQ8(qa, qb, q); });
  } else if (isa >= Isa::kAvx512Vnni) {
    eltq8_detail::MulAvx512(p, a, a_scalar, b, b_scalar, y, n);
  } else {
    eltq8_detail::MulAvx2(p, a, a_scalar, b, b_scalar, y, n);
  }
}

template <class T>
void AddQ8X86(const AddQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y, Isa isa) {
  if (!EltwiseQ8Vectorizes(a_shape, b_shape)) return AddQ8Reference(p, a_shape, a, b_shape, b, y);
  const int64_t na = NumElements(a_shape), nb = NumElements(b_shape);
  const bool a_scalar = a_shape != b_shape && na == 1, b_scalar = a_shape != b_shape && !a_scalar;
  AddQ8Span(p, a, a_scalar, b, b_scalar, y, a_scalar ? nb : na, isa);
}

template <class T>
void MulQ8X86(const MulQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y, Isa isa) {
  if (!EltwiseQ8Vectorizes(a_shape, b_shape)) return MulQ8Reference(p, a_shape, a, b_shape, b, y);
  const int64_t na = NumElements(a_shape), nb = NumElements(b_shape);
  const bool a_scalar = a_shape != b_shape && na == 1, b_scalar = a_shape != b_shape && !a_scalar;
  MulQ8Span(p, a, a_scalar, b, b_scalar, y, a_scalar ? nb : na, isa);
}

void ApplyLutQ8X86(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n, Isa isa) {
  if (n <= 0) return;
  if (isa >= Isa::kAvx512Vnni) eltq8_detail::LutAvx512(table, x, y, n);
  else if (isa == Isa::kAvx2 || isa == Isa::kAvxVnni) eltq8_detail::LutAvx2(table, x, y, n);
  else ApplyLutQ8(table, x, y, n);
}

#define NIBBLE_ELTQ8(T)                                                                                           \
  template void AddQ8Span<T>(const AddQ8Params&, const T*, bool, const T*, bool, T*, int64_t, Isa);              \
  template void MulQ8Span<T>(const MulQ8Params&, const T*, bool, const T*, bool, T*, int64_t, Isa);              \
  template void AddQ8X86<T>(const AddQ8Params&, const Shape&, const T*, const Shape&, const T*, T*, Isa);         \
  template void MulQ8X86<T>(const MulQ8Params&, const Shape&, const T*, const Shape&, const T*, T*, Isa);
NIBBLE_ELTQ8(uint8_t)
NIBBLE_ELTQ8(int8_t)
#undef NIBBLE_ELTQ8

}  // namespace nibble
