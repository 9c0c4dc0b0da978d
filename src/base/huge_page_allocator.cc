#include "base/huge_page_allocator.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace nibble {
namespace {
constexpr std::size_t kHuge = std::size_t{2} << 20;
constexpr std::size_t kMinHinted = std::size_t{1} << 20;
}  // namespace

void* AllocateHugePageHint(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  if (bytes >= kMinHinted) {
    const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    p = std::aligned_alloc(kHuge, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure changes nothing
#endif
  } else {
    p = std::malloc(bytes);
  }
  if (!p) throw std::bad_alloc();
  return p;
}

void FreeHugePageHint(void* p) noexcept { std::free(p); }

}  // namespace nibble
