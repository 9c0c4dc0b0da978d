#include "base/thread_pool.h"

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

template <class Pred>
bool SpinUntil(Pred done) {
  auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    CpuRelax();
    if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) return false;
  }
}

}  // namespace

int DefaultThreadCount() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    stop_flag_ = true;
  }
  start_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    if (!SpinUntil([&] { return generation_.load(std::memory_order_acquire) != seen || stop_flag_.load(); })) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
    }
    if (stop_flag_.load()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    seen = generation_.load(std::memory_order_acquire);
    auto range = ranges_[index];
    const auto* job = job_;
    if (range.first < range.second) RunCaught(*job, index, range.first, range.second);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  ParallelForChunks(n, [&](int, int64_t lo, int64_t hi) { fn(lo, hi); }, grain);
}

void ThreadPool::ParallelForChunks(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t chunks = std::min<int64_t>(num_threads_, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, 0, n);
    return;
  }
  std::vector<std::pair<int64_t, int64_t>> ranges(num_threads_, {0, 0});
  int64_t per = n / chunks, extra = n % chunks, begin = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t len = per + (c < extra ? 1 : 0);
    ranges[c] = {begin, begin + len};
    begin += len;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ranges_ = ranges;
    job_ = &fn;
    pending_.store(num_threads_ - 1, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  start_cv_.notify_all();
  RunCaught(fn, 0, ranges[0].first, ranges[0].second);
  if (!SpinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_.load() == 0; });
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

void ThreadPool::RunCaught(const std::function<void(int, int64_t, int64_t)>& fn, int index, int64_t lo, int64_t hi) {
  try {
    fn(index, lo, hi);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::current_exception();
  }
}

}  // namespace nibble
