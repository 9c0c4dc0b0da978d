// QuantizeLinear, 8 floats per step (avx2 level). See quantize_linear_x86.h.
#include <immintrin.h>

#include <limits>

#include "kernels/reference/requantize.h"
#include "kernels/x86/quantize_linear_x86.h"

namespace nibble::quantize_linear_detail {

template <class T>
void RunAvx2(const float* x, T* y, int64_t n, float scale, int32_t zero_point) {
  constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  // Saturating in float is exact: the bounds are small integers, and every
  // rounded value beyond them (also +-inf) clamps to them.
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  const float zf = static_cast<float>(zero_point);
  // NaN maps to the zero point, clamped (QuantizeValue).
  const float nan_code = static_cast<float>(zero_point < qmin ? qmin : zero_point > qmax ? qmax : zero_point);
  int64_t i = 0;
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zf), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256 vnan = _mm256_set1_ps(nan_code);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), vs);
    const __m256 is_nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    // Round half to even, then + zero point: |r| < 2^24 adds exactly, larger r saturates either way.
    __m256 r = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    r = _mm256_min_ps(_mm256_max_ps(r, vlo), vhi);
    r = _mm256_blendv_ps(r, vnan, is_nan);
    alignas(32) int32_t q[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(q), _mm256_cvtps_epi32(r));
    for (int k = 0; k < 8; ++k) y[i + k] = static_cast<T>(q[k]);
  }
  for (; i < n; ++i) y[i] = static_cast<T>(QuantizeValue(x[i], scale, zero_point, qmin, qmax));
}

template void RunAvx2<uint8_t>(const float*, uint8_t*, int64_t, float, int32_t);
template void RunAvx2<int8_t>(const float*, int8_t*, int64_t, float, int32_t);

}  // namespace nibble::quantize_linear_detail
