// An allocator for large, long-lived buffers that are streamed end to end on
// every run (packed weights): allocations of 1 MiB and more are aligned to
// 2 MiB and advised as transparent huge pages (Linux, THP in "madvise" mode,
// the Debian default), so streaming them does not walk the page tables every
// 4 KiB. Smaller ones, and systems without THP, get ordinary memory.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>

namespace nibble {

void* AllocateHugePageHint(std::size_t bytes);
void FreeHugePageHint(void* p) noexcept;

template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(AllocateHugePageHint(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { FreeHugePageHint(p); }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const HugePageAllocator<U>&) const { return false; }
};

}  // namespace nibble
