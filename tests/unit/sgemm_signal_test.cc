// A signal arriving while the float GEMM runs must not corrupt anything.
// oneDNN 2.6's JIT SGEMM kernels (Debian 12's libdnnl) point rsp into a heap
// workspace while they run (oneDNN issue 4845, fixed in 3.11), so a signal
// handler's frame lands in that workspace: packed operands are overwritten
// (wrong products) or malloc's metadata is (a crash). Sgemm keeps asynchronous
// signals blocked around the call; this test fires a timer signal every 20 us
// across many GEMMs and checks every product.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <cmath>
#include <vector>

#include "kernels/blas/sgemm.h"
#include "test_util.h"

namespace nibble {
namespace {

volatile sig_atomic_t g_ticks = 0;

// Writes a few hundred bytes below the interrupted stack pointer, as any
// real handler's frame does.
void OnTimer(int) {
  volatile char frame[512];
  for (int i = 0; i < 512; i += 64) frame[i] = static_cast<char>(i);
  g_ticks = g_ticks + 1 + (frame[64] & 0);
}

TEST(Sgemm, SignalsDuringTheJitKernelCorruptNothing) {
  const int n = 384;
  Tensor a = testing::RandomTensor({n * n}, 1), b = testing::RandomTensor({n * n}, 2);
  std::vector<float> want(n * n), got(n * n);
  Sgemm(false, false, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n, 0.f, want.data(), n);
  for (int i = 0; i < n; i += 37)
    for (int j = 0; j < n; j += 41) {
      double s = 0;
      for (int p = 0; p < n; ++p) s += double(a.data<float>()[i * n + p]) * b.data<float>()[p * n + j];
      ASSERT_NEAR(want[i * n + j], s, 1e-3 * (1 + std::fabs(s)));
    }

  struct sigaction sa = {}, old_sa = {};
  sa.sa_handler = OnTimer;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old_sa), 0);
  itimerval tv = {}, old_tv = {};
  tv.it_interval.tv_usec = 20;
  tv.it_value.tv_usec = 20;
  ASSERT_EQ(setitimer(ITIMER_REAL, &tv, &old_tv), 0);
  int bad = 0;
  for (int rep = 0; rep < 60; ++rep) {
    Sgemm(false, false, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n, 0.f, got.data(), n);
    for (int i = 0; i < n * n; ++i) bad += got[i] != want[i];
  }
  itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &old_sa, nullptr);
  EXPECT_EQ(bad, 0) << "products changed while signals arrived";
  EXPECT_GT(g_ticks, 10) << "the timer never fired: the test proved nothing";
}

}  // namespace
}  // namespace nibble
