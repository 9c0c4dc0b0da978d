// What the integer kernels read from a folded graph: the quantization of
// their inputs and outputs (set by fold-qdq), checked once at session creation.
#pragma once
#include <vector>

#include "kernels/reference/requantize.h"
#include "runtime/op.h"

namespace nibble {

// The parameters of value `v`, validated; fails naming the node when absent or malformed.
const QuantParams& QuantOf(const OpEnv& env, int v, const char* role, int64_t channels = -1);
// uint8 or int8 codes.
DType CodeType(const QuantParams& p);
// The output clamp: the code type's range, narrowed by a fused Relu/Clip.
ClampRange OutputClamp(const OpEnv& env, const QuantParams& y);
// multiplier[c] = x_scale * w_scale[c] / y_scale, one per channel (or one).
std::vector<FixedPointMultiplier> ChannelMultipliers(const OpEnv& env, const QuantParams& x, const QuantParams& w,
                                                     const QuantParams& y);
// Calls f with the C++ code type of t (uint8_t or int8_t).
template <class F>
void DispatchCode(DType t, F&& f) {
  if (t == DType::kUInt8) f(uint8_t{});
  else f(int8_t{});
}

// The width a bit-serial kernel needs for these codes: bipolar 1-bit codes
// are -1 and +1, which take a signed 2-bit range (offset encoding).
inline int SerialBits(const QuantParams& q) { return q.bipolar() ? 2 : q.bits; }

// Zero points of a quantized value (zero when it has none).
inline int32_t ZeroPoint(const QuantParams& p) { return p.zero_point.empty() ? 0 : p.zero_point[0]; }

}  // namespace nibble
