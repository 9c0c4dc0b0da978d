// Vectorized elementwise int8 kernels, bit-exact with their references:
//   AddQ8 / MulQ8 (add_mul_q8.h arithmetic) for same-shape operands and for one
//   operand that is a single element (scalar broadcast); anything else falls
//   back to AddQ8Reference / MulQ8Reference.
//   ApplyLutQ8 (lut_q8.h): the 256-entry byte table.
// Every function takes the ISA level (default ActiveIsa()); kScalar runs the
// references' per-element functions, kAvxVnni runs the AVX2 code.
#pragma once
#include <cstdint>

#include "kernels/reference/add_mul_q8.h"
#include "kernels/reference/lut_q8.h"
#include "kernels/x86/isa.h"
#include "nibble/tensor.h"

namespace nibble {

// True when the shapes take the vectorized path: equal shapes, or one side
// with a single element (of any rank).
bool EltwiseQ8Vectorizes(const Shape& a_shape, const Shape& b_shape);

// Same signatures as AddQ8Reference / MulQ8Reference, plus the ISA level.
template <class T>
void AddQ8X86(const AddQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y,
              Isa isa = ActiveIsa());
template <class T>
void MulQ8X86(const MulQ8Params& p, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* y,
              Isa isa = ActiveIsa());

// Span forms, for splitting n over threads: y[i] = op(a[i or 0], b[i or 0]) for
// i in [0, n); a_scalar / b_scalar: that operand is one element, broadcast.
// (Fails when the zero points lie outside T or the clamp leaves nothing, like
// the references.)
template <class T>
void AddQ8Span(const AddQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n,
               Isa isa = ActiveIsa());
template <class T>
void MulQ8Span(const MulQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n,
               Isa isa = ActiveIsa());

// y[i] = table[x[i]]; the same contract as ApplyLutQ8 (x and y may be equal).
void ApplyLutQ8X86(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n, Isa isa = ActiveIsa());
template <class TX, class TY>
void ApplyLutQ8X86(const LutQ8& table, const TX* x, TY* y, int64_t n, Isa isa = ActiveIsa()) {
  static_assert(sizeof(TX) == 1 && sizeof(TY) == 1, "lookup tables map bytes to bytes");
  ApplyLutQ8X86(table, reinterpret_cast<const uint8_t*>(x), reinterpret_cast<uint8_t*>(y), n, isa);
}

// Internal: the per-ISA spans (parameters already checked and clamps narrowed).
namespace eltq8_detail {
// AddQ8's kInt32 rule over a span with the operands in a fixed order: x is a
// vector operand, z the other one or null when it is a broadcast scalar, whose
// term is then folded into c0 (the sum is exact in any order, add_mul_q8.h):
//   y[i] = clamp(((c0 + x[i] mx + z[i] mz) >> shift) + zero_point, lo, hi)
// with shift >= AddQ8Params::kMinInt32Shift (the kernels narrow through int16).
struct AddInt32Span {
  int32_t c0, mx, mz, shift, zero_point, lo, hi;
};
template <class T>
void AddInt32Avx512(const AddInt32Span& s, const T* x, const T* z, T* y, int64_t n);
template <class T>
void AddInt32Avx2(const AddInt32Span& s, const T* x, const T* z, T* y, int64_t n);
// AddQ8's kRescale64 rule.
template <class T>
void AddRescale64Avx512(const AddQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n);
template <class T>
void AddRescale64Avx2(const AddQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n);
template <class T>
void MulAvx512(const MulQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n);
template <class T>
void MulAvx2(const MulQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n);
void LutAvx512(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n);
void LutAvx2(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n);
}  // namespace eltq8_detail

}  // namespace nibble
