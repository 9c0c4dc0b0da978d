// One image's 8-bit planes to channels-last pixels: for positions [s_lo,
// s_hi) and every channel c, y[s * channels + c] = x[c * plane + s] (x is
// [channels][plane], y [plane][channels]). For kernels that compute in NCHW
// but hand their output to channels-last consumers (runtime/channels_last.h):
// MaxPool in front of ResNet's layer1 (MaxPoolQ8X86ToPixels).
#pragma once
#include <cstdint>

#include "kernels/x86/isa.h"

namespace nibble {

void PlanesToPixels(const uint8_t* x, int64_t plane, int64_t channels, int64_t s_lo, int64_t s_hi, uint8_t* y,
                    Isa isa = ActiveIsa());

namespace planes_to_pixels_detail {
void RunAvx512(const uint8_t* x, int64_t plane, int64_t channels, int64_t s_lo, int64_t s_hi, uint8_t* y);
}  // namespace planes_to_pixels_detail

}  // namespace nibble
