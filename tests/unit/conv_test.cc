// Float Conv: the im2col + BLAS path against the direct reference loop over
// many random geometries (1-3 spatial dims, groups, strides, dilations, pads).
#include <gtest/gtest.h>

#include <random>

#include "kernels/blas/conv_im2col_f32.h"
#include "test_util.h"

namespace nibble {
namespace {

TEST(ConvF32Reference, HandComputed3x3) {
  // One 3x3 input, one 2x2 all-ones kernel, pad 0 stride 1: sums of 2x2 windows.
  ConvParams p;
  p.batch = 1;
  p.in_channels = p.out_channels = 1;
  p.geo.in = {3, 3};
  p.geo.kernel = {2, 2};
  ComputeWindow(p.geo, {}, "NOTSET", false);
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f}, y[4];
  ConvF32Reference(p, x, w, b, y);
  EXPECT_FLOAT_EQ(y[0], 12.5f);
  EXPECT_FLOAT_EQ(y[1], 16.5f);
  EXPECT_FLOAT_EQ(y[2], 24.5f);
  EXPECT_FLOAT_EQ(y[3], 28.5f);
}

TEST(ComputeWindow, SameUpperAndLowerSplitOddPadding) {
  WindowGeometry g;
  g.in = {5};
  g.kernel = {2};
  g.stride = {1};
  ComputeWindow(g, {}, "SAME_UPPER", false);
  EXPECT_EQ(g.out[0], 5);
  EXPECT_EQ(g.pad_begin[0], 0);
  EXPECT_EQ(g.pad_end[0], 1);
  ComputeWindow(g, {}, "SAME_LOWER", false);
  EXPECT_EQ(g.pad_begin[0], 1);
  EXPECT_EQ(g.pad_end[0], 0);
}

TEST(ConvF32Im2col, MatchesReferenceOnRandomGeometries) {
  std::mt19937 rng(1234);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool pool(2);
  std::vector<float> scratch;
  for (int trial = 0; trial < 300; ++trial) {
    ConvParams p;
    const int rank = pick(1, 3);
    p.batch = pick(1, 2);
    p.group = pick(1, 3);
    p.in_channels = p.group * pick(1, 3);
    p.out_channels = p.group * pick(1, 3);
    std::vector<int64_t> pads;
    for (int d = 0; d < rank; ++d) {
      p.geo.kernel.push_back(pick(1, 3));
      p.geo.stride.push_back(pick(1, 3));
      p.geo.dilation.push_back(pick(1, 2));
      int64_t eff = (p.geo.kernel.back() - 1) * p.geo.dilation.back() + 1;
      p.geo.in.push_back(eff + pick(0, rank == 3 ? 4 : 9));
    }
    for (int d = 0; d < 2 * rank; ++d) pads.push_back(pick(0, 2));
    const char* modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    std::string mode = modes[pick(0, 3)];
    ComputeWindow(p.geo, mode == "NOTSET" ? pads : std::vector<int64_t>{}, mode, false);
    if (pick(0, 1)) p.act.kind = Activation::Kind::kRelu;
    Shape xs = {p.batch, p.in_channels}, ws = {p.out_channels, p.in_channels / p.group};
    Shape ys = {p.batch, p.out_channels};
    for (int d = 0; d < rank; ++d) {
      xs.push_back(p.geo.in[d]);
      ws.push_back(p.geo.kernel[d]);
      ys.push_back(p.geo.out[d]);
    }
    Tensor x = testing::RandomTensor(xs, trial), w = testing::RandomTensor(ws, trial + 1000);
    Tensor b = testing::RandomTensor({p.out_channels}, trial + 2000);
    Tensor y_ref(DType::kFloat32, ys), y(DType::kFloat32, ys);
    ConvF32Reference(p, x.data<float>(), w.data<float>(), b.data<float>(), y_ref.data<float>());
    ConvF32Im2col(p, x.data<float>(), w.data<float>(), b.data<float>(), y.data<float>(), scratch, pool);
    for (int64_t i = 0; i < y.numel(); ++i)
      ASSERT_NEAR(y.data<float>()[i], y_ref.data<float>()[i], 1e-4)
          << "trial " << trial << " rank " << rank << " mode " << mode << " at " << i;
  }
}

}  // namespace
}  // namespace nibble

namespace nibble {
namespace {

// Shapes big enough that the fast path cuts positions into several tiles and
// splits output channels, with partial last tiles.
TEST(ConvF32Im2col, TiledShapesMatchReference) {
  struct Case { int64_t c, m, h, w, k, stride, pad, group; };
  const Case cases[] = {{64, 40, 30, 29, 3, 1, 1, 1}, {96, 24, 17, 33, 3, 2, 1, 1}, {32, 48, 9, 9, 5, 1, 2, 2},
                        {130, 20, 31, 7, 1, 1, 0, 1}, {64, 64, 7, 7, 3, 1, 1, 1},  {8, 16, 70, 71, 7, 2, 3, 1}};
  ThreadPool pool(2);
  std::vector<float> scratch;
  int seed = 0;
  for (const Case& c : cases) {
    ConvParams p;
    p.batch = 2;
    p.in_channels = c.c;
    p.out_channels = c.m;
    p.group = c.group;
    p.geo.in = {c.h, c.w};
    p.geo.kernel = {c.k, c.k};
    p.geo.stride = {c.stride, c.stride};
    ComputeWindow(p.geo, {c.pad, c.pad, c.pad, c.pad}, "NOTSET", false);
    p.act.kind = Activation::Kind::kRelu;
    Tensor x = testing::RandomTensor({p.batch, c.c, c.h, c.w}, ++seed);
    Tensor w = testing::RandomTensor({c.m, c.c / c.group, c.k, c.k}, ++seed);
    Tensor b = testing::RandomTensor({c.m}, ++seed);
    Shape ys = {p.batch, c.m, p.geo.out[0], p.geo.out[1]};
    Tensor want(DType::kFloat32, ys), got(DType::kFloat32, ys);
    ConvF32Reference(p, x.data<float>(), w.data<float>(), b.data<float>(), want.data<float>());
    ConvF32Im2col(p, x.data<float>(), w.data<float>(), b.data<float>(), got.data<float>(), scratch, pool);
    for (int64_t i = 0; i < got.numel(); ++i)
      ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 2e-4) << "case " << seed << " at " << i;
  }
}

}  // namespace
}  // namespace nibble
