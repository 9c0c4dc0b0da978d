// An elementwise activation that can be fused into the epilogue of the op that
// produces its input (Conv, Gemm, MatMul, Add). Shared by the graph passes that
// fuse it and the kernels that apply it, so it lives in base.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

namespace nibble {

struct Activation {
  enum class Kind { kNone, kRelu, kClip, kHardSwish, kLeakyRelu };
  Kind kind = Kind::kNone;
  float lo = 0, hi = 0;  // Clip bounds
  float alpha = 0;       // LeakyRelu slope

  float Apply(float x) const {
    switch (kind) {
      case Kind::kNone: return x;
      case Kind::kRelu: return x > 0 ? x : 0;
      case Kind::kClip: return std::min(std::max(x, lo), hi);
      case Kind::kHardSwish: return x * std::min(std::max(x / 6.0f + 0.5f, 0.0f), 1.0f);
      case Kind::kLeakyRelu: return x >= 0 ? x : alpha * x;
    }
    return x;
  }
  // The kind is switched on once, outside the loop, so each case vectorizes.
  void ApplyInPlace(float* x, long n) const {
    switch (kind) {
      case Kind::kNone: return;
      case Kind::kRelu:
        for (long i = 0; i < n; ++i) x[i] = x[i] > 0 ? x[i] : 0;
        return;
      case Kind::kClip:
        for (long i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], lo), hi);
        return;
      case Kind::kHardSwish:
        for (long i = 0; i < n; ++i) x[i] = x[i] * std::min(std::max(x[i] / 6.0f + 0.5f, 0.0f), 1.0f);
        return;
      case Kind::kLeakyRelu:
        for (long i = 0; i < n; ++i) x[i] = x[i] >= 0 ? x[i] : alpha * x[i];
        return;
    }
  }
  std::string Name() const {
    switch (kind) {
      case Kind::kNone: return "";
      case Kind::kRelu: return "Relu";
      case Kind::kClip: return "Clip";
      case Kind::kHardSwish: return "HardSwish";
      case Kind::kLeakyRelu: return "LeakyRelu";
    }
    return "";
  }
};

}  // namespace nibble
