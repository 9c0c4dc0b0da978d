// AVX-512 (F/BW) versions of the conv driver's channels-last helpers
// (conv_q8_pack_kernels.h). A tap-buffer segment from pixels is a transpose
// of 4-byte units: 16 pixels x 16 channel quads (one 64-byte load of each
// pixel's channels, masked to the channels that exist) become 16 quads x 16
// lanes, stored masked to the segment's lanes.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -Wmaybe-uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/x86/conv_q8_pack_kernels.h"
#include "kernels/x86/mask_bits.h"

namespace nibble::q8 {
namespace {

// p + i without forming an out-of-object pointer in C++ terms.
inline const void* At(const uint8_t* p, int64_t i) {
  return reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(i));
}

// 4 x 4 transpose of the 128-bit blocks of a, b, c, d: o[l] holds block l
// of a, b, c and d in that order.
inline void Transpose4Blocks(__m512i a, __m512i b, __m512i c, __m512i d, __m512i (&o)[4]) {
  const __m512i x0 = _mm512_shuffle_i32x4(a, b, 0x44), x1 = _mm512_shuffle_i32x4(c, d, 0x44);
  const __m512i x2 = _mm512_shuffle_i32x4(a, b, 0xEE), x3 = _mm512_shuffle_i32x4(c, d, 0xEE);
  o[0] = _mm512_shuffle_i32x4(x0, x1, 0x88);
  o[1] = _mm512_shuffle_i32x4(x0, x1, 0xDD);
  o[2] = _mm512_shuffle_i32x4(x2, x3, 0x88);
  o[3] = _mm512_shuffle_i32x4(x2, x3, 0xDD);
}

// r[i] (dwords of row i) -> r[q] (dword q of every row, row i in dword i).
inline void TransposeDwords16x16(__m512i (&r)[16]) {
  __m512i t[16], u[16];
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
  // u[4k + m], block l: dword 4l + m of rows 4k .. 4k + 3.
  for (int k = 0; k < 4; ++k) {
    u[4 * k] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
  for (int m = 0; m < 4; ++m) {
    __m512i o[4];
    Transpose4Blocks(u[m], u[4 + m], u[8 + m], u[12 + m], o);
    for (int l = 0; l < 4; ++l) r[4 * l + m] = o[l];
  }
}

}  // namespace

void TapPixelsAvx512(const TapPixelsArgs& a) {
  const __m512i fill = _mm512_set1_epi8(static_cast<char>(a.fill));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(a.flip));
  const __m512i pad = _mm512_xor_si512(fill, flip);
  for (int64_t j0 = 0; j0 < a.n; j0 += 16) {
    const int lanes = static_cast<int>(std::min<int64_t>(16, a.n - j0));
    const __mmask16 keep = static_cast<__mmask16>(lanes == 16 ? 0xFFFF : (1u << lanes) - 1);
    for (int64_t q0 = 0; q0 < a.quads; q0 += 16) {
      const __mmask64 cm = Bits(0, a.channels - 4 * q0);
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        const int64_t px = a.start + (j0 + i) * a.step;
        r[i] = i < lanes && a.x != nullptr && px >= 0 && px < a.valid
                   ? _mm512_xor_si512(_mm512_mask_loadu_epi8(fill, cm, At(a.x, px * a.pixel_stride + 4 * q0)), flip)
                   : pad;
      }
      TransposeDwords16x16(r);
      const int nq = static_cast<int>(std::min<int64_t>(16, a.quads - q0));
      for (int q = 0; q < nq; ++q) _mm512_mask_storeu_epi32(a.out + (q0 + q) * a.quad_stride + 4 * j0, keep, r[q]);
    }
  }
}

void StoreRowsAvx512(const uint8_t* tile, int64_t tile_stride, int rows, int lanes, uint8_t* out,
                     int64_t out_stride) {
  const __mmask64 m = Bits(0, lanes);
  for (int r = 0; r < rows; ++r)
    _mm512_mask_storeu_epi8(out + r * out_stride, m, _mm512_maskz_loadu_epi8(m, tile + r * tile_stride));
}

}  // namespace nibble::q8
