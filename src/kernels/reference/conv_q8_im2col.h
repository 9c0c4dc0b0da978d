// Faster quantized 2-D convolution for the runtime until the SIMD kernels
// land: im2col of the codes (padding filled with the input zero point), then
// an int32 GEMM whose inner loop the compiler vectorizes, then the same
// Requantize as ConvQ8Reference. Bit-exact with ConvQ8Reference (tested).
// Weights must have zero point 0 (what nibble's quantizer writes).
#pragma once
#include <vector>

#include "kernels/reference/conv_q8.h"

namespace nibble {

template <class TX, class TY>
void ConvQ8Im2col(const ConvQ8Params& p, const TX* x, const int8_t* w, const int32_t* bias, TY* y,
                  std::vector<TX>& col, std::vector<int32_t>& acc);

}  // namespace nibble
