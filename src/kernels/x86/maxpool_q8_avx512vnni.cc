// 2-D MaxPool on int8 / uint8 codes, zmm (AVX-512 BW): the driver of
// maxpool_q8_driver.inc with 64 outputs per vector and masked tails.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <limits>
#include <type_traits>

#include "kernels/x86/mask_bits.h"
#include "kernels/x86/maxpool_q8.h"
#include "kernels/x86/maxpool_q8_driver.inc"

namespace nibble::maxpoolq8_detail {
namespace {

// The vector traits of the driver (see maxpool_q8_driver.inc) on zmm.
struct Zmm {
  using Vec = __m512i;
  static constexpr int64_t kLanes = 64;

  static Vec Load(const void* p) { return _mm512_loadu_si512(p); }
  static void Store(void* p, Vec v) { _mm512_storeu_si512(p, v); }

  static constexpr bool kPartialVectors = true;
  using Part = __mmask64;
  static Part FirstLanes(int64_t n) { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }
  static Vec LoadPart(const void* p, Part m) { return _mm512_maskz_loadu_epi8(m, p); }
  static void StorePart(void* p, Part m, Vec v) { _mm512_mask_storeu_epi8(p, m, v); }

  template <class T>
  static Vec Max(Vec a, Vec b) {
    return std::is_signed_v<T> ? _mm512_max_epi8(a, b) : _mm512_max_epu8(a, b);
  }

  // vpackuswb packs within 128-bit lanes; vpermq puts the quadwords back in order.
  static void Deinterleave(Vec a, Vec b, Vec& even, Vec& odd) {
    const __m512i perm = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    const __m512i lo8 = _mm512_set1_epi16(0x00FF);
    const __m512i e = _mm512_packus_epi16(_mm512_and_si512(a, lo8), _mm512_and_si512(b, lo8));
    const __m512i o = _mm512_packus_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
    even = _mm512_permutexvar_epi64(perm, e);
    odd = _mm512_permutexvar_epi64(perm, o);
  }
};

}  // namespace

// 2x2 windows, stride 2, no padding, every window inside the input (the
// pooling of small CNNs): per output row, the max of the two input rows, then
// of each byte pair within its 16-bit lane, narrowed by vpmovwb; 32 outputs
// per step, no row buffer (the driver's per-row passes cost 2x more on
// Fashion-MNIST's 28x28 maps).
//
// Small maps (MaxPoolQ8RowsPerStep2x2 = G > 1) take G output rows per step:
// their 2 G input rows are one run of at most 128 bytes; after the pair max
// each input row is ow words, and one two-source word permute gathers the top
// rows' words, another the bottom rows', for all G output rows at once
// (Fashion-MNIST's 28x28 and 14x14 maps: 2 and 4 rows per step).
// `planes` planes of `rows` output rows, in_plane / out_plane elements apart.
template <class T>
void MaxPool2x2Rows(const T* x, T* y, int64_t planes, int64_t rows, int64_t in_plane, int64_t out_plane,
                    int64_t ow, int group) {
  const int64_t iw = 2 * ow;
  alignas(64) int16_t top[32], bot[32];
  for (int i = 0; i < 32; ++i) {
    const int row = i / static_cast<int>(ow), col = i % static_cast<int>(ow);
    top[i] = static_cast<int16_t>(std::min<int64_t>(63, 2 * row * ow + col));  // lanes past G rows: any index
    bot[i] = static_cast<int16_t>(std::min<int64_t>(63, (2 * row + 1) * ow + col));
  }
  const __m512i it = _mm512_load_si512(top), ib = _mm512_load_si512(bot);
  for (int64_t plane = 0; plane < planes; ++plane)
    for (int64_t r = 0; r < rows; r += group) {
      const int64_t n = std::min<int64_t>(group, rows - r), bytes = 2 * n * iw;
      const T* src = x + plane * in_plane + 2 * r * iw;
      __m512i lo = _mm512_maskz_loadu_epi8(Zmm::FirstLanes(bytes), src);
      __m512i hi = bytes > 64 ? _mm512_maskz_loadu_epi8(Zmm::FirstLanes(bytes - 64), src + 64) : _mm512_setzero_si512();
      lo = Zmm::Max<T>(lo, _mm512_srli_epi16(lo, 8));  // the low byte of each word: its pair's max
      hi = Zmm::Max<T>(hi, _mm512_srli_epi16(hi, 8));
      const __m512i v = Zmm::Max<T>(_mm512_permutex2var_epi16(lo, it, hi), _mm512_permutex2var_epi16(lo, ib, hi));
      _mm256_mask_storeu_epi8(y + plane * out_plane + r * ow, static_cast<__mmask32>(Zmm::FirstLanes(n * ow)),
                              _mm512_cvtepi16_epi8(v));
    }
}

template <class T>
bool MaxPool2x2(const WindowGeometry& g, const T* x, T* y, int64_t plane_lo, int64_t plane_hi, int64_t xs,
                int64_t ys) {
  if (!MaxPoolQ8Is2x2Stride2(g)) return false;
  const int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
  if (const int group = MaxPoolQ8RowsPerStep2x2(g); group > 1) {
    const T* x0 = x + plane_lo * xs;
    T* y0 = y + plane_lo * ys;
    const int64_t planes = plane_hi - plane_lo;
    // Even heights of packed planes: the planes' row pairs follow each other,
    // one run over all of them.
    if (ih == 2 * oh && xs == ih * iw && ys == oh * ow) MaxPool2x2Rows(x0, y0, 1, planes * oh, 0, 0, ow, group);
    else MaxPool2x2Rows(x0, y0, planes, oh, xs, ys, ow, group);
    return true;
  }
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * xs;
    T* yp = y + plane * ys;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const T* r0 = xp + 2 * oy * iw;
      for (int64_t ox = 0; ox < ow; ox += 32) {
        const int64_t n = std::min<int64_t>(32, ow - ox);
        const __mmask64 in = Zmm::FirstLanes(2 * n);
        __m512i v = Zmm::Max<T>(_mm512_maskz_loadu_epi8(in, r0 + 2 * ox), _mm512_maskz_loadu_epi8(in, r0 + iw + 2 * ox));
        v = Zmm::Max<T>(v, _mm512_srli_epi16(v, 8));  // low byte of each pair: the max of both
        _mm256_mask_storeu_epi8(yp + oy * ow + ox, static_cast<__mmask32>(Zmm::FirstLanes(n)), _mm512_cvtepi16_epi8(v));
      }
    }
  }
  return true;
}

// Windows 3 wide at stride 2 along the width, left padding 0 or 1 (ResNet's
// 3x3/2 stem pool): per 32 outputs, A = the kernel rows' max of the 64 input
// bytes from column 2 ox0 (output ox's word holds its taps 2 ox and 2 ox + 1)
// and B = the same one word on (pad 0: its low byte is tap 2 ox + 2) or one
// word back (pad 1: its high byte is tap 2 ox - 1); columns outside the input
// load as the lowest code. The low byte of each word of max(A, A >> 8, B or
// B >> 8) is the output, narrowed by vpmovwb. No row buffer: the driver's
// stores and reloads of it stall store forwarding (2.5x slower on ResNet-18's
// 112x112 map).
template <class T>
bool MaxPoolWidth3Stride2(const WindowGeometry& g, const T* x, T* y, int64_t plane_lo, int64_t plane_hi, int64_t xs,
                          int64_t ys) {
  if (!MaxPoolQ8IsWidth3Stride2(g)) return false;
  const int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
  const int64_t kh = g.kernel[0], sh = g.stride[0], ph = g.pad_begin[0];
  const bool pad = g.pad_begin[1] == 1;
  const __m512i lowest = _mm512_set1_epi8(static_cast<char>(std::numeric_limits<T>::lowest()));
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const T* xp = x + plane * xs;
    T* yp = y + plane * ys;
    for (int64_t oy = 0; oy < oh; ++oy) {
      // MaxPoolQ8X86Vectorizes guarantees at least one row inside the input.
      const int64_t r0 = std::max<int64_t>(0, oy * sh - ph), r1 = std::min(ih, oy * sh - ph + kh);
      for (int64_t ox = 0; ox < ow; ox += 32) {
        const int64_t ca = 2 * ox, cb = pad ? ca - 2 : ca + 2;
        // Bytes of each 64-byte load that lie in columns [0, iw).
        const __mmask64 ka = q8::Bits(-ca, iw - ca), kb = q8::Bits(-cb, iw - cb);
        const T* row = xp + r0 * iw;
        __m512i a = _mm512_mask_loadu_epi8(lowest, ka, row + ca), b = _mm512_mask_loadu_epi8(lowest, kb, row + cb);
        for (int64_t r = r0 + 1; r < r1; ++r) {
          row += iw;
          a = Zmm::Max<T>(a, _mm512_mask_loadu_epi8(lowest, ka, row + ca));
          b = Zmm::Max<T>(b, _mm512_mask_loadu_epi8(lowest, kb, row + cb));
        }
        const __m512i v = Zmm::Max<T>(Zmm::Max<T>(a, _mm512_srli_epi16(a, 8)), pad ? _mm512_srli_epi16(b, 8) : b);
        const int64_t n = std::min<int64_t>(32, ow - ox);
        _mm256_mask_storeu_epi8(yp + oy * ow + ox, static_cast<__mmask32>(Zmm::FirstLanes(n)), _mm512_cvtepi16_epi8(v));
      }
    }
  }
  return true;
}

template <class T>
void RunAvx512(const WindowGeometry& g, const T* x, T* y, int64_t plane_lo, int64_t plane_hi, int64_t xs,
               int64_t ys) {
  if (MaxPool2x2(g, x, y, plane_lo, plane_hi, xs, ys)) return;
  if (MaxPoolWidth3Stride2(g, x, y, plane_lo, plane_hi, xs, ys)) return;
  RunMaxPool<Zmm>(g, x, y, plane_lo, plane_hi, xs, ys);
}

template void RunAvx512<uint8_t>(const WindowGeometry&, const uint8_t*, uint8_t*, int64_t, int64_t, int64_t, int64_t);
template void RunAvx512<int8_t>(const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t, int64_t, int64_t);

}  // namespace nibble::maxpoolq8_detail
