// Quantized matrix product of one matrix pair: the scalar ground truth for
// every integer GEMM / MatMul / FC kernel. Batching and broadcasting stay in
// the caller.
//
//   acc[i,j] = sum over l of (A[i,l] - a_zero_point[i]) * (B[l,j] - b_zero_point[j])   (int32)
//   C[i,j]   = Requantize(acc + bias[j], multiplier[j], c_zero_point, c_min, c_max)
//
// Zero points follow ONNX MatMulInteger: A's per tensor or per row (M values),
// B's per tensor or per column (N values). GemmQ8Int32Reference stops at acc
// (MatMulInteger). Requantization is per tensor or per column (per output
// channel of a fully connected layer); QLinearMatMul's per-row a_scale would
// need a per-(row, column) multiplier and is not supported here.
// Before computing anything both fail when some A could make acc + bias leave
// int32 for some column (bound: max_i max|A - a_zero_point[i]| *
// sum_l |B[l,j] - b_zero_point[j]| + |bias[j]|).
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/reference/requantize.h"

namespace nibble {

struct GemmQ8Params {
  int64_t m = 0, n = 0, k = 0;
  bool transpose_a = false;  // A stored as [K, M] (ONNX Gemm transA)
  bool transpose_b = false;  // B stored as [N, K] (ONNX Gemm transB)
  std::vector<int32_t> a_zero_point;  // empty (0), 1, or m values (per row)
  std::vector<int32_t> b_zero_point;  // empty (0), 1, or n values (per column)
  // Requantization (GemmQ8Reference only): multiplier[j] ~ a_scale * b_scale[j] / c_scale,
  // 1 value (per tensor) or n values (per column).
  std::vector<FixedPointMultiplier> multiplier;
  int32_t c_zero_point = 0;
  // Output clamp (fused Relu/Clip), narrowed to the output type's range.
  int32_t c_min = std::numeric_limits<int32_t>::min(), c_max = std::numeric_limits<int32_t>::max();
};

// TA, TB: uint8_t or int8_t each. c: [M, N] int32, row-major.
template <class TA, class TB>
void GemmQ8Int32Reference(const GemmQ8Params& p, const TA* a, const TB* b, int32_t* c);

// bias: [N] int32 or nullptr; c: [M, N] of TC (uint8_t or int8_t).
template <class TA, class TB, class TC>
void GemmQ8Reference(const GemmQ8Params& p, const TA* a, const TB* b, const int32_t* bias, TC* c);

}  // namespace nibble
