#include "data/dataset.h"

#include <algorithm>
#include <unordered_map>

namespace nibble {
namespace {

// SplitMix64: tiny, well-mixed, and fully specified, unlike std::mt19937 + distributions.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, bound) without modulo bias (rejection sampling).
uint64_t UniformBelow(uint64_t* state, uint64_t bound) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t r;
  do r = NextRandom(state);
  while (r >= limit);
  return r % bound;
}

}  // namespace

Sample Dataset::Get(int64_t i) const {
  NIBBLE_CHECK(i >= 0 && i < size(), "sample index ", i, " out of range: the dataset has ", size(), " samples");
  return Load(i);
}

std::string Dataset::Describe(int64_t i) const {
  if (i < 0 || i >= size()) return Cat("sample ", i, " (out of range: the dataset has ", size(), ")");
  return Where(i);
}

std::vector<int64_t> FirstIndices(int64_t size, int64_t n) {
  int64_t count = n < 0 ? size : std::min(n, size);
  std::vector<int64_t> out(static_cast<size_t>(std::max<int64_t>(count, 0)));
  for (int64_t i = 0; i < count; ++i) out[i] = i;
  return out;
}

std::vector<int64_t> RandomIndices(int64_t size, int64_t n, uint64_t seed) {
  int64_t count = n < 0 ? size : std::min(n, size);
  if (count <= 0) return {};
  // Partial Fisher-Yates over a virtual identity array; the map holds only the
  // swapped slots, so picking 100 of 10^9 costs O(100).
  std::unordered_map<int64_t, int64_t> swapped;
  auto at = [&](int64_t k) {
    auto it = swapped.find(k);
    return it == swapped.end() ? k : it->second;
  };
  uint64_t state = seed;
  std::vector<int64_t> out;
  out.reserve(count);
  for (int64_t k = 0; k < count; ++k) {
    int64_t j = k + static_cast<int64_t>(UniformBelow(&state, static_cast<uint64_t>(size - k)));
    int64_t vj = at(j), vk = at(k);
    swapped[j] = vk;
    swapped[k] = vj;
    out.push_back(vj);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nibble
