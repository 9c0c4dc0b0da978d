// Fast float paths against their references over random shapes.
#include <gtest/gtest.h>

#include <random>

#include "kernels/blas/sgemm.h"
#include "kernels/reference/maxpool2d_rows.h"
#include "test_util.h"

namespace nibble {
namespace {

TEST(MaxPool2dRows, MatchesReferenceExactly) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int checked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    PoolParams p;
    p.kind = PoolKind::kMax;
    p.planes = pick(1, 4);
    std::vector<int64_t> pads;
    for (int d = 0; d < 2; ++d) {
      p.geo.kernel.push_back(pick(1, 4));
      p.geo.stride.push_back(pick(1, 3));
      p.geo.dilation.push_back(1);
      p.geo.in.push_back(p.geo.kernel.back() + pick(0, 12));
    }
    for (int d = 0; d < 2; ++d) pads.push_back(pick(0, static_cast<int>(p.geo.kernel[d]) - 1));
    for (int d = 0; d < 2; ++d) pads.push_back(pick(0, static_cast<int>(p.geo.kernel[d]) - 1));
    ComputeWindow(p.geo, pads, "NOTSET", pick(0, 1) == 1);
    if (!MaxPool2dRowsApplies(p)) continue;
    ++checked;
    Tensor x = testing::RandomTensor({p.planes, p.geo.in[0], p.geo.in[1]}, trial, -5, 5);
    Shape ys = {p.planes, p.geo.out[0], p.geo.out[1]};
    Tensor want(DType::kFloat32, ys), got(DType::kFloat32, ys);
    PoolReference(p, x.data<float>(), want.data<float>(), nullptr, 0, p.planes);
    MaxPool2dRows(p, x.data<float>(), got.data<float>(), 0, p.planes);
    for (int64_t i = 0; i < got.numel(); ++i) ASSERT_EQ(got.data<float>()[i], want.data<float>()[i]) << trial << " " << i;
  }
  EXPECT_GT(checked, 300);
}

// An axis of size 0 with padding still has outputs (ONNX: 0 + 2 + 2 - 3 + 1 =
// 2 rows), but no input row to start a window from: the fuzzer found the rows
// kernel reading one. The general reference handles it.
TEST(MaxPool2dRows, DoesNotApplyToAnEmptyInputAxis) {
  PoolParams p;
  p.kind = PoolKind::kMax;
  p.planes = 3;
  p.geo.kernel = {3, 3};
  p.geo.stride = {1, 1};
  p.geo.dilation = {1, 1};
  p.geo.in = {0, 28};
  ComputeWindow(p.geo, {2, 2, 2, 2}, "NOTSET", false);
  ASSERT_EQ(p.geo.out, (std::vector<int64_t>{2, 30}));
  EXPECT_FALSE(MaxPool2dRowsApplies(p));
  p.geo.in = {28, 0};
  ComputeWindow(p.geo, {2, 2, 2, 2}, "NOTSET", false);
  EXPECT_FALSE(MaxPool2dRowsApplies(p));
}

TEST(Sgemm, MatchesNaiveProductWithStridesAndTransposes) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 60; ++trial) {
    const int m = 1 + rng() % 40, n = 1 + rng() % 40, k = 1 + rng() % 40;
    const bool ta = rng() % 2, tb = rng() % 2;
    const int lda = (ta ? m : k) + rng() % 3, ldb = (tb ? k : n) + rng() % 3, ldc = n + rng() % 3;
    Tensor a = testing::RandomTensor({(ta ? k : m) * lda}, trial), b = testing::RandomTensor({(tb ? n : k) * ldb}, trial + 99);
    Tensor c = testing::RandomTensor({m * ldc}, trial + 7);
    Tensor want = c.Clone();
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double acc = 0;
        for (int p = 0; p < k; ++p) acc += double(ta ? pa[p * lda + i] : pa[i * lda + p]) * (tb ? pb[j * ldb + p] : pb[p * ldb + j]);
        want.data<float>()[i * ldc + j] = static_cast<float>(0.5 * acc + 0.25 * c.data<float>()[i * ldc + j]);
      }
    Sgemm(ta, tb, m, n, k, 0.5f, pa, lda, pb, ldb, 0.25f, c.data<float>(), ldc);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        ASSERT_NEAR(c.data<float>()[i * ldc + j], want.data<float>()[i * ldc + j], 1e-4) << trial;
  }
}

}  // namespace
}  // namespace nibble
