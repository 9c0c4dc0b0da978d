// 2-D MaxPool on int8 / uint8 codes, ymm (AVX2; also the kAvxVnni level): the
// driver of maxpool_q8_driver.inc with 32 outputs per vector and scalar tails.
#include <immintrin.h>

#include <type_traits>

#include "kernels/x86/maxpool_q8.h"
#include "kernels/x86/maxpool_q8_driver.inc"

namespace nibble::maxpoolq8_detail {
namespace {

// The vector traits of the driver (see maxpool_q8_driver.inc) on ymm.
struct Ymm {
  using Vec = __m256i;
  static constexpr int64_t kLanes = 32;

  static Vec Load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static void Store(void* p, Vec v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

  // AVX2 has no masked byte loads or stores: the driver gives it whole vectors
  // only and does the last columns of a row one at a time.
  static constexpr bool kPartialVectors = false;
  struct Part {};  // always the whole vector
  static Part FirstLanes(int64_t) { return {}; }
  static Vec LoadPart(const void* p, Part) { return Load(p); }
  static void StorePart(void* p, Part, Vec v) { Store(p, v); }

  template <class T>
  static Vec Max(Vec a, Vec b) {
    return std::is_signed_v<T> ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
  }

  // vpackuswb packs within 128-bit lanes; vpermq puts the quadwords back in order.
  static void Deinterleave(Vec a, Vec b, Vec& even, Vec& odd) {
    const __m256i lo8 = _mm256_set1_epi16(0x00FF);
    const __m256i e = _mm256_packus_epi16(_mm256_and_si256(a, lo8), _mm256_and_si256(b, lo8));
    const __m256i o = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    even = _mm256_permute4x64_epi64(e, _MM_SHUFFLE(3, 1, 2, 0));
    odd = _mm256_permute4x64_epi64(o, _MM_SHUFFLE(3, 1, 2, 0));
  }
};

}  // namespace

template <class T>
void RunAvx2(const WindowGeometry& g, const T* x, T* y, int64_t plane_lo, int64_t plane_hi, int64_t xs,
             int64_t ys) {
  RunMaxPool<Ymm>(g, x, y, plane_lo, plane_hi, xs, ys);
}

template void RunAvx2<uint8_t>(const WindowGeometry&, const uint8_t*, uint8_t*, int64_t, int64_t, int64_t, int64_t);
template void RunAvx2<int8_t>(const WindowGeometry&, const int8_t*, int8_t*, int64_t, int64_t, int64_t, int64_t);

}  // namespace nibble::maxpoolq8_detail
