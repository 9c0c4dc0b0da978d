// QDQ -> QONNX: the quantized model rewritten with QONNX's quantizers
// (domain qonnx.custom_op.general), for `nibble convert --to qonnx`.
//
//   int codes [-> Clip(lo, hi)] -> DequantizeLinear(s, z)          (weights)
//       -> Quant(float weights, s, z, bits) or, for codes in {-1, +1} under
//          Clip(-1, 1), BipolarQuant(float weights, s)
//   int32 bias -> DequantizeLinear                                   -> the float bias
//   QuantizeLinear(x, s, z) [-> Clip(lo, hi)] -> DequantizeLinear(s, z)
//       -> Quant(x, s, z, bits)   (rounding ROUND; signed/narrow/bits from the code type and Clip bounds)
//
// Scales and zero points become float tensors shaped to broadcast against the
// tensor they quantize. Q/DQ pairs this cannot express (non-constant
// parameters, a Q read by several nodes, per-channel activations of unknown
// rank) are left as they are; qonnx runs standard ops itself.
#pragma once
#include "graph/graph.h"

namespace nibble {

// Returns how many Quant/BipolarQuant nodes were written.
int ConvertQdqToQonnx(Graph& g);

}  // namespace nibble
