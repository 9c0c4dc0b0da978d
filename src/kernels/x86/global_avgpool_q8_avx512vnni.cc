// GlobalAveragePool plane sums on zmm (global_avgpool_q8.h).
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <type_traits>

#include "kernels/x86/global_avgpool_q8.h"

namespace nibble::gapq8_detail {

template <class T>
void SumsAvx512(const T* x, int64_t spatial, int64_t n, int32_t* sums) {
  const __m512i zero = _mm512_setzero_si512(), flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int64_t tail = spatial % 64;
  const __mmask64 tail_mask = tail ? (__mmask64{1} << tail) - 1 : 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* xp = x + i * spatial;
    __m512i acc = zero;  // 8 qword sums; the int32 total cannot overflow (GlobalAvgPoolQ8Check)
    int64_t j = 0;
    for (; j + 64 <= spatial; j += 64) {
      __m512i v = _mm512_loadu_si512(xp + j);
      if constexpr (std::is_signed_v<T>) v = _mm512_xor_si512(v, flip);
      acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, zero));
    }
    if (tail) {
      __m512i v = _mm512_maskz_loadu_epi8(tail_mask, xp + j);
      if constexpr (std::is_signed_v<T>) v = _mm512_xor_si512(v, flip);  // the zeros past the plane too
      acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, zero));
      j += 64;
    }
    int64_t s = _mm512_reduce_add_epi64(acc);
    if constexpr (std::is_signed_v<T>) s -= 128 * j;  // 128 per byte summed
    sums[i] = static_cast<int32_t>(s);
  }
}

template void SumsAvx512<uint8_t>(const uint8_t*, int64_t, int64_t, int32_t*);
template void SumsAvx512<int8_t>(const int8_t*, int64_t, int64_t, int32_t*);

}  // namespace nibble::gapq8_detail
