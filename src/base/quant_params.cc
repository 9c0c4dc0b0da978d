#include "base/quant_params.h"

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
