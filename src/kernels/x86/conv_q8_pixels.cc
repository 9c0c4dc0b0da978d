// Portable versions of the conv driver's channels-last helpers
// (conv_q8_pack_kernels.h): tap-buffer segments from pixels, and tile rows
// stored as pixels. The AVX-512 versions (conv_q8_pixels_avx512vnni.cc)
// write the same bytes.
#include <cstring>

#include "kernels/x86/conv_q8_pack_kernels.h"

namespace nibble::q8 {

void TapPixelsPortable(const TapPixelsArgs& a) {
  for (int64_t q = 0; q < a.quads; ++q) {
    uint8_t* o = a.out + q * a.quad_stride;
    for (int64_t j = 0; j < a.n; ++j) {
      const int64_t i = a.start + j * a.step;
      const bool in_row = a.x != nullptr && i >= 0 && i < a.valid;
      for (int64_t t = 0; t < 4; ++t) {
        const int64_t ch = 4 * q + t;
        const uint8_t v = in_row && ch < a.channels ? a.x[i * a.pixel_stride + ch] : a.fill;
        o[4 * j + t] = static_cast<uint8_t>(v ^ a.flip);
      }
    }
  }
}

void StoreRowsPortable(const uint8_t* tile, int64_t tile_stride, int rows, int lanes, uint8_t* out,
                       int64_t out_stride) {
  for (int r = 0; r < rows; ++r) std::memcpy(out + r * out_stride, tile + r * tile_stride, static_cast<size_t>(lanes));
}

}  // namespace nibble::q8
