// The arithmetic of QONNX's Quant, BipolarQuant and Trunc (domain
// qonnx.custom_op.general, formerly finn.custom_op.general), in float32 and in
// the order qonnx's numpy reference computes it, so that nibble's float
// reference kernels and the lowering to QuantizeLinear agree with it bit for
// bit:
//   Quant(x, s, z, b)   = (round(clip(x / s + z, min_int, max_int)) - z) * s
//                         (signed 1-bit: where(x / s + z >= 0, 1, -1) instead)
//   BipolarQuant(x, s)  = where(x / s >= 0, 1, -1) * s
//   Trunc               see TruncV1 / TruncV2 below.
#pragma once
#include <cmath>
#include <optional>
#include <string>

namespace nibble::qonnx {

// The domain qonnx writes, and the names it had before (FINN) and Brevitas uses.
inline constexpr const char* kDomain = "qonnx.custom_op.general";
inline bool IsQonnxDomain(const std::string& d) {
  return d == "qonnx.custom_op.general" || d == "finn.custom_op.general" || d == "onnx.brevitas";
}

enum class Rounding { kHalfEven, kCeil, kFloor, kUp, kDown, kHalfUp, kHalfDown };

// ROUND (= HALF_EVEN), CEIL, FLOOR, UP (away from zero), DOWN (toward zero;
// Brevitas' ROUND_TO_ZERO), HALF_UP, HALF_DOWN; any letter case.
inline std::optional<Rounding> ParseRounding(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if (s == "ROUND" || s == "HALF_EVEN") return Rounding::kHalfEven;
  if (s == "CEIL") return Rounding::kCeil;
  if (s == "FLOOR") return Rounding::kFloor;
  if (s == "UP") return Rounding::kUp;
  if (s == "DOWN" || s == "ROUND_TO_ZERO") return Rounding::kDown;
  if (s == "HALF_UP") return Rounding::kHalfUp;
  if (s == "HALF_DOWN") return Rounding::kHalfDown;
  return std::nullopt;
}

inline float Sign(float x) { return x > 0 ? 1.f : x < 0 ? -1.f : x; }

inline float Round(float x, Rounding m) {
  switch (m) {
    case Rounding::kHalfEven: return std::nearbyint(x);  // default FE_TONEAREST: ties to even, as np.round
    case Rounding::kCeil: return std::ceil(x);
    case Rounding::kFloor: return std::floor(x);
    case Rounding::kUp: return Sign(x) * std::ceil(std::fabs(x));
    case Rounding::kDown: return std::trunc(x);
    case Rounding::kHalfUp: return Sign(x) * std::floor(std::fabs(x) + 0.5f);
    case Rounding::kHalfDown: return Sign(x) * std::ceil(std::fabs(x) - 0.5f);
  }
  return x;
}

// qonnx's min_int / max_int for a (float) bit-width, as float32.
inline float MinInt(bool is_signed, bool narrow, float bits) {
  if (!is_signed) return 0.f;
  const double v = -std::exp2(static_cast<double>(bits) - 1.0) + (narrow ? 1.0 : 0.0);
  return static_cast<float>(v);
}
inline float MaxInt(bool is_signed, bool narrow, float bits) {
  if (is_signed) return static_cast<float>(std::exp2(static_cast<double>(bits) - 1.0) - 1.0);
  return static_cast<float>(std::exp2(static_cast<double>(bits)) - (narrow ? 2.0 : 1.0));
}

// The integer (code + zero point) Quant produces before rescaling.
inline float QuantInt(float x, float scale, float zeropt, float bits, bool is_signed, bool narrow, Rounding m) {
  float y = x / scale;
  y = y + zeropt;
  if (bits == 1.f && is_signed) return y >= 0.f ? 1.f : -1.f;
  const float lo = MinInt(is_signed, narrow, bits), hi = MaxInt(is_signed, narrow, bits);
  if (y > hi) y = hi;
  if (y < lo) y = lo;
  return Round(y, m);
}

inline float Quant(float x, float scale, float zeropt, float bits, bool is_signed, bool narrow, Rounding m) {
  return (QuantInt(x, scale, zeropt, bits, is_signed, narrow, m) - zeropt) * scale;
}

inline float BipolarQuant(float x, float scale) { return (x / scale >= 0.f ? 1.f : -1.f) * scale; }

// Trunc as qonnx 0.4 (5 inputs: x, scale, zeropt, in_bitwidth, out_bitwidth).
inline float TruncV1(float x, float scale, float zeropt, float in_bits, float out_bits, Rounding m) {
  float y = x / scale;
  y = y + zeropt;
  y = std::nearbyint(y);
  const float trunc_scale = static_cast<float>(std::exp2(static_cast<double>(in_bits - out_bits)));
  y = y / trunc_scale;
  y = Round(y, m);
  y = y - zeropt;
  return y * scale;
}

// Trunc opset 2 (qonnx trunc_v2.md, as Brevitas exports it: 6 inputs x, scale,
// zeropt, in_bitwidth, out_scale, out_bitwidth; attributes signed, narrow).
inline float TruncV2(float x, float scale, float zeropt, float out_scale, float out_bits, bool is_signed, bool narrow,
                     Rounding m) {
  float y = x / scale;
  y = y + zeropt;
  y = std::nearbyint(y);
  const float ratio = out_scale / scale;
  const float trunc_scale = std::exp2(std::nearbyint(std::log2(ratio)));
  y = y / trunc_scale;
  const float lo = MinInt(is_signed, narrow, out_bits), hi = MaxInt(is_signed, narrow, out_bits);
  if (y > hi) y = hi;
  if (y < lo) y = lo;
  y = Round(y, m);
  const float out_zeropt = zeropt / trunc_scale;
  y = y - out_zeropt;
  return y * out_scale;
}

}  // namespace nibble::qonnx
