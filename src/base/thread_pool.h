// A fixed pool of worker threads. ParallelFor splits [0, n) into contiguous
// chunks and returns when all are done. With one thread everything runs
// inline. If a chunk throws, the call still waits for every other chunk, then
// rethrows the first error on the caller's thread (a worker must never
// outlive the job it runs, and an exception must never escape a worker: that
// would terminate).
//
// Chunks are claimed, not assigned: the caller and the workers take the next
// unclaimed chunk from one atomic counter. A worker that has not started (it
// is asleep, or the OS runs it on the caller's CPU, or the host gave its CPU
// away) therefore never holds the caller up: the caller runs its chunks too.
// Waiting is spinning, except where the spinning thread would take the CPU
// from the thread it waits for (both on one CPU): there it sleeps at once.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
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
  // Like ParallelFor, and fn also gets an index in [0, num_threads()) that is
  // distinct among chunks running at the same time (the running thread's
  // slot): an index into per-thread scratch buffers.
  void ParallelForChunks(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn, int64_t grain = 1);
  // fn(lo, hi) over a partition of [0, n) into tasks of `grain` consecutive
  // indices (the last one shorter), balanced while they run: each thread
  // starts on its own contiguous share of the tasks and runs it front to back,
  // one task per call; a thread whose share is used up takes tasks one at a
  // time from the back of the share with the most left. Equal shares wait for
  // the slower thread, and this host's two CPUs often run at different speeds
  // at the same moment (the same AMX conv measured 0.18 ms on one and 0.44 ms
  // on the other, both running at once). Contiguous shares keep what
  // consecutive tasks share (a conv's staged input rows) on one thread. More
  // than kMaxTasks tasks run as ParallelFor does.
  void ParallelForTasks(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);
  static constexpr int64_t kMaxTasks = 0xffff;

 private:
  struct Slot;
  struct Share;
  void WorkerLoop(int slot);
  // Claims and runs chunks of job `gen` until none is left.
  void RunChunks(uint32_t gen, int slot);
  // Runs one chunk; an exception is kept in error_ (the first one wins).
  void RunCaught(int slot, int64_t lo, int64_t hi);
  // Publishes a job of `chunks` chunks (shares of tasks if `tasks`), runs
  // chunks on this thread too and returns when all are done, rethrowing the
  // first error.
  void RunJob(int chunks, bool tasks, const std::function<void(int, int64_t, int64_t)>& fn);
  // Runs the tasks of share `own`, then takes others' (ParallelForTasks).
  void RunTasks(uint32_t gen, int slot, int own, int shares);
  // Whether some thread still running a chunk sits on CPU `cpu`.
  bool ChunkRunningOn(int cpu) const;

  int num_threads_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<Share[]> shares_;  // ParallelForTasks: one per chunk
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  // The job: written by the caller before it publishes claim_, read by a
  // thread only after it claimed one of the job's chunks.
  const std::function<void(int, int64_t, int64_t)>* job_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  // generation (bits 63..32) | chunk count (31..16) | next chunk (15..0).
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> done_{0};          // chunks of the current job finished
  bool tasks_ = false;                // the job is a ParallelForTasks (written like job_)
  std::atomic<int> caller_cpu_{-1};   // where the caller last ran
  uint32_t generation_ = 0;           // the caller's own copy
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;  // guarded by mu_
};

// Threads to use when the user says 0 ("all"): the machine's hardware threads.
int DefaultThreadCount();

}  // namespace nibble
