// QuantizeLinear, 16 floats per step (avx512vnni level). See quantize_linear_x86.h.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -Wmaybe-uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <limits>

#include "kernels/reference/requantize.h"
#include "kernels/x86/quantize_linear_x86.h"

namespace nibble::quantize_linear_detail {

template <class T>
void RunAvx512(const float* x, T* y, int64_t n, float scale, int32_t zero_point) {
  constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  // Saturating in float is exact: the bounds are small integers, and every
  // rounded value beyond them (also +-inf) clamps to them.
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  const float zf = static_cast<float>(zero_point);
  // NaN maps to the zero point, clamped (QuantizeValue).
  const float nan_code = static_cast<float>(zero_point < qmin ? qmin : zero_point > qmax ? qmax : zero_point);
  int64_t i = 0;
  const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zf), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  const __m512 vnan = _mm512_set1_ps(nan_code);
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
    const __mmask16 is_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    // Round half to even, then + zero point: |r| < 2^24 adds exactly, larger r saturates either way.
    __m512 r = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    r = _mm512_min_ps(_mm512_max_ps(r, vlo), vhi);
    r = _mm512_mask_blend_ps(is_nan, r, vnan);
    const __m128i q = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r));  // in range: truncation keeps the code
    _mm_mask_storeu_epi8(y + i, m, q);
  }
}

template void RunAvx512<uint8_t>(const float*, uint8_t*, int64_t, float, int32_t);
template void RunAvx512<int8_t>(const float*, int8_t*, int64_t, float, int32_t);

}  // namespace nibble::quantize_linear_detail
