#include "base/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

namespace nibble {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How long an idle worker (or a caller waiting for workers) spins before
// sleeping. Kernels run back to back; waking a sleeping thread costs tens of
// microseconds per op, which on ResNet-18 at 2 threads added up to ~25% of
// the run time. Spinning this long costs nothing measurable when idle.
constexpr auto kSpin = std::chrono::microseconds(300);

// The CPU this thread runs on, or -1 where the OS does not say. glibc reads
// it from the thread's rseq area: a load, not a system call.
inline int CurrentCpu() { return sched_getcpu(); }

// Spins until done() or kSpin has passed, or until give_up() says spinning
// only keeps another thread off the CPU. Returns done().
template <class Done, class GiveUp>
bool SpinUntil(Done done, GiveUp give_up) {
  auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    CpuRelax();
    if ((i & 31) == 31) {
      if (give_up()) return done();
      if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) return done();
    }
  }
}

constexpr uint64_t Pack(uint32_t gen, int chunks, int next) {
  return (uint64_t{gen} << 32) | (uint64_t(chunks) << 16) | uint64_t(next);
}
constexpr uint32_t GenOf(uint64_t s) { return uint32_t(s >> 32); }
constexpr int ChunksOf(uint64_t s) { return int((s >> 16) & 0xffff); }
constexpr int NextOf(uint64_t s) { return int(s & 0xffff); }

// Where chunk c of n items split into `chunks` near-equal contiguous chunks
// starts (the first n % chunks are one longer); chunk c ends where c + 1 starts.
constexpr int64_t ChunkBegin(int64_t n, int chunks, int c) { return c * (n / chunks) + std::min<int64_t>(c, n % chunks); }

// A ParallelForTasks share: generation (bits 63..32) | first task left
// (31..16) | end (15..0). The generation keeps a thread that is late from
// taking tasks of a later job.
constexpr uint64_t PackShare(uint32_t gen, int64_t lo, int64_t hi) {
  return (uint64_t{gen} << 32) | (uint64_t(lo) << 16) | uint64_t(hi);
}
constexpr int LoOf(uint64_t s) { return int((s >> 16) & 0xffff); }
constexpr int HiOf(uint64_t s) { return int(s & 0xffff); }

}  // namespace

// One per thread (slot 0 is the caller), on its own cache line: the CPU the
// thread runs a chunk on, -1 while it runs none.
struct alignas(64) ThreadPool::Slot {
  std::atomic<int> running_cpu{-1};
};

// One per chunk of a ParallelForTasks, on its own cache line: its owner takes
// from the front, others from the back.
struct alignas(64) ThreadPool::Share {
  std::atomic<uint64_t> left{0};
};

int DefaultThreadCount() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(std::clamp(num_threads, 1, 0xffff)),
      slots_(new Slot[static_cast<size_t>(num_threads_)]),
      shares_(new Share[static_cast<size_t>(num_threads_)]),
      ranges_(static_cast<size_t>(num_threads_)) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

bool ThreadPool::ChunkRunningOn(int cpu) const {
  if (cpu < 0) return false;
  for (int i = 0; i < num_threads_; ++i)
    if (slots_[i].running_cpu.load(std::memory_order_relaxed) == cpu) return true;
  return false;
}

void ThreadPool::WorkerLoop(int slot) {
  uint32_t seen = 0;
  auto fresh = [&] { return GenOf(claim_.load(std::memory_order_acquire)) != seen || stop_.load(); };
  for (;;) {
    // Spinning on the caller's CPU would only delay the caller (and the job
    // this worker waits for): sleep instead.
    bool woke = SpinUntil(fresh, [&] {
      int cpu = CurrentCpu();
      return cpu >= 0 && cpu == caller_cpu_.load(std::memory_order_relaxed);
    });
    if (!woke) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, fresh);
    }
    if (stop_.load()) return;
    seen = GenOf(claim_.load(std::memory_order_acquire));
    RunChunks(seen, slot);
  }
}

void ThreadPool::RunChunks(uint32_t gen, int slot) {
  uint64_t s = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (GenOf(s) != gen || NextOf(s) >= ChunksOf(s)) return;
    if (!claim_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The chunk is ours: the job's data stays put until it is done.
    int chunk = NextOf(s), chunks = ChunksOf(s);
    // (A ParallelForTasks is done when every chunk is: a chunk's thread
    // returns once no share has a task left, and only after its own last
    // task; so no thread is left holding a chunk, reading the job, when the
    // caller moves on.)
    slots_[slot].running_cpu.store(CurrentCpu(), std::memory_order_relaxed);
    if (tasks_) RunTasks(gen, slot, chunk, chunks);
    else RunCaught(slot, ranges_[chunk].first, ranges_[chunk].second);
    slots_[slot].running_cpu.store(-1, std::memory_order_relaxed);
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks && slot != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
    s = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::RunTasks(uint32_t gen, int slot, int own, int shares) {
  for (;;) {
    int task = -1;
    uint64_t v = shares_[own].left.load(std::memory_order_acquire);
    while (GenOf(v) == gen && LoOf(v) < HiOf(v)) {
      if (shares_[own].left.compare_exchange_weak(v, v + (uint64_t{1} << 16), std::memory_order_acq_rel)) {
        task = LoOf(v);
        break;
      }
    }
    // Own share used up: the last task of the share with the most left (if
    // that share changed since it was read, look again).
    while (task < 0) {
      int victim = -1, most = 0;
      uint64_t seen = 0;
      for (int i = 0; i < shares; ++i) {
        const uint64_t w = shares_[i].left.load(std::memory_order_acquire);
        if (GenOf(w) == gen && HiOf(w) - LoOf(w) > most) most = HiOf(w) - LoOf(w), victim = i, seen = w;
      }
      if (victim < 0) break;
      if (shares_[victim].left.compare_exchange_strong(seen, seen - 1, std::memory_order_acq_rel)) task = HiOf(seen) - 1;
    }
    if (task < 0) return;
    RunCaught(slot, task, task + 1);
  }
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  ParallelForChunks(n, [&](int, int64_t lo, int64_t hi) { fn(lo, hi); }, grain);
}

void ThreadPool::ParallelForChunks(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int chunks = static_cast<int>(std::min<int64_t>(num_threads_, (n + grain - 1) / grain));
  if (chunks <= 1) {
    fn(0, 0, n);
    return;
  }
  for (int c = 0; c < chunks; ++c) ranges_[static_cast<size_t>(c)] = {ChunkBegin(n, chunks, c), ChunkBegin(n, chunks, c + 1)};
  RunJob(chunks, false, fn);
}

void ThreadPool::ParallelForTasks(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t tasks = (n - 1) / grain + 1;
  if (tasks > kMaxTasks) return ParallelFor(n, fn, grain);
  const int chunks = static_cast<int>(std::min<int64_t>(num_threads_, tasks));
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  // The shares carry the job's generation, the one RunJob publishes next.
  const uint32_t gen = generation_ + 1;
  for (int c = 0; c < chunks; ++c)
    shares_[c].left.store(PackShare(gen, ChunkBegin(tasks, chunks, c), ChunkBegin(tasks, chunks, c + 1)),
                          std::memory_order_relaxed);
  // One reference captured: the wrapper fits std::function's inline buffer
  // (three would make it allocate on every call).
  const struct {
    const std::function<void(int64_t, int64_t)>& fn;
    int64_t n, grain;
  } job{fn, n, grain};
  RunJob(chunks, true, [&job](int, int64_t t, int64_t) { job.fn(t * job.grain, std::min(job.n, (t + 1) * job.grain)); });
}

void ThreadPool::RunJob(int chunks, bool tasks, const std::function<void(int, int64_t, int64_t)>& fn) {
  job_ = &fn;
  tasks_ = tasks;
  done_.store(0, std::memory_order_relaxed);
  int cpu = CurrentCpu();
  caller_cpu_.store(cpu, std::memory_order_relaxed);
  uint32_t gen = ++generation_;
  claim_.store(Pack(gen, chunks, 0), std::memory_order_release);
  {
    // Taking the lock orders this against a worker between its last look at
    // claim_ and its wait: it either saw the job or gets the notification.
    std::lock_guard<std::mutex> lock(mu_);
  }
  start_cv_.notify_all();
  RunChunks(gen, 0);
  auto all_done = [&] { return done_.load(std::memory_order_acquire) == chunks; };
  if (!SpinUntil(all_done, [&] { return ChunkRunningOn(CurrentCpu()); })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, all_done);
  }
  // Every chunk has finished (fn and whatever it points to are no longer in
  // use by any worker): only now may an error leave this frame.
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(error, error_);
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::RunCaught(int slot, int64_t lo, int64_t hi) {
  try {
    (*job_)(slot, lo, hi);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::current_exception();
  }
}

}  // namespace nibble
