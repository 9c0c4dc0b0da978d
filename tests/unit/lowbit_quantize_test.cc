// Low-bit pieces: weight quantization at any width (MSE clipping, bipolar
// 1-bit), precision strings, QuantParams ranges, QONNX float arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/qonnx_quant.h"
#include "nibble/error.h"
#include "quant/quantize.h"

namespace nibble {
namespace {

Tensor RandomWeights(Shape s, uint32_t seed) {
  Tensor w(DType::kFloat32, s);
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.5f);
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = d(rng);
  w.data<float>()[0] = 4.f;  // an outlier in channel 0
  return w;
}

double SqError(const Tensor& w, const Tensor& q, const std::vector<float>& s, int64_t inner) {
  double e = 0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const double d = w.data<float>()[i] - s[(i / inner) % s.size()] * q.data<int8_t>()[i];
    e += d * d;
  }
  return e;
}

TEST(LowBitQuantize, WeightsStayInRangeAndBeatMinMax) {
  Tensor w = RandomWeights({8, 4, 3, 3}, 3);
  const int64_t inner = 36;
  for (int bits = 2; bits <= 7; ++bits) {
    std::vector<float> s;
    Tensor q = QuantizeWeightsBits(w, 0, bits, s);
    ASSERT_EQ(s.size(), 8u);
    const int qmax = (1 << (bits - 1)) - 1;
    for (int64_t i = 0; i < q.numel(); ++i) ASSERT_LE(std::abs(q.data<int8_t>()[i]), qmax) << bits;
    // Min/max scaling as the baseline: MSE clipping must not be worse.
    std::vector<float> s_mm(8);
    Tensor q_mm(DType::kInt8, w.shape());
    for (int c = 0; c < 8; ++c) {
      float amax = 0;
      for (int i = 0; i < inner; ++i) amax = std::max(amax, std::fabs(w.data<float>()[c * inner + i]));
      s_mm[c] = amax / qmax;
      for (int i = 0; i < inner; ++i)
        q_mm.data<int8_t>()[c * inner + i] =
            static_cast<int8_t>(std::clamp<float>(std::nearbyint(w.data<float>()[c * inner + i] / s_mm[c]), -qmax, qmax));
    }
    EXPECT_LE(SqError(w, q, s, inner), SqError(w, q_mm, s_mm, inner) * (1 + 1e-9)) << bits;
    if (bits <= 3) {
      EXPECT_LT(SqError(w, q, s, inner), 0.9 * SqError(w, q_mm, s_mm, inner)) << bits;
    }
  }
}

TEST(LowBitQuantize, OneBitIsBipolarWithMeanAbsScale) {
  Tensor w = RandomWeights({4, 10}, 4);
  std::vector<float> s;
  Tensor q = QuantizeWeightsBits(w, 1, 1, s);  // per column (axis 1), as MatMul weights
  ASSERT_EQ(s.size(), 10u);
  for (int c = 0; c < 10; ++c) {
    double mean_abs = 0;
    for (int r = 0; r < 4; ++r) {
      const float v = w.data<float>()[r * 10 + c];
      mean_abs += std::fabs(v) / 4;
      EXPECT_EQ(q.data<int8_t>()[r * 10 + c], v >= 0 ? 1 : -1);
    }
    EXPECT_NEAR(s[c], mean_abs, 1e-6);
  }
}

TEST(LowBitQuantize, PrecisionStrings) {
  EXPECT_EQ(ParseLayerBits("w4a8", "t"), (LayerBits{4, 8}));
  EXPECT_EQ(ParseLayerBits("W1A1", "t"), (LayerBits{1, 1}));
  EXPECT_EQ(LayerBitsName({2, 3}), "w2a3");
  for (const char* bad : {"w9a8", "w0a1", "4a8", "w4a", "w4a8x", ""}) EXPECT_THROW(ParseLayerBits(bad, "t"), Error) << bad;
}

TEST(LowBitQuantize, QuantParamsRanges) {
  QuantParams p;
  p.bits = 4;
  p.is_signed = false;
  EXPECT_EQ(p.qmin(), 0);
  EXPECT_EQ(p.qmax(), 15);
  p.is_signed = true;
  p.narrow = true;
  EXPECT_EQ(p.qmin(), -7);
  EXPECT_EQ(p.qmax(), 7);
  p.bits = 1;  // bipolar
  EXPECT_TRUE(p.bipolar());
  EXPECT_EQ(p.qmin(), -1);
  EXPECT_EQ(p.qmax(), 1);
  p.bits = 2;
  EXPECT_EQ(p.qmin(), -1);  // ternary
  EXPECT_EQ(p.qmax(), 1);
}

TEST(LowBitQuantize, QonnxRoundingModesFollowTheSpecTable) {
  using qonnx::Rounding;
  const float xs[] = {5.5f, 2.5f, 1.6f, 1.1f, 1.0f, -1.0f, -1.1f, -1.6f, -2.5f, -5.5f};
  // Rows of the table in docs/qonnx-custom-ops/quant_op.md.
  const float want[7][10] = {{6, 2, 2, 1, 1, -1, -1, -2, -2, -6},   // ROUND
                             {6, 3, 2, 2, 1, -1, -1, -1, -2, -5},   // CEIL
                             {5, 2, 1, 1, 1, -1, -2, -2, -3, -6},   // FLOOR
                             {6, 3, 2, 2, 1, -1, -2, -2, -3, -6},   // UP
                             {5, 2, 1, 1, 1, -1, -1, -1, -2, -5},   // DOWN
                             {6, 3, 2, 1, 1, -1, -1, -2, -3, -6},   // HALF_UP
                             {5, 2, 2, 1, 1, -1, -1, -2, -2, -5}};  // HALF_DOWN
  const char* names[7] = {"ROUND", "CEIL", "floor", "UP", "DOWN", "HALF_UP", "HALF_DOWN"};
  for (int m = 0; m < 7; ++m) {
    auto r = qonnx::ParseRounding(names[m]);
    ASSERT_TRUE(r.has_value()) << names[m];
    for (int i = 0; i < 10; ++i) EXPECT_EQ(qonnx::Round(xs[i], *r), want[m][i]) << names[m] << " " << xs[i];
  }
  EXPECT_FALSE(qonnx::ParseRounding("STOCHASTIC").has_value());
  // Quant: clip before rounding; signed 1-bit is bipolar.
  EXPECT_EQ(qonnx::Quant(10.f, 1.f, 0.f, 4.f, true, false, Rounding::kHalfEven), 7.f);
  EXPECT_EQ(qonnx::Quant(-10.f, 1.f, 0.f, 4.f, true, true, Rounding::kHalfEven), -7.f);
  EXPECT_EQ(qonnx::Quant(-10.f, 0.5f, 2.f, 4.f, false, false, Rounding::kHalfEven), -1.f);  // (0 - 2) * 0.5
  EXPECT_EQ(qonnx::Quant(0.f, 0.5f, 0.f, 1.f, true, false, Rounding::kHalfEven), 0.5f);
  EXPECT_EQ(qonnx::BipolarQuant(-0.1f, 2.f), -2.f);
}

}  // namespace
}  // namespace nibble
