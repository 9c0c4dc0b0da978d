// 2-D MaxPool on int8 / uint8 codes, zmm (AVX-512 BW): 64 outputs per vector.
// Per output row: the element-wise max of the window's input rows (vpmaxub /
// vpmaxsb, masked tails) into a row buffer whose padding columns hold T's
// lowest code (the identity of max), then the max over each window along the
// width: stride 1 from shifted loads, stride 2 from the buffer split into even
// and odd bytes (vpackuswb + vpermq), where tap kx is E[ox + kx/2] or O[ox + kx/2].
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/x86/maxpool_q8.h"

namespace nibble::maxpoolq8_detail {
namespace {

constexpr int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

template <class T>
inline __m512i Max(__m512i a, __m512i b) {
  return std::is_signed_v<T> ? _mm512_max_epi8(a, b) : _mm512_max_epu8(a, b);
}

inline __mmask64 Mask(int64_t n) { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }

}  // namespace

template <class T>
void RunAvx512(const WindowGeometry& g, const T* x, T* y, int64_t plane_lo, int64_t plane_hi) {
  const int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sh = g.stride[0], sw = g.stride[1];
  const int64_t ph = g.pad_begin[0], pw = g.pad_begin[1];
  const int64_t owr = RoundUp(ow, 64);
  const int64_t half = sw == 1 ? 0 : RoundUp(owr + (kw - 1) / 2, 64);  // E and O lengths
  const int64_t blen = RoundUp(std::max(pw + iw, sw == 1 ? owr + kw - 1 : 2 * half), 64);
  thread_local std::vector<T> scratch;
  if (scratch.size() < static_cast<size_t>(blen + 2 * half)) scratch.resize(blen + 2 * half);
  T* row = scratch.data();
  T* even = row + blen;
  T* odd = even + half;
  std::fill(row, row + blen, std::numeric_limits<T>::lowest());  // padding columns, for the whole call
  const __m512i perm = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
  const __m512i lo8 = _mm512_set1_epi16(0x00FF);
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * ih * iw;
    T* yp = y + plane * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy) {
      // MaxPoolQ8X86Vectorizes guarantees at least one row inside the input.
      const int64_t r0 = std::max<int64_t>(0, oy * sh - ph), r1 = std::min(ih, oy * sh - ph + kh);
      for (int64_t j = 0; j < iw; j += 64) {
        const __mmask64 m = Mask(iw - j);
        __m512i v = _mm512_maskz_loadu_epi8(m, xp + r0 * iw + j);
        for (int64_t r = r0 + 1; r < r1; ++r) v = Max<T>(v, _mm512_maskz_loadu_epi8(m, xp + r * iw + j));
        _mm512_mask_storeu_epi8(row + pw + j, m, v);
      }
      T* dst = yp + oy * ow;
      if (sw == 1) {
        for (int64_t ox = 0; ox < ow; ox += 64) {
          __m512i v = _mm512_loadu_si512(row + ox);
          for (int64_t kx = 1; kx < kw; ++kx) v = Max<T>(v, _mm512_loadu_si512(row + ox + kx));
          _mm512_mask_storeu_epi8(dst + ox, Mask(ow - ox), v);
        }
      } else {
        for (int64_t i = 0; i < half; i += 64) {
          const __m512i a = _mm512_loadu_si512(row + 2 * i), b = _mm512_loadu_si512(row + 2 * i + 64);
          const __m512i e = _mm512_packus_epi16(_mm512_and_si512(a, lo8), _mm512_and_si512(b, lo8));
          const __m512i o = _mm512_packus_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
          _mm512_storeu_si512(even + i, _mm512_permutexvar_epi64(perm, e));
          _mm512_storeu_si512(odd + i, _mm512_permutexvar_epi64(perm, o));
        }
        for (int64_t ox = 0; ox < ow; ox += 64) {
          __m512i v = _mm512_loadu_si512(even + ox);
          for (int64_t kx = 1; kx < kw; ++kx)
            v = Max<T>(v, _mm512_loadu_si512((kx & 1 ? odd : even) + ox + kx / 2));
          _mm512_mask_storeu_epi8(dst + ox, Mask(ow - ox), v);
        }
      }
    }
  }
}

template void RunAvx512<uint8_t>(const WindowGeometry&, const uint8_t*, uint8_t*, int64_t, int64_t);
template void RunAvx512<int8_t>(const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t);

}  // namespace nibble::maxpoolq8_detail
