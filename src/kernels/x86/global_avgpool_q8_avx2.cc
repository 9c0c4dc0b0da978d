// GlobalAveragePool plane sums on ymm (global_avgpool_q8.h).
#include <immintrin.h>

#include <type_traits>

#include "kernels/x86/global_avgpool_q8.h"

namespace nibble::gapq8_detail {

template <class T>
void SumsAvx2(const T* x, int64_t spatial, int64_t n, int32_t* sums) {
  const __m256i zero = _mm256_setzero_si256(), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < n; ++i) {
    const T* xp = x + i * spatial;
    __m256i acc = zero;  // 4 qword sums; the int32 total cannot overflow (GlobalAvgPoolQ8Check)
    int64_t j = 0;
    for (; j + 32 <= spatial; j += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp + j));
      if constexpr (std::is_signed_v<T>) v = _mm256_xor_si256(v, flip);
      acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, zero));
    }
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    int64_t s = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
    if constexpr (std::is_signed_v<T>) s -= 128 * j;
    for (; j < spatial; ++j) s += xp[j];  // AVX2 has no byte-masked load
    sums[i] = static_cast<int32_t>(s);
  }
}

template void SumsAvx2<uint8_t>(const uint8_t*, int64_t, int64_t, int32_t*);
template void SumsAvx2<int8_t>(const int8_t*, int64_t, int64_t, int32_t*);

}  // namespace nibble::gapq8_detail
