// Float GEMM, delegated to a tuned BLAS (we do not hand-write float GEMM).
// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, row-major, with leading dimensions.
#pragma once
#include <cstdint>

namespace nibble {

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace nibble
