#include "kernels/x86/quantize_linear_x86.h"

#include <limits>

#include "kernels/reference/requantize.h"

namespace nibble {

template <class T>
void QuantizeLinearX86(const float* x, T* y, int64_t n, float scale, int32_t zero_point, Isa isa) {
  if (isa >= Isa::kAvx512Vnni) return quantize_linear_detail::RunAvx512(x, y, n, scale, zero_point);
  if (isa != Isa::kScalar) return quantize_linear_detail::RunAvx2(x, y, n, scale, zero_point);
  constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(QuantizeValue(x[i], scale, zero_point, qmin, qmax));
}

template void QuantizeLinearX86<uint8_t>(const float*, uint8_t*, int64_t, float, int32_t, Isa);
template void QuantizeLinearX86<int8_t>(const float*, int8_t*, int64_t, float, int32_t, Isa);

}  // namespace nibble
