// Portable versions of the conv driver's channels-last helpers
// (conv_q8_pack_kernels.h): input rows of pixels staged with their padding.
// The AVX-512 version (conv_q8_pixels_avx512vnni.cc) writes the same bytes.
#include "kernels/x86/conv_q8_pack_kernels.h"

namespace nibble::q8 {

void PixelRowPortable(const PixelRowArgs& a) {
  for (int64_t c = 0; c < a.cols; ++c) {
    const int64_t ix = c - a.pl;
    const bool in_row = a.x != nullptr && ix >= 0 && ix < a.iw;
    for (int64_t t = 0; t < a.cq; ++t) {
      const uint8_t v = in_row && t < a.channels ? a.x[ix * a.channels + t] : a.fill;
      a.out[c * a.cq + t] = static_cast<uint8_t>(v ^ a.flip);
    }
  }
}

}  // namespace nibble::q8
