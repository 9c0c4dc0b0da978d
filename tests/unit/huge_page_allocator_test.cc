// The packed-weight allocator: large buffers come 2 MiB aligned (so the kernel
// can back them with huge pages), small ones are ordinary, and both hold data.
#include "base/huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace nibble {
namespace {

TEST(HugePageAllocator, LargeBuffersAre2MiBAlignedAndUsable) {
  std::vector<int8_t, HugePageAllocator<int8_t>> big(3 << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % (uintptr_t{2} << 20), 0u);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<int8_t>(i * 7);
  int64_t sum = 0;
  for (size_t i = 0; i < big.size(); i += 4096) sum += big[i] - static_cast<int8_t>(i * 7);
  EXPECT_EQ(sum, 0);
}

TEST(HugePageAllocator, SmallAndEmptyBuffersWork) {
  std::vector<int32_t, HugePageAllocator<int32_t>> small(100);
  std::iota(small.begin(), small.end(), 0);
  EXPECT_EQ(std::accumulate(small.begin(), small.end(), 0), 4950);
  small.clear();
  small.shrink_to_fit();
  std::vector<int8_t, HugePageAllocator<int8_t>> empty;
  empty.reserve(0);
  EXPECT_TRUE(empty.empty());
}

TEST(HugePageAllocator, ImpossibleSizesThrow) {
  HugePageAllocator<int64_t> a;
  EXPECT_THROW(a.allocate(static_cast<size_t>(-1) / 4), std::bad_alloc);
}

}  // namespace
}  // namespace nibble
