// 2-D MaxPool on int8 / uint8 codes, zmm (AVX-512 BW): the driver of
// maxpool_q8_driver.inc with 64 outputs per vector and masked tails.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <type_traits>

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

template <class T>
void RunAvx512(const WindowGeometry& g, const T* x, T* y, int64_t plane_lo, int64_t plane_hi) {
  RunMaxPool<Zmm>(g, x, y, plane_lo, plane_hi);
}

template void RunAvx512<uint8_t>(const WindowGeometry&, const uint8_t*, uint8_t*, int64_t, int64_t);
template void RunAvx512<int8_t>(const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t);

}  // namespace nibble::maxpoolq8_detail
