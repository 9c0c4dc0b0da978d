// Float GEMM, delegated to a tuned BLAS (we do not hand-write float GEMM).
// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, row-major, with leading dimensions.
#pragma once
#include <signal.h>

#include <cstdint>

namespace nibble {

// Keeps asynchronous signals pending on this thread while it lives. oneDNN
// 2.6's JIT SGEMM kernels (Debian 12's libdnnl) point rsp into a heap
// workspace while they run (oneDNN issue 4845, fixed in 3.11): a signal
// handler would push its frame there and corrupt the heap (seen as ASan
// reports under libFuzzer's timer, and as "double free or corruption" in
// sgemm_signal_test). Sgemm holds one; a caller making many Sgemm calls holds
// one around them all, so that the mask is set once (nested ones cost a
// counter). Signals a fault raises synchronously stay unblocked: blocking
// them would not delay them, only change how they kill.
class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked();
  ~AsyncSignalsBlocked();
  AsyncSignalsBlocked(const AsyncSignalsBlocked&) = delete;
  AsyncSignalsBlocked& operator=(const AsyncSignalsBlocked&) = delete;

 private:
  static thread_local int depth_;
  sigset_t old_;
};

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace nibble
