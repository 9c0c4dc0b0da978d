#include "base/limits.h"

#include <cstdlib>
#include <limits>

#include "nibble/error.h"

namespace nibble {

int64_t MaxTensorBytes() {
  static const int64_t limit = [] {
    const char* env = std::getenv("NIBBLE_MAX_TENSOR_BYTES");
    if (env && *env) {
      long long v = std::atoll(env);
      if (v > 0) return static_cast<int64_t>(v);
    }
    return int64_t{8} << 30;  // 8 GiB
  }();
  return limit;
}

int64_t CheckedMul(int64_t a, int64_t b, const char* what) {
  NIBBLE_CHECK(a >= 0 && b >= 0, what, ": negative size");
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) Fail(what, ": size overflows 64 bits");
  return a * b;
}

}  // namespace nibble
