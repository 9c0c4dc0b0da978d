#include "kernels/x86/planes_to_pixels.h"

namespace nibble {

void PlanesToPixels(const uint8_t* x, int64_t plane, int64_t channels, int64_t s_lo, int64_t s_hi, uint8_t* y,
                    Isa isa) {
#if defined(__x86_64__)
  if (isa >= Isa::kAvx512Vnni && IsaSupported(Isa::kAvx512Vnni))
    return planes_to_pixels_detail::RunAvx512(x, plane, channels, s_lo, s_hi, y);
#else
  (void)isa;
#endif
  for (int64_t s = s_lo; s < s_hi; ++s)
    for (int64_t c = 0; c < channels; ++c) y[s * channels + c] = x[c * plane + s];
}

}  // namespace nibble
