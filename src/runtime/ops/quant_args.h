// The scale and zero-point inputs of the ONNX quantization operators
// (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv,
// QLinearMatMul, MatMulInteger, ConvInteger). ONNX passes them as tensors, so
// they may be initializers or runtime inputs; both get the same checks, once
// at session creation for an initializer (in the kernel's constructor), on
// every run otherwise. A malformed parameter (a zero, negative, NaN or
// infinite scale; a per-channel array shorter or longer than the axis it
// covers; a zero point whose shape differs from its scale's) is a clear error
// naming the node and the input, never a division by zero or a read past the
// end of a short array (the class of TFLite's CVE-2021-37682 and
// CVE-2022-29212).
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/op.h"

namespace nibble::onnx_quant {

// A scale input: float32 or float16 (widened to float).
class ScaleInput {
 public:
  ScaleInput(const OpEnv& env, int index, const char* name);
  bool present() const { return present_; }
  int index() const { return index_; }
  const char* name() const { return name_; }
  // Every value finite and > 0, or fails naming the node and the input.
  std::vector<float> Read(const RunContext& ctx) const;
  // The shape when known before running: an initializer's, or the declared one.
  const Shape* known_shape() const { return known_shape_ ? &*known_shape_ : nullptr; }

 private:
  std::string where_;
  int index_;
  const char* name_;
  bool present_;
  std::optional<std::vector<float>> constant_;
  std::optional<Shape> known_shape_;
};

// A zero-point input: int8, uint8, int16, uint16 or int32, widened to int32
// (the type range makes every value valid). Absent means 0.
class ZeroPointInput {
 public:
  ZeroPointInput(const OpEnv& env, int index, const char* name);
  bool present() const { return present_; }
  int index() const { return index_; }
  const char* name() const { return name_; }
  // Empty when the input is absent.
  std::vector<int32_t> Read(const RunContext& ctx) const;
  const Shape* known_shape() const { return known_shape_ ? &*known_shape_ : nullptr; }

 private:
  std::string where_;
  int index_;
  const char* name_;
  bool present_;
  std::optional<std::vector<int32_t>> constant_;
  std::optional<Shape> known_shape_;
};

// Scales as float; fails unless every one is finite and > 0.
std::vector<float> ReadScales(const Tensor& t, const std::string& where, const char* name);
// Zero points as int32; fails for a type that is not int8/uint8/int16/uint16/int32.
std::vector<int32_t> ReadZeroPoints(const Tensor& t, const std::string& where, const char* name);

// One value, whatever the rank ([], [1], [1, 1]): per-tensor quantization.
inline bool IsPerTensor(const Shape& s) {
  return ShapeNumel(s) == 1;
}

// The shape of node input i before running: an initializer's, or the graph's
// declared shape (-1 for a dynamic dim); nullopt when even the rank is unknown.
std::optional<Shape> KnownShape(const OpEnv& env, int i);

// Fails unless the zero point has the scale's shape (two one-value shapes match).
void CheckSameShape(const Shape& scale, const Shape& zero_point, const std::string& where, const char* scale_name,
                    const char* zp_name);
// Both inputs' shapes, when both are known before running.
void CheckSameShape(const ScaleInput& s, const ZeroPointInput& z, const std::string& where);
// Fails unless the shape holds one value (a scalar or a one-element tensor).
void CheckPerTensor(const Shape& s, const std::string& where, const char* name);

// Round half to even, independent of the floating-point environment.
inline double RoundHalfEvenDouble(double v) {
  double f = std::floor(v);
  const double frac = v - f;  // exact for every finite double
  if (frac > 0.5 || (frac == 0.5 && std::fmod(f, 2.0) != 0.0)) f += 1.0;
  return f;
}

// ONNX's requantization of an integer accumulator, as the QLinearConv /
// QLinearMatMul specification and its reference state it: the real product
// acc * multiplier (multiplier = x_scale * w_scale / y_scale, computed in
// float32), rounded half to even, plus the zero point, saturated. The product
// is taken in double: exact for |acc| < 2^29, so ties are decided on the true
// value. (nibble's integer kernels use the fixed-point rule of requantize.h
// instead, which rounds ties toward +infinity; these are conformance kernels.)
inline int32_t RequantizeAsOnnx(int64_t acc, float multiplier, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const double v = RoundHalfEvenDouble(static_cast<double>(acc) * multiplier) + zero_point;
  return static_cast<int32_t>(v < qmin ? qmin : v > qmax ? qmax : v);
}

// The x_scale * w_scale / y_scale of QLinear ops, in float32 as ONNX computes
// it; fails when it overflows to infinity (every scale being finite and > 0).
float QLinearMultiplier(float x_scale, float w_scale, float y_scale, const std::string& where);

// [qmin, qmax] of an 8- or 16-bit integer code type (int32: its full range).
void CodeRange(DType t, int32_t& qmin, int32_t& qmax);

}  // namespace nibble::onnx_quant
