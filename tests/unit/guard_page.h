// Test buffers that end exactly at an unmapped page: a kernel that reads or
// writes even one byte past the end faults (SIGSEGV) instead of passing.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace nibble::testing {

template <class T>
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t count) : count_(count) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = count * sizeof(T);
    const size_t data_pages = (bytes + page - 1) / page;
    map_bytes_ = (data_pages + 1) * page;
    map_ = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map_ == MAP_FAILED) throw std::runtime_error("GuardedBuffer: mmap failed");
    char* guard = static_cast<char*>(map_) + data_pages * page;
    if (mprotect(guard, page, PROT_NONE) != 0) throw std::runtime_error("GuardedBuffer: mprotect failed");
    // The data ends at the guard page; alignment is that of T only (sizes are
    // arbitrary), which is what kernels must cope with.
    data_ = reinterpret_cast<T*>(guard - bytes);
  }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  ~GuardedBuffer() { munmap(map_, map_bytes_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return count_; }
  T& operator[](size_t i) { return data_[i]; }
  void CopyFrom(const T* src) {
    if (count_ > 0) std::memcpy(data_, src, count_ * sizeof(T));  // src may be null when empty
  }

 private:
  size_t count_, map_bytes_ = 0;
  void* map_ = nullptr;
  T* data_ = nullptr;
};

// A guarded copy of v.
template <class T>
std::unique_ptr<GuardedBuffer<T>> Guarded(const std::vector<T>& v) {
  auto b = std::make_unique<GuardedBuffer<T>>(v.size());
  if (!v.empty()) b->CopyFrom(v.data());
  return b;
}

}  // namespace nibble::testing
