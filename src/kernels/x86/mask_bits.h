// Byte-lane masks for masked AVX-512 loads and stores (one bit per byte of a
// 64-byte vector), shared by the x86 kernels that clip a vector to a row.
#pragma once
#include <algorithm>
#include <cstdint>

namespace nibble::q8 {

// Bits [lo, hi) of a 64-bit mask, lo and hi clamped to [0, 64].
inline uint64_t Bits(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 64);
  hi = std::clamp<int64_t>(hi, 0, 64);
  if (hi <= lo) return 0;
  const uint64_t h = hi == 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  const uint64_t l = (uint64_t{1} << lo) - 1;
  return h & ~l;
}

// p + i as an address for a masked load, without forming an out-of-object
// pointer in C++ terms (i may lie before or past the row: only the mask
// decides which bytes are touched).
inline const void* At(const uint8_t* p, int64_t i) {
  return reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(i));
}

}  // namespace nibble::q8
