// IEEE 754 binary16 <-> float conversions (float16 tensors hold bit patterns).
#pragma once
#include <cstdint>

namespace nibble {

float HalfBitsToFloat(uint16_t h);
// Rounds to nearest, ties to even, straight from double (no double rounding
// through float); overflow gives infinity, NaN stays NaN.
uint16_t DoubleToHalfBits(double x);

}  // namespace nibble
