// AVX-512 (F/BW) versions of the conv driver's channels-last helpers
// (conv_q8_pack_kernels.h): masked byte loads and stores, so nothing
// outside the input row's pixels is read and nothing past the staged row is
// written.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/x86/conv_q8_pack_kernels.h"
#include "kernels/x86/mask_bits.h"

namespace nibble::q8 {
namespace {

inline void Fill(uint8_t* out, int64_t n, __m512i v) {
  for (int64_t i = 0; i < n; i += 64) _mm512_mask_storeu_epi8(out + i, Bits(0, n - i), v);
}

}  // namespace

void PixelRowAvx512(const PixelRowArgs& a) {
  const __m512i fill = _mm512_set1_epi8(static_cast<char>(a.fill));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(a.flip));
  const __m512i pad = _mm512_xor_si512(fill, flip);
  if (a.x == nullptr) return Fill(a.out, a.cols * a.cq, pad);
  // Pixels [c_lo, c_hi) of the row hold input pixels c - pl.
  const int64_t c_lo = std::min(a.pl, a.cols), c_hi = std::clamp(a.pl + a.iw, c_lo, a.cols);
  Fill(a.out, c_lo * a.cq, pad);
  const uint8_t* src = a.x + (c_lo - a.pl) * a.channels;
  uint8_t* dst = a.out + c_lo * a.cq;
  if (a.cq == a.channels) {  // whole quads: one run of bytes
    const int64_t n = (c_hi - c_lo) * a.cq;
    for (int64_t i = 0; i < n; i += 64) {
      const __mmask64 m = Bits(0, n - i);
      _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, At(src, i)), flip));
    }
  } else {
    for (int64_t c = c_lo; c < c_hi; ++c, src += a.channels, dst += a.cq)
      for (int64_t t = 0; t < a.cq; t += 64) {
        const __m512i v = _mm512_mask_loadu_epi8(fill, Bits(0, a.channels - t), At(src, t));
        _mm512_mask_storeu_epi8(dst + t, Bits(0, a.cq - t), _mm512_xor_si512(v, flip));
      }
  }
  Fill(a.out + c_hi * a.cq, (a.cols - c_hi) * a.cq, pad);
}

}  // namespace nibble::q8
