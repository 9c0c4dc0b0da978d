#include "base/quant_params.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "nibble/error.h"

namespace nibble {

void QuantParams::Validate(const std::string& what, int64_t channels) const {
  NIBBLE_CHECK((bits >= 1 && bits <= 8) || bits == 32, what, ": bit-width ", bits, " is not supported (1..8, 32)");
  NIBBLE_CHECK(!scale.empty(), what, ": quantization scale is missing");
  NIBBLE_CHECK(zero_point.empty() || zero_point.size() == scale.size(), what, ": ", zero_point.size(),
               " zero points for ", scale.size(), " scales");
  for (float s : scale)
    NIBBLE_CHECK(std::isfinite(s) && s > 0, what, ": quantization scale ", s, " is not a finite positive number");
  if (bits <= 8)
    for (int32_t z : zero_point)
      NIBBLE_CHECK(z >= qmin() && z <= qmax(), what, ": zero point ", z, " is outside [", qmin(), ", ", qmax(), "]");
  if (scale.size() > 1 || axis >= 0) {
    NIBBLE_CHECK(channels < 0 || static_cast<int64_t>(scale.size()) == channels, what, ": ", scale.size(),
                 " per-channel scales for ", channels, " channels along axis ", axis);
  }
}

CodeWidth WidthOfBounds(bool is_signed, int64_t lo, int64_t hi) {
  for (int b = 1; b <= 8; ++b) {
    if (is_signed) {
      const int64_t top = (int64_t{1} << (b - 1)) - 1, bottom = -(int64_t{1} << (b - 1));
      if (b >= 2 && hi == top && lo == bottom) return {b, false};
      if (b >= 2 && hi == top && lo == bottom + 1) return {b, true};
    } else {
      const int64_t top = (int64_t{1} << b) - 1;
      if (lo == 0 && hi == top) return {b, false};
      if (b >= 2 && lo == 0 && hi == top - 1) return {b, true};
    }
  }
  return {0, false};
}

CodeWidth WidthOfSignedCodes(const int8_t* codes, int64_t n) {
  int lo = 0, hi = 0;
  bool zero = false;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min<int>(lo, codes[i]);
    hi = std::max<int>(hi, codes[i]);
    zero |= codes[i] == 0;
  }
  if (n > 0 && !zero && lo >= -1 && hi <= 1) return {1, false};
  for (int b = 2; b < 8; ++b) {
    const int top = (1 << (b - 1)) - 1;
    if (lo >= -top && hi <= top) return {b, true};
    if (lo >= -top - 1 && hi <= top) return {b, false};
  }
  return {8, lo > -128};
}

std::string QuantParams::ToString() const {
  std::ostringstream os;
  os << (is_signed ? "int" : "uint") << bits << (narrow ? " narrow" : "");
  if (per_channel()) {
    os << " per-channel(axis " << axis << ", " << scale.size() << ")";
  } else {
    os << " scale " << scale[0] << " zp " << (zero_point.empty() ? 0 : zero_point[0]);
  }
  return os.str();
}

}  // namespace nibble
