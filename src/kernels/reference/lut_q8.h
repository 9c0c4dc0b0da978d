// Any elementwise function of one 8-bit input as a 256-entry lookup table
// (Sigmoid, Tanh, HardSwish, LeakyRelu, Exp, ...): the table holds, for every
// input code q, the output code of the float function applied to q's value:
//
//   table[uint8_t(q)] = QuantizeValue(f(DequantizeValue(q, s_in, z_in)), s_out, z_out)
//
// i.e. exactly what DequantizeLinear -> f (float32) -> QuantizeLinear computes
// (round half to even, saturate to the output's [qmin, qmax], NaN -> zero point).
// The table is indexed by the input byte (a signed code q reads entry q & 0xFF)
// and holds output bytes, the form vector lookups (pshufb, vpermb) take.
#pragma once
#include <array>
#include <cstdint>
#include <functional>

#include "base/quant_params.h"

namespace nibble {

using LutQ8 = std::array<uint8_t, 256>;

// in, out: per-tensor, at most 8 bits (is_signed picks int8 or uint8 codes; the
// output is saturated to out.qmin()..out.qmax(), so narrow and low-bit ranges
// hold). Entries for input codes outside in.qmin()..in.qmax() are filled too.
LutQ8 BuildLutQ8(const std::function<float(float)>& f, const QuantParams& in, const QuantParams& out);

// y[i] = table[x[i]] over bytes; int8_t/uint8_t codes of either side pass as bytes.
void ApplyLutQ8(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n);

template <class TX, class TY>
void ApplyLutQ8(const LutQ8& table, const TX* x, TY* y, int64_t n) {
  static_assert(sizeof(TX) == 1 && sizeof(TY) == 1, "lookup tables map bytes to bytes");
  ApplyLutQ8(table, reinterpret_cast<const uint8_t*>(x), reinterpret_cast<uint8_t*>(y), n);
}

}  // namespace nibble
