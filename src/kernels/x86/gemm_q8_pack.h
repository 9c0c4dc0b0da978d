// Internal helpers shared by the conv and fc drivers (src/kernels/x86 only):
// constant-operand packing and the requantization parameter checks.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/reference/requantize.h"

namespace nibble::q8 {

// Packs `units` rows of depth k (value(u, l), int8) into [units/T][k4][T][4]
// tiles of T units, zero padded in both directions, as int8 or widened to int16.
template <class T, class Value>
std::vector<T> PackUnits(int64_t units, int64_t k, int tile, Value&& value) {
  const int64_t k4 = (k + 3) / 4, tiles = (units + tile - 1) / tile;
  std::vector<T> out(static_cast<size_t>(tiles * k4 * tile * 4), T{0});
  for (int64_t u = 0; u < units; ++u) {
    T* dst = out.data() + (u / tile) * k4 * tile * 4 + (u % tile) * 4;
    for (int64_t l = 0; l < k; ++l) dst[(l / 4) * tile * 4 + l % 4] = static_cast<T>(value(u, l));
  }
  return out;
}

// bias - zp * sum, computed mod 2^32 (the kernels' accumulators wrap the same way).
inline int32_t FoldZeroPoint(int32_t bias, int64_t zp, int64_t sum) {
  return static_cast<int32_t>(static_cast<uint32_t>(bias) - static_cast<uint32_t>(zp * sum));
}

// Rows [0, rows) (rows <= 8; row i at src + i * lda, k bytes each) into one
// tile of the 8-row broadcast layout [k4][8][4]: byte ^ flip, the depth tail
// past k zero; rows past `rows` are written as zeros. AVX-512 (F, BW).
void PackATile8Avx512(const uint8_t* src, int64_t lda, int rows, int64_t k, uint8_t flip, uint8_t* dst);

inline bool MultipliersOk(const std::vector<FixedPointMultiplier>& m, int64_t channels) {
  if (m.size() != 1 && static_cast<int64_t>(m.size()) != channels) return false;
  for (const FixedPointMultiplier& v : m)
    if (v.multiplier < 0 || v.shift < 1 || v.shift > 62) return false;
  return true;
}

}  // namespace nibble::q8
