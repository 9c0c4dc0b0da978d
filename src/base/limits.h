// Hard ceilings that keep a hostile or broken model from asking for unbounded
// memory through a size field. Checked wherever a size comes from outside.
#pragma once
#include <cstdint>

namespace nibble {

// Largest single tensor nibble will allocate (bytes). Overridable with the
// NIBBLE_MAX_TENSOR_BYTES environment variable for very large models.
int64_t MaxTensorBytes();
constexpr int64_t kMaxRank = 16;

// a*b, failing instead of overflowing; both must be >= 0.
int64_t CheckedMul(int64_t a, int64_t b, const char* what);

}  // namespace nibble
