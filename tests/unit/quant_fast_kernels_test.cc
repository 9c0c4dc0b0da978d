// Faster integer kernels bit-exact against their references.
#include <gtest/gtest.h>

#include <random>

#include "kernels/reference/conv_q8_im2col.h"

namespace nibble {
namespace {

template <class TX, class TY>
void CheckConv(std::mt19937& rng, int trial) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvQ8Params p;
  p.batch = pick(1, 2);
  p.group = pick(1, 3);
  p.in_channels = p.group * pick(1, 4);
  p.out_channels = p.group * pick(1, 4);
  const int rank = pick(1, 2);
  std::vector<int64_t> pads;
  for (int d = 0; d < rank; ++d) {
    p.geo.kernel.push_back(pick(1, 3));
    p.geo.stride.push_back(pick(1, 2));
    p.geo.dilation.push_back(pick(1, 2));
    p.geo.in.push_back((p.geo.kernel.back() - 1) * p.geo.dilation.back() + 1 + pick(0, 7));
  }
  for (int d = 0; d < 2 * rank; ++d) pads.push_back(pick(0, 2));
  ComputeWindow(p.geo, pads, "NOTSET", false);
  p.x_zero_point = pick(std::numeric_limits<TX>::min(), std::numeric_limits<TX>::max());
  p.y_zero_point = pick(std::numeric_limits<TY>::min(), std::numeric_limits<TY>::max());
  for (int64_t m = 0; m < p.out_channels; ++m)
    p.multiplier.push_back(QuantizeMultiplier(std::uniform_real_distribution<double>(1e-4, 2e-2)(rng)));
  if (pick(0, 1)) p.y_min = p.y_zero_point;  // a fused Relu
  const int64_t kdim = p.in_channels / p.group * p.geo.kernel_size();
  std::vector<TX> x(p.batch * p.in_channels * p.geo.spatial_size_in());
  std::vector<int8_t> w(p.out_channels * kdim);
  std::vector<int32_t> bias(p.out_channels);
  for (auto& v : x) v = static_cast<TX>(pick(std::numeric_limits<TX>::min(), std::numeric_limits<TX>::max()));
  for (auto& v : w) v = static_cast<int8_t>(pick(-127, 127));
  for (auto& v : bias) v = pick(-5000, 5000);
  const size_t ny = p.batch * p.out_channels * p.geo.spatial_size_out();
  std::vector<TY> want(ny), got(ny);
  std::vector<TX> col;
  std::vector<int32_t> acc;
  ConvQ8Reference(p, x.data(), w.data(), bias.data(), want.data());
  ConvQ8Im2col(p, x.data(), w.data(), bias.data(), got.data(), col, acc);
  ASSERT_EQ(got, want) << "trial " << trial;
}

TEST(ConvQ8Im2col, BitExactWithReference) {
  std::mt19937 rng(99);
  for (int t = 0; t < 100; ++t) {
    CheckConv<uint8_t, uint8_t>(rng, t);
    CheckConv<uint8_t, int8_t>(rng, t);
    CheckConv<int8_t, uint8_t>(rng, t);
    CheckConv<int8_t, int8_t>(rng, t);
  }
}

}  // namespace
}  // namespace nibble
