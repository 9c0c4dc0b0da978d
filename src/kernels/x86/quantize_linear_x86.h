// Vectorized QuantizeLinear (float -> 8-bit code) for one scale and zero
// point, bit-exact with QuantizeValue (requantize.h): x / scale in float32
// (IEEE division, as the scalar code), round half to even (explicit rounding
// mode, not MXCSR's), + zero point, saturate; NaN gives the zero point.
// A model's float input goes through this once per inference.
#pragma once
#include <cstdint>

#include "kernels/x86/isa.h"

namespace nibble {

// T: uint8_t or int8_t. scale must be finite and positive (callers check).
template <class T>
void QuantizeLinearX86(const float* x, T* y, int64_t n, float scale, int32_t zero_point, Isa isa = ActiveIsa());

namespace quantize_linear_detail {
template <class T>
void RunAvx512(const float* x, T* y, int64_t n, float scale, int32_t zero_point);
template <class T>
void RunAvx2(const float* x, T* y, int64_t n, float scale, int32_t zero_point);
}  // namespace quantize_linear_detail

}  // namespace nibble
