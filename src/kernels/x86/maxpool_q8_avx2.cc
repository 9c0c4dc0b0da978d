// 2-D MaxPool on int8 / uint8 codes, ymm (AVX2; also the kAvxVnni level): 32
// outputs per vector, scalar tails (AVX2 has no masked byte loads or stores).
// The scheme of maxpool_q8_avx512vnni.cc. Per output row: the element-wise max
// of the window's input rows (vpmaxub / vpmaxsb) into a row buffer whose padding columns hold T's
// lowest code (the identity of max), then the max over each window along the
// width: stride 1 from shifted loads, stride 2 from the buffer split into even
// and odd bytes (vpackuswb + vpermq), where tap kx is E[ox + kx/2] or O[ox + kx/2].
#include <immintrin.h>

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
inline __m256i Max(__m256i a, __m256i b) {
  return std::is_signed_v<T> ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
}

inline __m256i Load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void Store(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

}  // namespace

template <class T>
void RunAvx2(const WindowGeometry& g, const T* x, T* y, int64_t plane_lo, int64_t plane_hi) {
  const int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sh = g.stride[0], sw = g.stride[1];
  const int64_t ph = g.pad_begin[0], pw = g.pad_begin[1];
  const int64_t owr = RoundUp(ow, 32);
  const int64_t half = sw == 1 ? 0 : RoundUp(owr + (kw - 1) / 2, 32);  // E and O lengths
  const int64_t blen = RoundUp(std::max(pw + iw, sw == 1 ? owr + kw - 1 : 2 * half), 32);
  thread_local std::vector<T> scratch;
  if (scratch.size() < static_cast<size_t>(blen + 2 * half)) scratch.resize(blen + 2 * half);
  T* row = scratch.data();
  T* even = row + blen;
  T* odd = even + half;
  std::fill(row, row + blen, std::numeric_limits<T>::lowest());  // padding columns, for the whole call
  const __m256i lo8 = _mm256_set1_epi16(0x00FF);
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * ih * iw;
    T* yp = y + plane * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy) {
      // MaxPoolQ8X86Vectorizes guarantees at least one row inside the input.
      const int64_t r0 = std::max<int64_t>(0, oy * sh - ph), r1 = std::min(ih, oy * sh - ph + kh);
      int64_t j = 0;
      for (; j + 32 <= iw; j += 32) {
        __m256i v = Load(xp + r0 * iw + j);
        for (int64_t r = r0 + 1; r < r1; ++r) v = Max<T>(v, Load(xp + r * iw + j));
        Store(row + pw + j, v);
      }
      for (; j < iw; ++j) {
        T v = xp[r0 * iw + j];
        for (int64_t r = r0 + 1; r < r1; ++r) v = std::max(v, xp[r * iw + j]);
        row[pw + j] = v;
      }
      T* dst = yp + oy * ow;
      if (sw == 1) {
        int64_t ox = 0;
        for (; ox + 32 <= ow; ox += 32) {
          __m256i v = Load(row + ox);
          for (int64_t kx = 1; kx < kw; ++kx) v = Max<T>(v, Load(row + ox + kx));
          Store(dst + ox, v);
        }
        for (; ox < ow; ++ox) {
          T v = row[ox];
          for (int64_t kx = 1; kx < kw; ++kx) v = std::max(v, row[ox + kx]);
          dst[ox] = v;
        }
      } else {
        for (int64_t i = 0; i < half; i += 32) {
          const __m256i a = Load(row + 2 * i), b = Load(row + 2 * i + 32);
          const __m256i e = _mm256_packus_epi16(_mm256_and_si256(a, lo8), _mm256_and_si256(b, lo8));
          const __m256i o = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
          Store(even + i, _mm256_permute4x64_epi64(e, _MM_SHUFFLE(3, 1, 2, 0)));
          Store(odd + i, _mm256_permute4x64_epi64(o, _MM_SHUFFLE(3, 1, 2, 0)));
        }
        int64_t ox = 0;
        for (; ox + 32 <= ow; ox += 32) {
          __m256i v = Load(even + ox);
          for (int64_t kx = 1; kx < kw; ++kx) v = Max<T>(v, Load((kx & 1 ? odd : even) + ox + kx / 2));
          Store(dst + ox, v);
        }
        for (; ox < ow; ++ox) {
          T v = even[ox];
          for (int64_t kx = 1; kx < kw; ++kx) v = std::max(v, (kx & 1 ? odd : even)[ox + kx / 2]);
          dst[ox] = v;
        }
      }
    }
  }
}

template void RunAvx2<uint8_t>(const WindowGeometry&, const uint8_t*, uint8_t*, int64_t, int64_t);
template void RunAvx2<int8_t>(const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t);

}  // namespace nibble::maxpoolq8_detail
