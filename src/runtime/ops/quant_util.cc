#include "runtime/ops/quant_util.h"

namespace nibble {

const QuantParams& QuantOf(const OpEnv& env, int v, const char* role, int64_t channels) {
  NIBBLE_CHECK(v >= 0 && env.graph.values[v].quant.has_value(), env.where(), ": ", role,
               " has no quantization parameters");
  const QuantParams& p = *env.graph.values[v].quant;
  p.Validate(env.where() + ": " + role + " '" + env.graph.values[v].name + "'", channels);
  return p;
}

DType CodeType(const QuantParams& p) { return p.is_signed ? DType::kInt8 : DType::kUInt8; }

ClampRange OutputClamp(const OpEnv& env, const QuantParams& y) {
  if (env.node.fused.kind == Activation::Kind::kNone) return {y.qmin(), y.qmax()};
  return QuantizedActivationRange(env.node.fused, y.scale[0], ZeroPoint(y), y.qmin(), y.qmax());
}

std::vector<FixedPointMultiplier> ChannelMultipliers(const OpEnv& env, const QuantParams& x, const QuantParams& w,
                                                     const QuantParams& y) {
  std::vector<FixedPointMultiplier> m;
  for (float ws : w.scale) {
    double real = static_cast<double>(x.scale[0]) * ws / y.scale[0];
    try {
      m.push_back(QuantizeMultiplier(real));
    } catch (const Error& e) {
      Fail(env.where(), ": requantization scale ", real, " cannot be represented: ", e.what());
    }
  }
  return m;
}

}  // namespace nibble
