// A fixed pool of worker threads. ParallelFor splits [0, n) into contiguous
// chunks, one per thread (the caller's thread takes the first), and returns
// when all are done. With one thread everything runs inline. If a chunk
// throws, the call still waits for every other chunk, then rethrows the first
// error on the caller's thread (a worker must never outlive the job it runs,
// and an exception must never escape a worker: that would terminate).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nibble {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }
  // fn(begin, end) over a partition of [0, n); chunks are at least `grain` long.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);
  // Like ParallelFor, and fn also gets its chunk's index in [0, num_threads()),
  // distinct among concurrent calls: an index into per-thread scratch buffers.
  void ParallelForChunks(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn, int64_t grain = 1);

 private:
  void WorkerLoop(int index);
  // Runs one chunk; an exception is kept in error_ (the first one wins).
  void RunCaught(const std::function<void(int, int64_t, int64_t)>& fn, int index, int64_t lo, int64_t hi);
  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int, int64_t, int64_t)>* job_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};
  std::exception_ptr error_;  // guarded by mu_
};

// Threads to use when the user says 0 ("all"): the machine's hardware threads.
int DefaultThreadCount();

}  // namespace nibble
