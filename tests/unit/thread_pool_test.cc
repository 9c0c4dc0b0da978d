#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace nibble {
namespace {

TEST(ThreadPool, CoversTheRangeOnceAtEveryThreadCount) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.ParallelForChunks(n, [&](int chunk, int64_t lo, int64_t hi) {
        EXPECT_GE(chunk, 0);
        EXPECT_LT(chunk, threads);
        for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

// A throwing chunk must not let the call return while another chunk still
// runs (it would use the caller's freed frame), and an exception thrown on a
// worker thread must reach the caller instead of terminating the process.
TEST(ThreadPool, ErrorsReachTheCallerAfterEveryChunkFinished) {
  ThreadPool pool(3);
  for (int thrower = 0; thrower < 3; ++thrower) {
    std::atomic<int> finished{0};
    bool caught = false;
    try {
      pool.ParallelForChunks(3, [&](int, int64_t lo, int64_t) {
        if (lo == thrower) throw std::runtime_error("chunk " + std::to_string(lo));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        finished++;
      });
    } catch (const std::runtime_error& e) {
      caught = true;
      EXPECT_EQ(std::string(e.what()), "chunk " + std::to_string(thrower));
      EXPECT_EQ(finished.load(), 2) << "returned before the other chunks finished";
    }
    EXPECT_TRUE(caught) << "thrower " << thrower;
  }
  // The pool still works after errors.
  std::atomic<int64_t> sum{0};
  pool.ParallelFor(100, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 4950);
}

}  // namespace
}  // namespace nibble
