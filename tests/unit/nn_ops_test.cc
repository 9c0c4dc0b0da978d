// Neural-network ops: pooling, normalization, softmax, reductions, resize and
// ConvTranspose. Kernels are checked against numbers worked out by hand (or
// by a brute-force loop written here, independent of the kernel), fast paths
// against their reference over random shapes, and the op bindings (opset
// rules, attributes, errors) through small sessions.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/blas/conv_transpose_col2im_f32.h"
#include "kernels/reference/batchnorm_f32.h"
#include "kernels/reference/dwconv_f32.h"
#include "kernels/reference/layernorm_f32.h"
#include "kernels/reference/pool_f32.h"
#include "kernels/reference/reduce_f32.h"
#include "kernels/reference/resize_f32.h"
#include "kernels/reference/softmax_f32.h"
#include "nibble/session.h"
#include "test_util.h"

namespace nibble {
namespace {

using testing::FloatTensor;

// ---------------------------------------------------------------- sessions

Tensor Int64Tensor(Shape s, std::vector<int64_t> v) {
  Tensor t(DType::kInt64, std::move(s));
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

struct OneOp {
  Graph g;
  int node;
  std::vector<std::pair<std::string, Tensor>> feeds;

  // Inputs named in0, in1, ...; an empty Tensor skips that input; `constant`
  // marks inputs that become initializers instead of runtime inputs.
  OneOp(const std::string& op, int64_t opset, std::vector<Tensor> ins, int num_outputs,
        std::vector<bool> constant = {}) {
    g.opset = opset;
    g.path = "test.onnx";
    std::vector<std::string> in_names, out_names;
    for (size_t i = 0; i < ins.size(); ++i) {
      if (ins[i].empty()) {
        in_names.push_back("");
        continue;
      }
      std::string name = "in" + std::to_string(i);
      in_names.push_back(name);
      if (i < constant.size() && constant[i]) {
        g.AddConstant(name, ins[i]);
      } else {
        testing::AddInput(g, name, ins[i].dtype(), ins[i].shape());
        feeds.push_back({name, ins[i]});
      }
    }
    for (int o = 0; o < num_outputs; ++o) out_names.push_back("out" + std::to_string(o));
    node = testing::AddOp(g, op, in_names, out_names, "node_" + op);
    for (const auto& o : out_names) g.outputs.push_back(g.FindValue(o));
  }
  Attributes& attrs() { return g.nodes[node].attrs; }
  std::vector<Tensor> Run() {
    auto s = Session::FromGraph(g);
    return s->Run(feeds);
  }
};

std::vector<float> Values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

// Expects the op to fail while loading or running, naming the node and saying `what`.
template <class F>
void ExpectError(F&& f, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << what << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("node_"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

std::vector<float> Random(size_t n, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// ---------------------------------------------------------------- pooling

PoolParams Pool2d(PoolKind kind, int64_t h, int64_t w, int64_t k, int64_t s, std::vector<int64_t> pads, bool ceil) {
  PoolParams p;
  p.planes = 1;
  p.kind = kind;
  p.geo.in = {h, w};
  p.geo.kernel = {k, k};
  p.geo.stride = {s, s};
  ComputeWindow(p.geo, pads, "NOTSET", ceil);
  return p;
}

TEST(PoolKernels, MaxPoolCeilModeSpecExample) {
  // ONNX's maxpool_2d_ceil: 4x4 of 1..16, 3x3 window, stride 2, ceil_mode.
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = i + 1.f;
  PoolParams p = Pool2d(PoolKind::kMax, 4, 4, 3, 2, {}, true);
  ASSERT_EQ(p.geo.out, (std::vector<int64_t>{2, 2}));
  float y[4], z[4];
  PoolReference(p, x.data(), y, nullptr, 0, 1);
  PoolClipped(p, x.data(), z, nullptr, 0, 1);
  ExpectNear({y, y + 4}, {11, 12, 15, 16});
  ExpectNear({z, z + 4}, {11, 12, 15, 16});
}

TEST(PoolKernels, AveragePoolCountIncludePad) {
  // 3x3 of 1..9, 2x2 window, stride 2, pad 1: the windows see {1}, {2,3}, {4,7}, {5,6,8,9}.
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  PoolParams p = Pool2d(PoolKind::kAverage, 3, 3, 2, 2, {1, 1, 1, 1}, false);
  float y[4];
  PoolClipped(p, x.data(), y, nullptr, 0, 1);
  ExpectNear({y, y + 4}, {1, 2.5f, 5.5f, 7});
  p.count_include_pad = true;
  PoolClipped(p, x.data(), y, nullptr, 0, 1);
  ExpectNear({y, y + 4}, {0.25f, 1.25f, 2.75f, 7});
  PoolReference(p, x.data(), y, nullptr, 0, 1);
  ExpectNear({y, y + 4}, {0.25f, 1.25f, 2.75f, 7});
}

TEST(PoolKernels, MaxPoolIndicesRowAndColumnMajor) {
  // 5x5 of 1..25, 2x2 window, stride 2 (ONNX maxpool_with_argmax_2d_precomputed_strides).
  std::vector<float> x(2 * 25);
  for (int i = 0; i < 50; ++i) x[i] = i % 25 + 1.f;
  PoolParams p = Pool2d(PoolKind::kMax, 5, 5, 2, 2, {}, false);
  p.planes = 2;
  float y[8];
  int64_t idx[8];
  PoolClipped(p, x.data(), y, idx, 0, 2);
  ExpectNear({y, y + 4}, {7, 9, 17, 19});
  EXPECT_EQ(std::vector<int64_t>(idx, idx + 8), (std::vector<int64_t>{6, 8, 16, 18, 31, 33, 41, 43}));
  p.col_major_indices = true;
  PoolReference(p, x.data(), y, idx, 0, 2);
  EXPECT_EQ(std::vector<int64_t>(idx, idx + 8), (std::vector<int64_t>{6, 16, 8, 18, 31, 41, 33, 43}));
}

TEST(PoolKernels, LpPoolAndGlobalPools) {
  PoolParams p;
  p.planes = 1;
  p.kind = PoolKind::kLp;
  p.p = 2;
  p.geo.in = {3};
  p.geo.kernel = {2};
  ComputeWindow(p.geo, {}, "NOTSET", false);
  std::vector<float> x = {3, -4, 12};
  float y[2];
  PoolClipped(p, x.data(), y, nullptr, 0, 1);
  ExpectNear({y, y + 2}, {5, std::sqrt(160.f)});
  float g[2];
  std::vector<float> planes = {1, 2, 3, 4, -1, -2, -3, -6};
  GlobalPool(PoolKind::kAverage, 4, planes.data(), g, 0, 2);
  ExpectNear({g, g + 2}, {2.5f, -3});
  GlobalPool(PoolKind::kMax, 4, planes.data(), g, 0, 2);
  ExpectNear({g, g + 2}, {4, -1});
}

TEST(PoolKernels, AveragePoolMatchesBruteForce2d) {
  // An independent 2-D formula: average of the in-bounds taps.
  std::mt19937 rng(7);
  const int64_t H = 7, W = 6, K = 3, S = 2, P = 1;
  std::vector<float> x = Random(H * W, rng);
  PoolParams p = Pool2d(PoolKind::kAverage, H, W, K, S, {P, P, P, P}, false);
  std::vector<float> y(p.geo.spatial_size_out());
  PoolClipped(p, x.data(), y.data(), nullptr, 0, 1);
  for (int64_t oh = 0; oh < p.geo.out[0]; ++oh)
    for (int64_t ow = 0; ow < p.geo.out[1]; ++ow) {
      double sum = 0;
      int n = 0;
      for (int64_t ih = oh * S - P; ih < oh * S - P + K; ++ih)
        for (int64_t iw = ow * S - P; iw < ow * S - P + K; ++iw)
          if (ih >= 0 && ih < H && iw >= 0 && iw < W) sum += x[ih * W + iw], ++n;
      EXPECT_NEAR(y[oh * p.geo.out[1] + ow], sum / n, 1e-6);
    }
}

TEST(PoolKernels, ClippedMatchesReferenceOnRandomGeometries) {
  std::mt19937 rng(99);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 400; ++trial) {
    PoolParams p;
    const int rank = pick(1, 3);
    p.planes = pick(1, 3);
    p.kind = static_cast<PoolKind>(pick(0, 2));
    p.count_include_pad = pick(0, 1);
    p.col_major_indices = pick(0, 1);
    p.p = pick(1, 3);
    std::vector<int64_t> pads(2 * rank);
    for (int d = 0; d < rank; ++d) {
      p.geo.kernel.push_back(pick(1, 3));
      p.geo.stride.push_back(pick(1, 3));
      p.geo.dilation.push_back(pick(1, 2));
      const int64_t eff = (p.geo.kernel[d] - 1) * p.geo.dilation[d] + 1;
      pads[d] = pick(0, eff - 1);
      pads[d + rank] = pick(0, eff - 1);
      p.geo.in.push_back(pick(1, 7) + eff);
    }
    ComputeWindow(p.geo, pads, "NOTSET", pick(0, 1));
    const int64_t n_in = p.planes * p.geo.spatial_size_in(), n_out = p.planes * p.geo.spatial_size_out();
    std::vector<float> x = Random(n_in, rng);
    std::vector<float> a(n_out), b(n_out);
    std::vector<int64_t> ia(n_out), ib(n_out);
    PoolReference(p, x.data(), a.data(), ia.data(), 0, p.planes);
    PoolClipped(p, x.data(), b.data(), ib.data(), 0, p.planes);
    ASSERT_EQ(a, b) << "trial " << trial;
    if (p.kind == PoolKind::kMax) {
      ASSERT_EQ(ia, ib) << "trial " << trial;
    }
  }
}

TEST(PoolOps, MaxPoolWithIndicesAndUint8) {
  std::vector<float> v(25);
  for (int i = 0; i < 25; ++i) v[i] = i + 1.f;
  OneOp op("MaxPool", 22, {FloatTensor({1, 1, 5, 5}, v)}, 2);
  op.attrs().SetInts("kernel_shape", {2, 2});
  op.attrs().SetInts("strides", {2, 2});
  op.attrs().SetInt("storage_order", 1);
  auto out = op.Run();
  ExpectNear(Values(out[0]), {7, 9, 17, 19});
  EXPECT_EQ(out[1].ToInt64Vector(), (std::vector<int64_t>{6, 16, 8, 18}));

  Tensor u(DType::kUInt8, {1, 1, 2, 2});
  uint8_t vals[4] = {3, 250, 7, 1};
  std::copy(vals, vals + 4, u.data<uint8_t>());
  OneOp op8("MaxPool", 12, {u}, 1);
  op8.attrs().SetInts("kernel_shape", {2, 2});
  EXPECT_EQ(op8.Run()[0].data<uint8_t>()[0], 250);
}

TEST(PoolOps, BadAttributesAreClearErrors) {
  OneOp no_kernel("MaxPool", 13, {FloatTensor({1, 1, 4, 4}, std::vector<float>(16))}, 1);
  ExpectError([&] { no_kernel.Run(); }, "kernel_shape is required");
  OneOp wrong_rank("AveragePool", 13, {FloatTensor({1, 1, 4, 4}, std::vector<float>(16))}, 1);
  wrong_rank.attrs().SetInts("kernel_shape", {2});
  ExpectError([&] { wrong_rank.Run(); }, "kernel_shape has 1 dims");
  OneOp big_pad("MaxPool", 13, {FloatTensor({1, 1, 4, 4}, std::vector<float>(16))}, 1);
  big_pad.attrs().SetInts("kernel_shape", {2, 2});
  big_pad.attrs().SetInts("pads", {2, 0, 0, 0});
  ExpectError([&] { big_pad.Run(); }, "must be smaller than the window");
  OneOp avg_indices("AveragePool", 13, {FloatTensor({1, 1, 4, 4}, std::vector<float>(16))}, 2);
  avg_indices.attrs().SetInts("kernel_shape", {2, 2});
  ExpectError([&] { avg_indices.Run(); }, "Indices");
}

// ---------------------------------------------------------------- softmax

TEST(SoftmaxKernels, HandComputed) {
  const float x[3] = {1, 2, 3};
  float y[3];
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  SoftmaxReference(SoftmaxKind::kSoftmax, x, y, 1, 3, 1, 0, 1);
  ExpectNear({y, y + 3}, {float(std::exp(1.0) / s), float(std::exp(2.0) / s), float(std::exp(3.0) / s)});
  SoftmaxReference(SoftmaxKind::kLogSoftmax, x, y, 1, 3, 1, 0, 1);
  ExpectNear({y, y + 3}, {float(1 - std::log(s)), float(2 - std::log(s)), float(3 - std::log(s))});
  const float ties[4] = {5, 1, 5, 0};
  float h[4];
  SoftmaxReference(SoftmaxKind::kHardmax, ties, h, 1, 4, 1, 0, 1);
  ExpectNear({h, h + 4}, {1, 0, 0, 0});
  // Large inputs do not overflow: softmax(1000, 1001) = (1/(1+e), e/(1+e)).
  const float big[2] = {1000, 1001};
  SoftmaxReference(SoftmaxKind::kSoftmax, big, y, 1, 2, 1, 0, 1);
  ExpectNear({y, y + 2}, {float(1 / (1 + std::exp(1.0))), float(std::exp(1.0) / (1 + std::exp(1.0)))});
}

TEST(SoftmaxKernels, StridedAxisMatchesBruteForce) {
  std::mt19937 rng(3);
  const int64_t outer = 3, n = 4, inner = 5;
  std::vector<float> x = Random(outer * n * inner, rng, -5, 5), y(x.size());
  SoftmaxReference(SoftmaxKind::kSoftmax, x.data(), y.data(), outer, n, inner, 0, outer * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(x[(o * n + k) * inner + i]);
      for (int64_t k = 0; k < n; ++k)
        EXPECT_NEAR(y[(o * n + k) * inner + i], std::exp(x[(o * n + k) * inner + i]) / sum, 1e-6);
    }
}

TEST(SoftmaxOps, Opset11FlattensAndOpset13UsesOneAxis) {
  // x: [1, 2, 2] = [[1, 2], [3, 4]], axis 1.
  std::vector<float> v = {1, 2, 3, 4};
  OneOp old_op("Softmax", 11, {FloatTensor({1, 2, 2}, v)}, 1);
  old_op.attrs().SetInt("axis", 1);
  const double s4 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(4.0);
  ExpectNear(Values(old_op.Run()[0]),
             {float(std::exp(1.0) / s4), float(std::exp(2.0) / s4), float(std::exp(3.0) / s4), float(std::exp(4.0) / s4)});
  OneOp new_op("Softmax", 13, {FloatTensor({1, 2, 2}, v)}, 1);
  new_op.attrs().SetInt("axis", 1);
  const float lo = float(1 / (1 + std::exp(2.0))), hi = float(std::exp(2.0) / (1 + std::exp(2.0)));
  ExpectNear(Values(new_op.Run()[0]), {lo, lo, hi, hi});
  // Default axes: 1 before opset 13 (flatten everything after N), -1 after.
  OneOp old_default("Hardmax", 11, {FloatTensor({1, 2, 2}, {1, 4, 3, 2})}, 1);
  ExpectNear(Values(old_default.Run()[0]), {0, 1, 0, 0});
  OneOp new_default("Hardmax", 13, {FloatTensor({1, 2, 2}, {1, 4, 3, 2})}, 1);
  ExpectNear(Values(new_default.Run()[0]), {0, 1, 1, 0});
  OneOp bad_axis("LogSoftmax", 13, {FloatTensor({2, 2}, v)}, 1);
  bad_axis.attrs().SetInt("axis", 2);
  ExpectError([&] { bad_axis.Run(); }, "axis 2 is out of range");
}

// ---------------------------------------------------------------- reductions

TEST(ReduceKernels, HandComputed) {
  // [3, 2, 2] = 1..12, reduce axis 1.
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[i] = i + 1.f;
  std::vector<float> y(6);
  ReduceReference(ReduceKind::kSum, {3, 2, 2}, {false, true, false}, x.data(), y.data(), 0, 6);
  ExpectNear(y, {4, 6, 12, 14, 20, 22});
  ReduceReference(ReduceKind::kProd, {3, 2, 2}, {false, true, false}, x.data(), y.data(), 0, 6);
  ExpectNear(y, {3, 8, 35, 48, 99, 120});
  ReduceReference(ReduceKind::kL2, {3, 2, 2}, {false, true, false}, x.data(), y.data(), 0, 6);
  EXPECT_NEAR(y[0], std::sqrt(10.f), 1e-6);
  // Non-adjacent axes 0 and 2: sums of {1,2,5,6,9,10} and {3,4,7,8,11,12}.
  float z[2];
  ReduceReference(ReduceKind::kMean, {3, 2, 2}, {true, false, true}, x.data(), z, 0, 2);
  ExpectNear({z, z + 2}, {33.f / 6, 45.f / 6});
  // LogSumExp of large values stays finite: log(e^1000 + e^1000) = 1000 + log 2.
  const double big[2] = {1000, 1000};
  double lse;
  ReduceReference(ReduceKind::kLogSumExp, {2}, {true}, big, &lse, 0, 1);
  EXPECT_NEAR(lse, 1000 + std::log(2.0), 1e-9);
}

TEST(ReduceKernels, EmptySetGivesIdentity) {
  float y;
  const float* none = nullptr;
  ReduceReference(ReduceKind::kSum, {0}, {true}, none, &y, 0, 1);
  EXPECT_EQ(y, 0.f);
  ReduceReference(ReduceKind::kProd, {0}, {true}, none, &y, 0, 1);
  EXPECT_EQ(y, 1.f);
  ReduceReference(ReduceKind::kMax, {0}, {true}, none, &y, 0, 1);
  EXPECT_EQ(y, -INFINITY);
  ReduceReference(ReduceKind::kMin, {0}, {true}, none, &y, 0, 1);
  EXPECT_EQ(y, INFINITY);
  ReduceReference(ReduceKind::kLogSumExp, {0}, {true}, none, &y, 0, 1);
  EXPECT_EQ(y, -INFINITY);
  int32_t yi;
  const int32_t* inone = nullptr;
  ReduceReference(ReduceKind::kMax, {0}, {true}, inone, &yi, 0, 1);
  EXPECT_EQ(yi, INT32_MIN);
}

TEST(ReduceKernels, IntegersAndBools) {
  const int32_t xi[4] = {-3, 7, 2, -9};
  int32_t yi;
  ReduceReference(ReduceKind::kSum, {4}, {true}, xi, &yi, 0, 1);
  EXPECT_EQ(yi, -3);
  ReduceReference(ReduceKind::kL1, {4}, {true}, xi, &yi, 0, 1);
  EXPECT_EQ(yi, 21);
  ReduceReference(ReduceKind::kMin, {4}, {true}, xi, &yi, 0, 1);
  EXPECT_EQ(yi, -9);
  const bool xb[4] = {true, false, true, true};
  bool yb[2];
  ReduceOuterInner(ReduceKind::kMax, xb, yb, 2, 1, 0, 2, 0, 1);
  EXPECT_TRUE(yb[0]);
  EXPECT_TRUE(yb[1]);
  ReduceOuterInner(ReduceKind::kMin, xb, yb, 2, 1, 0, 2, 0, 1);
  EXPECT_FALSE(yb[0]);
  EXPECT_TRUE(yb[1]);
}

TEST(ReduceKernels, OuterInnerMatchesReference) {
  std::mt19937 rng(11);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t outer = pick(1, 4), n = pick(0, 5), inner = pick(1, 6);
    const ReduceKind kind = static_cast<ReduceKind>(pick(0, 9));
    std::vector<float> x = Random(outer * n * inner, rng, 0.1f, 2.f);
    std::vector<float> a(outer * inner), b(outer * inner);
    ReduceReference(kind, {outer, n, inner}, {false, true, false}, x.data(), a.data(), 0, outer * inner);
    const int64_t split = pick(0, static_cast<int>(inner));
    ReduceOuterInner(kind, x.data(), b.data(), n, inner, 0, outer, 0, split);
    ReduceOuterInner(kind, x.data(), b.data(), n, inner, 0, outer, split, inner);
    for (size_t i = 0; i < a.size(); ++i)
      if (!(std::isnan(a[i]) && std::isnan(b[i]))) {
        ASSERT_EQ(a[i], b[i]) << "trial " << trial << " kind " << int(kind);
      }
  }
}

TEST(ReduceOps, AxesAttributeBeforeOpset18AndInputAfter) {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = i + 1.f;
  OneOp attr("ReduceMean", 13, {FloatTensor({3, 2, 2}, v)}, 1);
  attr.attrs().SetInts("axes", {1});
  attr.attrs().SetInt("keepdims", 0);
  Tensor y = attr.Run()[0];
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  ExpectNear(Values(y), {2, 3, 6, 7, 10, 11});

  OneOp input("ReduceMean", 18, {FloatTensor({3, 2, 2}, v), Int64Tensor({2}, {0, -1})}, 1);
  y = input.Run()[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1}));
  ExpectNear(Values(y), {(1 + 2 + 5 + 6 + 9 + 10) / 6.f, (3 + 4 + 7 + 8 + 11 + 12) / 6.f});

  OneOp sum13("ReduceSum", 13, {FloatTensor({3, 2, 2}, v), Int64Tensor({1}, {2})}, 1, {false, true});
  ExpectNear(Values(sum13.Run()[0]), {3, 7, 11, 15, 19, 23});

  OneOp all("ReduceMax", 18, {FloatTensor({3, 2, 2}, v)}, 1);
  y = all.Run()[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(Values(y)[0], 12.f);

  OneOp noop("ReduceSumSquare", 18, {FloatTensor({2, 2}, {1, -2, 3, 4}), Int64Tensor({0}, {})}, 1);
  noop.attrs().SetInt("noop_with_empty_axes", 1);
  ExpectNear(Values(noop.Run()[0]), {1, -2, 3, 4});

  OneOp attr_after_18("ReduceMax", 18, {FloatTensor({2}, {1, 2})}, 1);
  attr_after_18.attrs().SetInts("axes", {0});
  ExpectError([&] { attr_after_18.Run(); }, "axes as an input");
  OneOp out_of_range("ReduceProd", 18, {FloatTensor({2}, {1, 2}), Int64Tensor({1}, {3})}, 1);
  ExpectError([&] { out_of_range.Run(); }, "axis 3 is out of range");
}

// ---------------------------------------------------------------- normalization

TEST(NormKernels, BatchNormHandComputedAndAffineMatches) {
  // One channel: scale 2, bias 1, mean 3, var 4, eps 0: y = 2 * (x - 3) / 2 + 1 = x - 2.
  const double sc[1] = {2}, bi[1] = {1}, mu[1] = {3}, var[1] = {4};
  const float x[3] = {0, 3, 10};
  float y[3];
  BatchNormReference(x, y, 1, 1, 3, sc, bi, mu, var, 0.0);
  ExpectNear({y, y + 3}, {-2, 1, 8});

  std::mt19937 rng(5);
  const int64_t N = 2, C = 3, S = 7;
  std::vector<float> xs = Random(N * C * S, rng, -3, 3), r(xs.size()), f(xs.size());
  std::vector<double> s(C), b(C), m(C), v(C), a(C), c(C);
  for (int k = 0; k < C; ++k) s[k] = 0.5 + k, b[k] = -k, m[k] = 0.1 * k, v[k] = 1 + k;
  BatchNormReference(xs.data(), r.data(), N, C, S, s.data(), b.data(), m.data(), v.data(), 1e-5);
  BatchNormCoefficients(C, s.data(), b.data(), m.data(), v.data(), 1e-5, a.data(), c.data());
  std::vector<float> af(a.begin(), a.end()), cf(c.begin(), c.end());
  BatchNormAffine(xs.data(), f.data(), C, S, af.data(), cf.data(), 0, N * C);
  ExpectNear(f, r, 1e-5f);
}

TEST(NormKernels, LayerNormAndInstanceNormHandComputed) {
  // Row [1, 2, 3, 4]: mean 2.5, variance 1.25.
  const float x[4] = {1, 2, 3, 4}, ones[4] = {1, 1, 1, 1}, zeros[4] = {0, 0, 0, 0};
  float y[4], mean, inv;
  LayerNormReference(x, y, 4, ones, zeros, 0.0, &mean, &inv, 0, 1);
  const float s = 1 / std::sqrt(1.25f);
  ExpectNear({y, y + 4}, {-1.5f * s, -0.5f * s, 0.5f * s, 1.5f * s});
  EXPECT_FLOAT_EQ(mean, 2.5f);
  EXPECT_FLOAT_EQ(inv, s);
  // ONNX instancenorm_example: x [1, 2, 1, 3], scale [1, 1.5], bias [0, 1].
  const float xi[6] = {-1, 0, 1, 2, 3, 4}, sc[2] = {1, 1.5f}, bi[2] = {0, 1};
  float yi[6];
  InstanceNormReference(xi, yi, 2, 3, sc, bi, 1e-5, 0, 2);
  const float k = 1 / std::sqrt(2.f / 3 + 1e-5f);
  ExpectNear({yi, yi + 6}, {-k, 0, k, 1 - 1.5f * k, 1, 1 + 1.5f * k});
}

TEST(NormOps, LayerNormBroadcastScaleAndStatistics) {
  // [2, 2, 2] normalized over the last two dims; Scale [2] broadcasts over them.
  std::vector<float> v = {1, 2, 3, 4, 0, 0, 2, 2};
  OneOp op("LayerNormalization", 17, {FloatTensor({2, 2, 2}, v), FloatTensor({2}, {1, 2}), FloatTensor({1}, {0.5f})},
           3);
  op.attrs().SetInt("axis", 1);
  op.attrs().SetFloat("epsilon", 0.f);
  auto out = op.Run();
  const float s = 1 / std::sqrt(1.25f);
  ExpectNear(Values(out[0]), {-1.5f * s + 0.5f, -1.0f * s + 0.5f, 0.5f * s + 0.5f, 3.0f * s + 0.5f,  // row 0
                              -0.5f, -1.5f, 1.5f, 2.5f});                                           // row 1: mean 1, std 1
  EXPECT_EQ(out[1].shape(), (Shape{2, 1, 1}));
  ExpectNear(Values(out[1]), {2.5f, 1});
  ExpectNear(Values(out[2]), {s, 1});
  OneOp bad("LayerNormalization", 17, {FloatTensor({2, 3}, std::vector<float>(6)), FloatTensor({2}, {1, 1})}, 1);
  ExpectError([&] { bad.Run(); }, "does not broadcast");
}

TEST(NormOps, BatchNormTrainingModeIsAClearError) {
  std::vector<Tensor> ins = {FloatTensor({1, 1, 2}, {1, 2}), FloatTensor({1}, {1}), FloatTensor({1}, {0}),
                             FloatTensor({1}, {0}), FloatTensor({1}, {1})};
  OneOp train("BatchNormalization", 15, ins, 1);
  train.attrs().SetInt("training_mode", 1);
  ExpectError([&] { train.Run(); }, "training_mode=1 is not supported");
  OneOp ok("BatchNormalization", 15, ins, 1);
  ok.attrs().SetFloat("epsilon", 0.f);
  ExpectNear(Values(ok.Run()[0]), {1, 2});
  std::vector<Tensor> bad_ins = ins;
  bad_ins[3] = FloatTensor({2}, {0, 0});
  OneOp bad("BatchNormalization", 15, bad_ins, 1);
  ExpectError([&] { bad.Run(); }, "input_mean must have shape [1]");
}

// ---------------------------------------------------------------- resize

ResizeAxisSpec Axis(int64_t in, int64_t out, double scale) {
  ResizeAxisSpec s;
  s.in = in;
  s.out = out;
  s.scale = scale;
  s.length_resized = in * scale;
  return s;
}

TEST(ResizeKernels, CoordinateTransforms) {
  const ResizeAxisSpec s = Axis(4, 8, 2.0);
  EXPECT_DOUBLE_EQ(ResizeSourceCoordinate(ResizeCoord::kHalfPixel, s, 3), 1.25);
  EXPECT_DOUBLE_EQ(ResizeSourceCoordinate(ResizeCoord::kPytorchHalfPixel, s, 3), 1.25);
  EXPECT_DOUBLE_EQ(ResizeSourceCoordinate(ResizeCoord::kAsymmetric, s, 3), 1.5);
  EXPECT_DOUBLE_EQ(ResizeSourceCoordinate(ResizeCoord::kTfHalfPixelForNn, s, 3), 1.75);
  EXPECT_DOUBLE_EQ(ResizeSourceCoordinate(ResizeCoord::kAlignCorners, s, 7), 3.0);
  EXPECT_DOUBLE_EQ(ResizeSourceCoordinate(ResizeCoord::kAlignCorners, s, 1), 3.0 / 7);
  // pytorch_half_pixel maps a single output to 0.
  EXPECT_DOUBLE_EQ(ResizeSourceCoordinate(ResizeCoord::kPytorchHalfPixel, Axis(4, 1, 0.25), 0), 0.0);
  // half_pixel_symmetric: in 2, scale 2.3 -> out 4 of 4.6: offset = 1 * (1 - 4/4.6).
  const ResizeAxisSpec f = Axis(2, 4, 2.3);
  EXPECT_NEAR(ResizeSourceCoordinate(ResizeCoord::kHalfPixelSymmetric, f, 0), (1 - 4 / 4.6) + 0.5 / 2.3 - 0.5, 1e-12);
  ResizeAxisSpec crop = Axis(5, 3, 0.6);
  crop.length_resized = 3;
  crop.roi_start = 0.2;
  crop.roi_end = 0.6;
  EXPECT_NEAR(ResizeSourceCoordinate(ResizeCoord::kTfCropAndResize, crop, 2), 0.6 * 4, 1e-12);
}

TEST(ResizeKernels, NearestModesRoundHalfways) {
  // asymmetric, in 4 -> out 8 (scale 2): coordinates 0, .5, 1, 1.5, ...
  const ResizeAxisSpec s = Axis(4, 8, 2.0);
  auto idx = [&](ResizeNearest m) {
    return MakeResizeAxis(ResizeMode::kNearest, ResizeCoord::kAsymmetric, m, s).lo;
  };
  EXPECT_EQ(idx(ResizeNearest::kRoundPreferFloor), (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(idx(ResizeNearest::kRoundPreferCeil), (std::vector<int64_t>{0, 1, 1, 2, 2, 3, 3, 3}));
  EXPECT_EQ(idx(ResizeNearest::kFloor), (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(idx(ResizeNearest::kCeil), (std::vector<int64_t>{0, 1, 1, 2, 2, 3, 3, 3}));
}

TEST(ResizeKernels, LinearAndBilinearHandComputed) {
  // 1-D [1, 3] upsampled x2, half_pixel: coordinates -.25, .25, .75, 1.25 (edges clamp).
  std::vector<ResizeAxis> one = {MakeResizeAxis(ResizeMode::kLinear, ResizeCoord::kHalfPixel,
                                                ResizeNearest::kRoundPreferFloor, Axis(2, 4, 2.0))};
  const float x1[2] = {1, 3};
  float y1[4];
  ResizeReference(ResizeMode::kLinear, one, x1, y1, 0, 0, 1);
  ExpectNear({y1, y1 + 4}, {1, 1.5f, 2.5f, 3});
  // ONNX resize_upsample_scales_linear: [[1, 2], [3, 4]] x2 both ways.
  std::vector<ResizeAxis> two;
  for (int d = 0; d < 2; ++d)
    two.push_back(MakeResizeAxis(ResizeMode::kLinear, ResizeCoord::kHalfPixel, ResizeNearest::kRoundPreferFloor,
                                 Axis(2, 4, 2.0)));
  const float x2[4] = {1, 2, 3, 4};
  float y2[16];
  ResizeReference(ResizeMode::kLinear, two, x2, y2, 0, 0, 4);
  ExpectNear({y2, y2 + 16}, {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4});
  // tf_crop_and_resize outside the input yields the extrapolation value.
  ResizeAxisSpec crop = Axis(2, 3, 1.5);
  crop.length_resized = 3;
  crop.roi_start = 0.5;
  crop.roi_end = 1.5;  // coordinates .5, 1, 1.5
  std::vector<ResizeAxis> c = {
      MakeResizeAxis(ResizeMode::kLinear, ResizeCoord::kTfCropAndResize, ResizeNearest::kRoundPreferFloor, crop)};
  float yc[3];
  ResizeReference(ResizeMode::kLinear, c, x1, yc, -7, 0, 1);
  ExpectNear({yc, yc + 3}, {2, 3, -7});
}

TEST(ResizeKernels, TrilinearMatchesSeparableBruteForce) {
  std::mt19937 rng(17);
  const int64_t in[3] = {3, 4, 2}, out[3] = {5, 3, 4};
  std::vector<ResizeAxis> axes;
  for (int d = 0; d < 3; ++d)
    axes.push_back(MakeResizeAxis(ResizeMode::kLinear, ResizeCoord::kAlignCorners, ResizeNearest::kRoundPreferFloor,
                                  Axis(in[d], out[d], double(out[d]) / in[d])));
  std::vector<float> x = Random(24, rng), y(60);
  ResizeReference(ResizeMode::kLinear, axes, x.data(), y.data(), 0, 0, 15);
  // align_corners: coordinate o * (in - 1) / (out - 1); interpolate one axis at a time.
  auto coord = [&](int d, int64_t o) { return o * double(in[d] - 1) / (out[d] - 1); };
  for (int64_t a = 0; a < 5; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 4; ++c) {
        double want = 0;
        const double ca = coord(0, a), cb = coord(1, b), cc = coord(2, c);
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 4; ++j)
            for (int64_t k = 0; k < 2; ++k) {
              const double w = std::max(0.0, 1 - std::abs(ca - i)) * std::max(0.0, 1 - std::abs(cb - j)) *
                               std::max(0.0, 1 - std::abs(cc - k));
              want += w * x[(i * 4 + j) * 2 + k];
            }
        EXPECT_NEAR(y[(a * 3 + b) * 4 + c], want, 1e-5);
      }
}

TEST(ResizeOps, SizesScalesAxesAndPolicy) {
  // ONNX resize_downsample_sizes_nearest_not_larger: [1,1,2,4] to sizes [1,3] on axes [2,3].
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8};
  OneOp op("Resize", 19, {FloatTensor({1, 1, 2, 4}, v), Tensor(), Tensor(), Int64Tensor({2}, {1, 3})}, 1);
  op.attrs().SetInts("axes", {2, 3});
  op.attrs().SetString("keep_aspect_ratio_policy", "not_larger");
  Tensor y = op.Run()[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  ExpectNear(Values(y), {1, 3});
  // Scales as a runtime input (so the shape is planned with its contents).
  OneOp up("Resize", 13, {FloatTensor({1, 1, 2, 2}, {1, 2, 3, 4}), Tensor(), FloatTensor({4}, {1, 1, 2, 3})}, 1);
  y = up.Run()[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 6}));
  ExpectNear(Values(y), {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});

  OneOp cubic("Resize", 19, {FloatTensor({1, 1, 2, 2}, {1, 2, 3, 4}), Tensor(), FloatTensor({4}, {1, 1, 2, 2})}, 1);
  cubic.attrs().SetString("mode", "cubic");
  ExpectError([&] { cubic.Run(); }, "mode 'cubic' is not supported");
  OneOp both("Resize", 19,
             {FloatTensor({1, 2}, {1, 2}), Tensor(), FloatTensor({2}, {1, 2}), Int64Tensor({2}, {1, 4})}, 1);
  ExpectError([&] { both.Run(); }, "exactly one of scales and sizes");
  OneOp wrong_len("Resize", 19, {FloatTensor({1, 2}, {1, 2}), Tensor(), FloatTensor({1}, {2})}, 1);
  ExpectError([&] { wrong_len.Run(); }, "scales must be a float32 vector of 2 values");
}

// ---------------------------------------------------------------- ConvTranspose

ConvTransposeParams TransposeParams(std::vector<int64_t> in, std::vector<int64_t> kernel) {
  ConvTransposeParams p;
  p.in_channels = p.out_channels = 1;
  p.in = std::move(in);
  p.kernel = std::move(kernel);
  return p;
}

TEST(ConvTransposeKernels, SpecExampleAllOnesKernel) {
  // ONNX convtranspose: x 3x3 of 0..8, two 3x3 all-ones output channels.
  ConvTransposeParams p = TransposeParams({3, 3}, {3, 3});
  p.out_channels = 2;
  ComputeConvTransposeWindow(p, {}, {}, {}, "NOTSET");
  ASSERT_EQ(p.out, (std::vector<int64_t>{5, 5}));
  std::vector<float> x = {0, 1, 2, 3, 4, 5, 6, 7, 8}, w(18, 1.f), ref(50), fast(50), scratch;
  const std::vector<float> want = {0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
  ConvTransposeF32Reference(p, x.data(), w.data(), nullptr, ref.data());
  ThreadPool pool(2);
  ConvTransposeF32Col2im(p, x.data(), w.data(), nullptr, fast.data(), scratch, pool);
  for (int c = 0; c < 2; ++c) {
    ExpectNear({ref.begin() + 25 * c, ref.begin() + 25 * (c + 1)}, want);
    ExpectNear({fast.begin() + 25 * c, fast.begin() + 25 * (c + 1)}, want);
  }
}

TEST(ConvTransposeKernels, StrideAndBiasHandComputed) {
  // 1-D: x [1, 2], w [1, 10], stride 3, bias 0.5: y = [1, 10, 0, 2, 20] + 0.5.
  ConvTransposeParams p = TransposeParams({2}, {2});
  p.stride = {3};
  ComputeConvTransposeWindow(p, {}, {}, {}, "NOTSET");
  ASSERT_EQ(p.out, (std::vector<int64_t>{5}));
  const float x[2] = {1, 2}, w[2] = {1, 10}, b[1] = {0.5f};
  float y[5];
  ConvTransposeF32Reference(p, x, w, b, y);
  ExpectNear({y, y + 5}, {1.5f, 10.5f, 0.5f, 2.5f, 20.5f});
}

TEST(ConvTransposeKernels, GeometryFollowsTheSpec) {
  // Explicit pads shrink the natural size 3 * 2 + 3 = 9 (stride 3, in 3, kernel 3).
  ConvTransposeParams p = TransposeParams({3}, {3});
  p.stride = {3};
  ComputeConvTransposeWindow(p, {1, 2}, {}, {}, "NOTSET");
  EXPECT_EQ(p.out[0], 6);
  EXPECT_EQ(p.pad_begin[0], 1);
  // output_padding adds at the end.
  p = TransposeParams({3}, {3});
  p.stride = {3};
  ComputeConvTransposeWindow(p, {}, {1}, {}, "NOTSET");
  EXPECT_EQ(p.out[0], 10);
  EXPECT_EQ(p.pad_begin[0], 0);
  // output_shape one larger than natural: total padding -1, nothing at the start.
  p = TransposeParams({3}, {3});
  p.stride = {3};
  ComputeConvTransposeWindow(p, {}, {}, {1, 1, 10}, "NOTSET");
  EXPECT_EQ(p.out[0], 10);
  EXPECT_EQ(p.pad_begin[0], 0);
  // SAME: out = in * stride; total padding 1 goes to the end (UPPER) or start (LOWER).
  p = TransposeParams({3}, {3});
  p.stride = {2};
  ComputeConvTransposeWindow(p, {}, {}, {}, "SAME_UPPER");
  EXPECT_EQ(p.out[0], 6);
  EXPECT_EQ(p.pad_begin[0], 0);
  ComputeConvTransposeWindow(p, {}, {}, {}, "SAME_LOWER");
  EXPECT_EQ(p.pad_begin[0], 1);
  p = TransposeParams({3}, {3});
  EXPECT_THROW(ComputeConvTransposeWindow(p, {}, {2}, {}, "NOTSET"), Error);  // output_padding >= stride
  EXPECT_THROW(ComputeConvTransposeWindow(p, {3, 3}, {}, {}, "NOTSET"), Error);  // nothing left
}

TEST(ConvTransposeKernels, Col2imMatchesReferenceOnRandomGeometries) {
  std::mt19937 rng(4321);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool pool(2);
  std::vector<float> scratch;
  for (int trial = 0; trial < 250; ++trial) {
    ConvTransposeParams p;
    const int rank = pick(1, 3);
    p.batch = pick(1, 2);
    p.group = pick(1, 3);
    p.in_channels = p.group * pick(1, 3);
    p.out_channels = p.group * pick(1, 3);
    std::vector<int64_t> pads(2 * rank), adj(rank);
    for (int d = 0; d < rank; ++d) {
      p.in.push_back(pick(1, 5));
      p.kernel.push_back(pick(1, 3));
      p.stride.push_back(pick(1, 3));
      p.dilation.push_back(pick(1, 2));
      adj[d] = pick(0, std::max(p.stride[d], p.dilation[d]) - 1);
      pads[d] = pick(0, 1);
      pads[d + rank] = pick(0, 1);
    }
    const bool pointwise = pick(0, 4) == 0;
    if (pointwise) {
      p.kernel.assign(rank, 1);
      p.stride.assign(rank, 1);
      pads.assign(2 * rank, 0);
      adj.assign(rank, 0);
    }
    try {
      ComputeConvTransposeWindow(p, pads, adj, {}, "NOTSET");
    } catch (const Error&) {
      continue;  // padding larger than the output
    }
    const int64_t mg = p.out_channels / p.group;
    std::vector<float> x = Random(p.batch * p.in_channels * p.in_size(), rng);
    std::vector<float> w = Random(p.in_channels * mg * p.kernel_size(), rng);
    std::vector<float> b = Random(p.out_channels, rng);
    const int64_t n_out = p.batch * p.out_channels * p.out_size();
    std::vector<float> ref(n_out), fast(n_out, 123.f);
    const float* bias = pick(0, 1) ? b.data() : nullptr;
    ConvTransposeF32Reference(p, x.data(), w.data(), bias, ref.data());
    ConvTransposeF32Col2im(p, x.data(), w.data(), bias, fast.data(), scratch, pool);
    for (int64_t i = 0; i < n_out; ++i) ASSERT_NEAR(fast[i], ref[i], 1e-4) << "trial " << trial << " at " << i;
  }
}

TEST(ConvTransposeOps, GroupsAndErrors) {
  // group 2: each input channel feeds its own output channel (1x1 kernels 2 and 3).
  OneOp op("ConvTranspose", 22,
           {FloatTensor({1, 2, 1, 2}, {1, 2, 3, 4}), FloatTensor({2, 1, 1, 1}, {2, 3}), FloatTensor({2}, {0, 1})}, 1);
  op.attrs().SetInt("group", 2);
  Tensor y = op.Run()[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 2}));
  ExpectNear(Values(y), {2, 4, 10, 13});
  OneOp bad("ConvTranspose", 22, {FloatTensor({1, 2, 2}, {1, 2, 3, 4}), FloatTensor({3, 1, 1}, {1, 1, 1})}, 1);
  ExpectError([&] { bad.Run(); }, "must have the input's 2 channels first");
}


// ---------------------------------------------------------------- depthwise Conv

TEST(DepthwiseConv, HandComputed) {
  // Two channels of 3x3 (1..9 and its negation), 2x2 kernels of ones and of twos, bias 0.5 and 0:
  // channel 0 sums 2x2 windows (12, 16, 24, 28) plus 0.5; channel 1 is -2x those, through Relu.
  ConvParams p;
  p.in_channels = p.out_channels = p.group = 2;
  p.geo.in = {3, 3};
  p.geo.kernel = {2, 2};
  ComputeWindow(p.geo, {}, "NOTSET", false);
  p.act.kind = Activation::Kind::kRelu;
  float x[18], w[8] = {1, 1, 1, 1, 2, 2, 2, 2}, b[2] = {0.5f, 0}, y[8];
  for (int i = 0; i < 9; ++i) x[i] = i + 1.f, x[9 + i] = -(i + 1.f);
  DepthwiseConvF32(p, x, w, b, y, 0, 2);
  ExpectNear({y, y + 8}, {12.5f, 16.5f, 24.5f, 28.5f, 0, 0, 0, 0});
}

TEST(DepthwiseConv, MatchesReferenceOnRandomGeometries) {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 300; ++trial) {
    ConvParams p;
    const int rank = pick(1, 3);
    p.batch = pick(1, 2);
    p.in_channels = p.out_channels = p.group = pick(1, 4);
    std::vector<int64_t> pads(2 * rank);
    for (int d = 0; d < rank; ++d) {
      p.geo.kernel.push_back(pick(1, 4));
      p.geo.stride.push_back(pick(1, 3));
      p.geo.dilation.push_back(pick(1, 2));
      const int64_t eff = (p.geo.kernel[d] - 1) * p.geo.dilation[d] + 1;
      pads[d] = pick(0, 2);
      pads[d + rank] = pick(0, 2);
      p.geo.in.push_back(std::max<int64_t>(1, eff - pads[d] - pads[d + rank]) + pick(0, 6));
    }
    static const char* modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    const std::string mode = modes[pick(0, 3)];
    try {
      ComputeWindow(p.geo, pads, mode, false);
    } catch (const Error&) {
      continue;
    }
    if (pick(0, 1)) p.act.kind = Activation::Kind::kRelu;
    const int64_t k = p.geo.kernel_size();
    std::vector<float> x = Random(p.batch * p.in_channels * p.geo.spatial_size_in(), rng);
    std::vector<float> w = Random(p.out_channels * k, rng), b = Random(p.out_channels, rng);
    const int64_t n_out = p.batch * p.out_channels * p.geo.spatial_size_out();
    std::vector<float> ref(n_out), fast(n_out, 77.f);
    ConvF32Reference(p, x.data(), w.data(), b.data(), ref.data());
    DepthwiseConvF32(p, x.data(), w.data(), b.data(), fast.data(), 0, p.batch * p.out_channels);
    for (int64_t i = 0; i < n_out; ++i) ASSERT_NEAR(fast[i], ref[i], 1e-5) << "trial " << trial << " at " << i;
  }
}

TEST(DepthwiseConv, ConvOpDispatchesAndMatchesReference) {
  std::mt19937 rng(8);
  ConvParams p;
  p.batch = 2;
  p.in_channels = p.out_channels = p.group = 3;
  p.geo.in = {6, 5};
  p.geo.kernel = {3, 3};
  p.geo.stride = {2, 1};
  ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
  std::vector<float> x = Random(2 * 3 * 30, rng), w = Random(27, rng), b = Random(3, rng);
  std::vector<float> ref(2 * 3 * p.geo.spatial_size_out());
  ConvF32Reference(p, x.data(), w.data(), b.data(), ref.data());
  OneOp op("Conv", 13, {FloatTensor({2, 3, 6, 5}, x), FloatTensor({3, 1, 3, 3}, w), FloatTensor({3}, b)}, 1,
           {false, true, true});
  op.attrs().SetInt("group", 3);
  op.attrs().SetInts("strides", {2, 1});
  op.attrs().SetInts("pads", {1, 1, 1, 1});
  Tensor y = op.Run()[0];
  EXPECT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
  ExpectNear(Values(y), ref, 1e-5f);
}

}  // namespace
}  // namespace nibble
