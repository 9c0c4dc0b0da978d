// Round trip of one cache line between the first two CPUs this process may
// run on: two threads, one per CPU, hand a counter back and forth. About 50
// ns when the CPUs share a cache (one die); several hundred when a host
// placed them on different dies, where every chunk handed between threads
// and every activation one thread writes and the other reads crosses too.
// bench/compare.py runs it before each round of 2-thread timings and prints
// what it found. Prints the median of 7 batches in ns, or an error line.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

alignas(64) std::atomic<long> g_turn{0};

bool Pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  return pthread_setaffinity_np(pthread_self(), sizeof(s), &s) == 0;
}

}  // namespace

int main() {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    std::puts("error: sched_getaffinity failed");
    return 1;
  }
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.size() < 2) {
    std::puts("error: fewer than 2 CPUs");
    return 1;
  }
  constexpr long kTrips = 20000;
  constexpr int kBatches = 7;
  std::thread echo([&] {
    Pin(cpus[1]);
    for (long i = 0; i < kTrips * kBatches; ++i) {
      while (g_turn.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      g_turn.store(2 * i + 2, std::memory_order_release);
    }
  });
  Pin(cpus[0]);
  std::vector<double> ns;
  long i = 0;
  for (int b = 0; b < kBatches; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long end = i + kTrips; i < end; ++i) {
      g_turn.store(2 * i + 1, std::memory_order_release);
      while (g_turn.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kTrips);
  }
  echo.join();
  std::sort(ns.begin(), ns.end());
  std::printf("round_trip_ns=%.1f cpus=%d,%d\n", ns[kBatches / 2], cpus[0], cpus[1]);
  return 0;
}
