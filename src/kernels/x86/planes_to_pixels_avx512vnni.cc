// PlanesToPixels (planes_to_pixels.h) on zmm: 16 positions x 64 channels per
// step. Vector k gets, in its 128-bit lane l, channel 16 l + k at the 16
// positions (masked loads: nothing past a plane's last position is read);
// the per-lane 16x16 transpose then leaves position j's 64 channels in
// order in vector j, one masked store each.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/planes_to_pixels.h"
#include "kernels/x86/transpose16_avx512.h"

namespace nibble::planes_to_pixels_detail {

void RunAvx512(const uint8_t* x, int64_t plane, int64_t channels, int64_t s_lo, int64_t s_hi, uint8_t* y) {
  for (int64_t s = s_lo; s < s_hi; s += 16) {
    const int64_t n = std::min<int64_t>(16, s_hi - s);
    const __mmask16 pos = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
    for (int64_t c0 = 0; c0 < channels; c0 += 64) {
      const int64_t nc = std::min<int64_t>(64, channels - c0);
      auto lane = [&](int64_t c) {
        return c < nc ? _mm_maskz_loadu_epi8(pos, x + (c0 + c) * plane + s) : _mm_setzero_si128();
      };
      __m512i r[16];
      for (int k = 0; k < 16; ++k) {
        __m512i v = _mm512_castsi128_si512(lane(k));
        v = _mm512_inserti32x4(v, lane(16 + k), 1);
        v = _mm512_inserti32x4(v, lane(32 + k), 2);
        r[k] = _mm512_inserti32x4(v, lane(48 + k), 3);
      }
      vec512::TransposeLanes16x16(r);
      const __mmask64 keep = nc >= 64 ? ~__mmask64{0} : (__mmask64{1} << nc) - 1;
      for (int64_t j = 0; j < n; ++j) _mm512_mask_storeu_epi8(y + (s + j) * channels + c0, keep, r[j]);
    }
  }
}

}  // namespace nibble::planes_to_pixels_detail
