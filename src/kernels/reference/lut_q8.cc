#include "kernels/reference/lut_q8.h"

#include "kernels/reference/requantize.h"
#include "nibble/error.h"

namespace nibble {
namespace {

void CheckLutParams(const QuantParams& q, const char* what) {
  q.Validate(what);
  NIBBLE_CHECK(q.bits <= 8, what, ": a lookup table needs at most 8 bits, got ", q.bits);
  NIBBLE_CHECK(!q.per_channel(), what, ": a lookup table needs per-tensor quantization, got ", q.ToString());
}

}  // namespace

LutQ8 BuildLutQ8(const std::function<float(float)>& f, const QuantParams& in, const QuantParams& out) {
  CheckLutParams(in, "lookup table input");
  CheckLutParams(out, "lookup table output");
  const int32_t zin = in.zero_point.empty() ? 0 : in.zero_point[0];
  const int32_t zout = out.zero_point.empty() ? 0 : out.zero_point[0];
  LutQ8 table{};
  for (int byte = 0; byte < 256; ++byte) {
    const int32_t q = in.is_signed ? static_cast<int8_t>(byte) : byte;
    const float y = f(DequantizeValue(q, in.scale[0], zin));
    table[byte] = static_cast<uint8_t>(QuantizeValue(y, out.scale[0], zout, out.qmin(), out.qmax()));
  }
  return table;
}

void ApplyLutQ8(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

}  // namespace nibble
