#include "base/thread_pool.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
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

// Back-to-back jobs race the workers' claims of one job against the caller's
// publication of the next: every index must still be covered exactly once,
// with each chunk's slot index unused by any other chunk running meanwhile.
TEST(ThreadPool, BackToBackJobsCoverEveryIndexOnce) {
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
    for (int job = 0; job < 3000; ++job) {
      int64_t n = 1 + (job * 37) % 23;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.ParallelForChunks(n, [&](int slot, int64_t lo, int64_t hi) {
        ASSERT_GE(slot, 0);
        ASSERT_LT(slot, threads);
        EXPECT_EQ(busy[static_cast<size_t>(slot)]++, 0) << "slot " << slot << " used twice at once";
        for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
        busy[static_cast<size_t>(slot)]--;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "job " << job << " i=" << i;
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

// ParallelForTasks: every index once, one task (grain indices, from a
// multiple of grain) per call wherever tasks are shared out (more than one
// thread and task), and the whole range in one call otherwise; beyond
// kMaxTasks tasks it falls back to ParallelFor's chunks.
TEST(ThreadPool, TasksRunOnceEachAtEveryThreadCount) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t grain : {1, 3, 64}) {
      for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{7}, int64_t{1000}, ThreadPool::kMaxTasks,
                        ThreadPool::kMaxTasks * grain + 3}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int64_t> calls{0};
        const int64_t tasks = (n + grain - 1) / grain;
        const bool shared = threads > 1 && tasks > 1 && tasks <= ThreadPool::kMaxTasks;
        pool.ParallelForTasks(
            n,
            [&](int64_t lo, int64_t hi) {
              ASSERT_LT(lo, hi);
              ASSERT_LE(hi, n);
              if (shared) {
                ASSERT_EQ(lo % grain, 0);
                ASSERT_EQ(hi, std::min(n, lo + grain));
              }
              calls++;
              for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
            },
            grain);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "threads=" << threads << " n=" << n << " i=" << i;
        if (shared) EXPECT_EQ(calls.load(), tasks) << "threads=" << threads << " n=" << n;
        else if (tasks <= 1 || threads == 1) EXPECT_EQ(calls.load(), n > 0 ? 1 : 0) << "threads=" << threads << " n=" << n;
        else EXPECT_LE(calls.load(), threads) << "threads=" << threads << " n=" << n;
      }
    }
  }
}

// A thread that runs its tasks slowly gives them up to the faster one: the
// caller's tasks are instant, the worker's take 5 ms each, so of 40 tasks
// (20 per share) the caller runs its own 20 and takes most of the worker's
// (the worker gets 10 only if the caller stalls for 50 ms). With equal shares
// the caller would run 20 and the call would last 100 ms.
TEST(ThreadPool, TasksMoveToTheFasterThread) {
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> by_caller{0};
  std::vector<std::atomic<int>> hits(40);
  pool.ParallelForTasks(40, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
    if (std::this_thread::get_id() == caller) by_caller++;
    else std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  for (int i = 0; i < 40; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
  EXPECT_GE(by_caller.load(), 30);
}

// Back-to-back task jobs, mixed with chunk jobs: a thread still looking for
// tasks of one job must never take a task of the next (the shares carry the
// job's generation).
TEST(ThreadPool, BackToBackTaskJobsRunEveryTaskOnce) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    for (int job = 0; job < 3000; ++job) {
      const int64_t n = 1 + (job * 37) % 29;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      auto count = [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
      };
      if (job % 3 == 2) pool.ParallelFor(n, count);
      else pool.ParallelForTasks(n, count);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "job " << job << " i=" << i;
    }
  }
}

// A throwing task: the call returns only after every other task finished,
// with the error on the caller's thread.
TEST(ThreadPool, TaskErrorsReachTheCallerAfterEveryTaskFinished) {
  ThreadPool pool(2);
  std::atomic<int> finished{0};
  bool caught = false;
  try {
    pool.ParallelForTasks(6, [&](int64_t lo, int64_t) {
      if (lo == 4) throw std::runtime_error("task 4");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      finished++;
    });
  } catch (const std::runtime_error& e) {
    caught = true;
    EXPECT_EQ(std::string(e.what()), "task 4");
    EXPECT_EQ(finished.load(), 5) << "returned before the other tasks finished";
  }
  EXPECT_TRUE(caught);
}

// Runs `jobs` ParallelFor calls of two chunks on a two-thread pool whose
// threads share one CPU; each chunk sums its range and then busies its thread
// for `chunk_us`. Returns the seconds taken, or -1 if the thread could not
// be pinned.
double SecondsOnOneCpu(int jobs, int chunk_us) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed)) ++cpu;
  double seconds = -1;
  // A fresh thread pinned to one CPU; the pool's worker inherits its mask.
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return;
    ThreadPool pool(2);
    std::atomic<int64_t> total{0};
    auto start = std::chrono::steady_clock::now();
    for (int job = 0; job < jobs; ++job)
      pool.ParallelFor(64, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) total += i;
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(chunk_us);
        while (std::chrono::steady_clock::now() < until) {
        }
      });
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(total.load(), int64_t{jobs} * (63 * 64 / 2));
  });
  pinned.join();
  return seconds;
}

// When the OS runs the caller and a worker on one CPU (a container's CPU
// quota, another process on the other core, or the scheduler's own choice),
// a thread that spins waiting for the other only keeps it off that CPU: the
// pool used to spin up to 300 us per job there. The bounds are about ten
// times what the pool takes now (2000 tiny jobs: under 1 ms; 400 jobs of two
// 10-us chunks: about 9 ms, 8 of them the chunks' own) and well below what
// the spinning cost (1.2 s and 0.25 s).
TEST(ThreadPool, TwoThreadsOnOneCpuDoNotSpinAgainstEachOther) {
  double tiny = SecondsOnOneCpu(2000, 0);
  ASSERT_GE(tiny, 0) << "could not pin a thread to one CPU";
  EXPECT_LT(tiny, 0.04) << "2000 tiny jobs, two threads on one CPU";
  double busy = SecondsOnOneCpu(400, 10);
  EXPECT_LT(busy, 0.1) << "400 jobs of two 10-us chunks, two threads on one CPU";
}

}  // namespace
}  // namespace nibble
