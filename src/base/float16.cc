#include "base/float16.h"

#include <cmath>
#include <cstring>

namespace nibble {

float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ffu;
  float mag;
  if (exp == 0) {
    mag = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
  } else if (exp == 31) {
    mag = mant ? std::nanf("") : INFINITY;
  } else {
    uint32_t bits = ((exp + 127 - 15) << 23) | (mant << 13);
    std::memcpy(&mag, &bits, 4);
  }
  uint32_t bits;
  std::memcpy(&bits, &mag, 4);
  bits |= sign;
  float r;
  std::memcpy(&r, &bits, 4);
  return r;
}

uint16_t DoubleToHalfBits(double x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return 0x7e00;
  const double a = std::fabs(x);
  if (a >= 65520.0) return sign | 0x7c00;  // rounds past the largest half (65504)
  if (a < std::ldexp(1.0, -14)) {
    // Subnormal: units of 2^-24; a carry into 1024 is the smallest normal's encoding.
    return sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24)));
  }
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exponent = e - 1;
  double mant = std::nearbyint((std::ldexp(a, -exponent) - 1.0) * 1024.0);
  if (mant == 1024.0) {
    mant = 0;
    ++exponent;
  }
  if (exponent > 15) return sign | 0x7c00;
  return sign | static_cast<uint16_t>(((exponent + 15) << 10) | static_cast<uint16_t>(mant));
}

}  // namespace nibble
