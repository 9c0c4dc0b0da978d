#include "runtime/ops/quant_args.h"

#include <limits>

#include "base/float16.h"
#include "runtime/ops/dispatch.h"

namespace nibble::onnx_quant {

std::vector<float> ReadScales(const Tensor& t, const std::string& where, const char* name) {
  std::vector<float> s(t.numel());
  if (t.dtype() == DType::kFloat32) {
    std::copy(t.data<float>(), t.data<float>() + t.numel(), s.begin());
  } else if (t.dtype() == DType::kFloat16) {
    const uint16_t* h = static_cast<const uint16_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) s[i] = HalfBitsToFloat(h[i]);
  } else {
    Fail(where, ": ", name, " has type ", DTypeName(t.dtype()), "; a scale must be float32 or float16");
  }
  NIBBLE_CHECK(!s.empty(), where, ": ", name, " is empty; a scale needs at least one value");
  for (size_t i = 0; i < s.size(); ++i)
    NIBBLE_CHECK(std::isfinite(s[i]) && s[i] > 0, where, ": ", name, s.size() > 1 ? Cat("[", i, "]") : std::string(),
                 " = ", s[i], " is not a finite positive number (a quantization scale must be > 0)");
  return s;
}

std::vector<int32_t> ReadZeroPoints(const Tensor& t, const std::string& where, const char* name) {
  std::vector<int32_t> z(t.numel());
  auto widen = [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) z[i] = p[i];
  };
  switch (t.dtype()) {
    case DType::kInt8: widen(TypeTag<int8_t>{}); break;
    case DType::kUInt8: widen(TypeTag<uint8_t>{}); break;
    case DType::kInt16: widen(TypeTag<int16_t>{}); break;
    case DType::kUInt16: widen(TypeTag<uint16_t>{}); break;
    case DType::kInt32: widen(TypeTag<int32_t>{}); break;
    default:
      Fail(where, ": ", name, " has type ", DTypeName(t.dtype()),
           "; a zero point must be int8, uint8, int16, uint16 or int32");
  }
  return z;
}

std::optional<Shape> KnownShape(const OpEnv& env, int i) {
  if (i >= static_cast<int>(env.node.inputs.size()) || env.node.inputs[i] < 0) return std::nullopt;
  const Value& v = env.graph.values[env.node.inputs[i]];
  if (v.is_constant()) return v.constant.shape();
  if (v.has_shape) return v.shape;
  return std::nullopt;
}

namespace {

bool Present(const OpEnv& env, int i) {
  return i < static_cast<int>(env.node.inputs.size()) && env.node.inputs[i] >= 0;
}

}  // namespace

ScaleInput::ScaleInput(const OpEnv& env, int index, const char* name)
    : where_(env.where()),
      index_(index),
      name_(name),
      present_(Present(env, index)),
      known_shape_(KnownShape(env, index)) {
  if (const Tensor* c = env.constant_input(index)) constant_ = ReadScales(*c, where_, name_);
}

std::vector<float> ScaleInput::Read(const RunContext& ctx) const {
  if (constant_) return *constant_;
  NIBBLE_CHECK(ctx.has_input(index_), where_, ": ", name_, " (input ", index_, ") is required");
  return ReadScales(ctx.input(index_), where_, name_);
}

ZeroPointInput::ZeroPointInput(const OpEnv& env, int index, const char* name)
    : where_(env.where()),
      index_(index),
      name_(name),
      present_(Present(env, index)),
      known_shape_(KnownShape(env, index)) {
  if (const Tensor* c = env.constant_input(index)) constant_ = ReadZeroPoints(*c, where_, name_);
}

std::vector<int32_t> ZeroPointInput::Read(const RunContext& ctx) const {
  if (!present_) return {};
  if (constant_) return *constant_;
  return ReadZeroPoints(ctx.input(index_), where_, name_);
}

void CheckSameShape(const Shape& scale, const Shape& zero_point, const std::string& where, const char* scale_name,
                    const char* zp_name) {
  for (const Shape* s : {&scale, &zero_point})
    for (int64_t d : *s)
      if (d < 0) return;  // a dynamic dim: checked again when running
  if (IsPerTensor(scale) && IsPerTensor(zero_point)) return;
  NIBBLE_CHECK(scale == zero_point, where, ": ", zp_name, " has shape ", ShapeStr(zero_point), " but ", scale_name,
               " has shape ", ShapeStr(scale), "; a zero point must have its scale's shape");
}

void CheckSameShape(const ScaleInput& s, const ZeroPointInput& z, const std::string& where) {
  if (s.known_shape() && z.known_shape()) CheckSameShape(*s.known_shape(), *z.known_shape(), where, s.name(), z.name());
}

void CheckPerTensor(const Shape& s, const std::string& where, const char* name) {
  for (int64_t d : s)
    if (d < 0) return;
  NIBBLE_CHECK(IsPerTensor(s), where, ": ", name, " must hold one value (per-tensor quantization), got shape ",
               ShapeStr(s));
}

float QLinearMultiplier(float x_scale, float w_scale, float y_scale, const std::string& where) {
  const float m = x_scale * w_scale / y_scale;
  NIBBLE_CHECK(std::isfinite(m), where, ": the requantization multiplier ", x_scale, " * ", w_scale, " / ", y_scale,
               " overflows float32");
  return m;
}

void CodeRange(DType t, int32_t& qmin, int32_t& qmax) {
  switch (t) {
    case DType::kInt8: qmin = -128, qmax = 127; return;
    case DType::kUInt8: qmin = 0, qmax = 255; return;
    case DType::kInt16: qmin = -32768, qmax = 32767; return;
    case DType::kUInt16: qmin = 0, qmax = 65535; return;
    case DType::kInt32: qmin = std::numeric_limits<int32_t>::min(), qmax = std::numeric_limits<int32_t>::max(); return;
    default: Fail("no integer code range for ", DTypeName(t));
  }
}

}  // namespace nibble::onnx_quant
