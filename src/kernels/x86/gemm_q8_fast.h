// Fast quantized matrix product with constant weights (fully connected,
// MatMul / Gemm with an int8 initializer as B), bit-exact with GemmQ8Reference:
//
//   C[M, N] = requantize(A[M, K] * B[K, N] + bias)      (B given as [K, N] or [N, K])
//
// B is packed once (PackGemmQ8) into panels of nr output features; each task
// packs its rows of A (shifted to u8) and runs the micro-kernels of
// gemm_q8_microkernel.h with the requantization fused into the store.
//
// Threading: GemmQ8FastTaskCount(packed, m) independent tasks (blocks of rows
// x blocks of output features); call GemmQ8FastRun over any partition of
// [0, count) from any threads. Tasks write disjoint tiles of C; per-thread
// scratch is thread_local and only grows.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/reference/gemm_q8.h"
#include "kernels/x86/isa.h"

namespace nibble {

struct GemmQ8Packed {
  Isa isa = Isa::kScalar;
  int mr = 0, nr = 0;
  bool wide = false;  // A's rows widened to int16 for the kernel (AVX2 level)
  int64_t n = 0, k = 0, k4 = 0, n_panels = 0;
  std::vector<int8_t> b8;  // [n_panels][k4][nr][4], zero padded
  // bias[j] - a_zero_point' * sum_l B[l, j] (wrapped), a_zero_point' being A's
  // zero point shifted to u8 (+128 for int8 A).
  std::vector<int32_t> bias_u8, bias_s8;
  std::vector<int32_t> mult, shift;  // 1 (per tensor) or n values
  int32_t a_zero_point = 0, c_zero_point = 0, c_min = 0, c_max = 0;
};

// True when the fast path equals GemmQ8Reference for p, B and bias: A not
// transposed, A's zero point per tensor (0 or 1 value) within A's type, B's
// zero points all 0, 1 or N multipliers with shift in [1, 62],
// |c_zero_point| <= 2^16, and the reference's int32 bound holds.
bool GemmQ8FastSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, bool a_signed);

// Packs B ([K, N], or [N, K] when p.transpose_b) for `isa` (lowered to what
// this CPU runs). p.m is not used: any number of rows can be run.
GemmQ8Packed PackGemmQ8(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, Isa isa);

int64_t GemmQ8FastTaskCount(const GemmQ8Packed& packed, int64_t m);

// Runs tasks [task_lo, task_hi) of C = A * B for m rows. a: [m, K] row-major
// (uint8_t or int8_t); c: [m, N] row-major (uint8_t or int8_t).
template <class TA, class TC>
void GemmQ8FastRun(const GemmQ8Packed& packed, int64_t m, const TA* a, TC* c, int64_t task_lo, int64_t task_hi);

}  // namespace nibble
