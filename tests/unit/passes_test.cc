// Each graph pass on its own: what it rewrites, what it must leave alone, and
// that the rewritten graph computes the same numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "graph/passes.h"
#include "nibble/session.h"
#include "runtime/optimize.h"
#include "test_util.h"

namespace nibble {
namespace {
using testing::AddInput;
using testing::AddOp;
using testing::FloatTensor;
using testing::RandomTensor;

int CountOps(const Graph& g, const std::string& op) {
  int c = 0;
  for (const Node& n : g.nodes) c += n.op_type == op;
  return c;
}

TEST(EliminateIdentityPass, ForwardsInputToReaders) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {4});
  AddOp(g, "Identity", {"x"}, {"i"});
  AddOp(g, "Relu", {"i"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  EXPECT_TRUE(EliminateIdentityPass(g));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.values[g.nodes[0].inputs[0]].name, "x");
}

TEST(EliminateIdentityPass, KeepsTheGraphOutputName) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {4});
  AddOp(g, "Relu", {"x"}, {"r"});
  AddOp(g, "Identity", {"r"}, {"out"});
  g.outputs.push_back(g.FindValue("out"));
  EXPECT_TRUE(EliminateIdentityPass(g));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Relu");
  EXPECT_EQ(g.values[g.outputs[0]].name, "out");
  EXPECT_EQ(g.values[g.nodes[0].outputs[0]].name, "out");
}

TEST(EliminateIdentityPass, KeepsDropoutWhoseMaskIsRead) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {4});
  AddOp(g, "Dropout", {"x"}, {"y", "mask"});
  g.outputs.push_back(g.FindValue("y"));
  g.outputs.push_back(g.FindValue("mask"));
  EXPECT_FALSE(EliminateIdentityPass(g));
  EXPECT_EQ(g.nodes.size(), 1u);
}

TEST(DeadNodeEliminationPass, RemovesChainsNobodyReads) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {4});
  AddOp(g, "Relu", {"x"}, {"a"});
  AddOp(g, "Relu", {"a"}, {"b"});  // a -> b is read by nobody
  AddOp(g, "Sigmoid", {"x"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  EXPECT_TRUE(DeadNodeEliminationPass(g));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Sigmoid");
  EXPECT_FALSE(DeadNodeEliminationPass(g));
}

// Conv(1x1, 2->2) then BN with known statistics: folded weights follow
// W' = W * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta.
TEST(FoldBatchNormPass, RescalesConvWeightsAndBias) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {1, 2, 1, 1});
  g.values[g.AddValue("w")].constant = FloatTensor({2, 2, 1, 1}, {1, 2, 3, 4});
  g.values[g.AddValue("b")].constant = FloatTensor({2}, {0.5f, -1});
  g.values[g.AddValue("gamma")].constant = FloatTensor({2}, {2, 3});
  g.values[g.AddValue("beta")].constant = FloatTensor({2}, {1, 0});
  g.values[g.AddValue("mean")].constant = FloatTensor({2}, {0.5f, 1});
  g.values[g.AddValue("var")].constant = FloatTensor({2}, {3, 8});
  for (const char* n : {"w", "b", "gamma", "beta", "mean", "var"}) {
    Value& v = g.values[g.FindValue(n)];
    v.dtype = DType::kFloat32;
    v.has_shape = true;
    v.shape = v.constant.shape();
  }
  AddOp(g, "Conv", {"x", "w", "b"}, {"c"});
  int bn = AddOp(g, "BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"y"});
  g.nodes[bn].attrs.SetFloat("epsilon", 1.0f);
  g.outputs.push_back(g.FindValue("y"));
  ASSERT_TRUE(FoldBatchNormPass(g));
  ASSERT_EQ(g.nodes.size(), 1u);
  const Tensor& w = g.values[g.nodes[0].inputs[1]].constant;
  const Tensor& b = g.values[g.nodes[0].inputs[2]].constant;
  // s = gamma / sqrt(var + 1) = {2/2, 3/3} = {1, 1}
  EXPECT_FLOAT_EQ(w.data<float>()[0], 1);
  EXPECT_FLOAT_EQ(w.data<float>()[3], 4);
  EXPECT_FLOAT_EQ(b.data<float>()[0], (0.5f - 0.5f) * 1 + 1);
  EXPECT_FLOAT_EQ(b.data<float>()[1], (-1 - 1) * 1 + 0);
  EXPECT_EQ(g.values[g.nodes[0].outputs[0]].name, "y");
}

TEST(FoldBatchNormPass, LeavesBatchNormWhoseInputHasOtherReaders) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {1, 1, 1, 1});
  g.values[g.AddValue("w")].constant = FloatTensor({1, 1, 1, 1}, {1});
  for (const char* n : {"s", "bb", "m", "v"}) g.values[g.AddValue(n)].constant = FloatTensor({1}, {1});
  AddOp(g, "Conv", {"x", "w"}, {"c"});
  AddOp(g, "BatchNormalization", {"c", "s", "bb", "m", "v"}, {"y"});
  AddOp(g, "Relu", {"c"}, {"z"});
  g.outputs = {g.FindValue("y"), g.FindValue("z")};
  EXPECT_FALSE(FoldBatchNormPass(g));
}

TEST(FuseActivationPass, ReluAndConstantClipBecomeEpilogues) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {2, 3});
  g.values[g.AddValue("w")].constant = FloatTensor({3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1});
  g.values[g.AddValue("lo")].constant = FloatTensor({}, {-0.5f});
  g.values[g.AddValue("hi")].constant = FloatTensor({}, {0.25f});
  AddOp(g, "MatMul", {"x", "w"}, {"m"});
  AddOp(g, "Clip", {"m", "lo", "hi"}, {"c"});
  AddOp(g, "Gemm", {"c", "w"}, {"y0"});
  AddOp(g, "Relu", {"y0"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  AnnotateValueTypes(g);
  ASSERT_TRUE(FuseActivationPass(g));
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].fused.kind, Activation::Kind::kClip);
  EXPECT_FLOAT_EQ(g.nodes[0].fused.lo, -0.5f);
  EXPECT_FLOAT_EQ(g.nodes[0].fused.hi, 0.25f);
  EXPECT_EQ(g.nodes[1].fused.kind, Activation::Kind::kRelu);

  auto s = Session::FromGraph(std::move(g), {.threads = 1, .optimize = false, .disabled_passes = {}});
  auto out = s->Run({{"x", FloatTensor({2, 3}, {-2, 0.1f, 3, 0.2f, -0.3f, -0.4f})}});
  // identity weights: y = relu(clip(x, -0.5, 0.25))
  std::vector<float> want = {0, 0.1f, 0.25f, 0.2f, 0, 0};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out[0].data<float>()[i], want[i]) << i;
}

TEST(FuseActivationPass, ClipWithRuntimeBoundsIsNotFused) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {2, 2});
  AddInput(g, "lo", DType::kFloat32, {});
  AddOp(g, "MatMul", {"x", "x"}, {"m"});
  AddOp(g, "Clip", {"m", "lo"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  AnnotateValueTypes(g);
  EXPECT_FALSE(FuseActivationPass(g));
}

TEST(ConstantFoldingPass, EvaluatesConstantSubgraphs) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {2});
  g.values[g.AddValue("a")].constant = FloatTensor({2}, {1, 2});
  g.values[g.AddValue("b")].constant = FloatTensor({2}, {10, 20});
  AddOp(g, "Mul", {"a", "b"}, {"ab"});
  AddOp(g, "Sqrt", {"ab"}, {"r"});
  AddOp(g, "Add", {"x", "r"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  ASSERT_TRUE(ConstantFoldingPass(g));
  ASSERT_EQ(g.nodes.size(), 1u);
  const Value& r = g.values[g.FindValue("r")];
  ASSERT_TRUE(r.is_constant());
  EXPECT_FLOAT_EQ(r.constant.data<float>()[0], std::sqrt(10.f));
  EXPECT_FLOAT_EQ(r.constant.data<float>()[1], std::sqrt(40.f));
}

// The whole pipeline keeps the numbers: the same graph with and without passes.
TEST(OptimizeGraph, ConvBnReluAddGivesTheSameOutput) {
  auto build = [] {
    Graph g;
    g.opset = 17;
    AddInput(g, "x", DType::kFloat32, {1, 3, 9, 9});
    auto set_const = [&](const char* n, Tensor t) {
      int v = g.AddValue(n);
      g.values[v].constant = t;
      g.values[v].dtype = t.dtype();
      g.values[v].has_shape = true;
      g.values[v].shape = t.shape();
    };
    set_const("w", RandomTensor({4, 3, 3, 3}, 1));
    set_const("b", RandomTensor({4}, 2));
    set_const("s", RandomTensor({4}, 3, 0.5f, 1.5f));
    set_const("bb", RandomTensor({4}, 4));
    set_const("m", RandomTensor({4}, 5));
    set_const("v", RandomTensor({4}, 6, 0.5f, 2.f));
    int c = AddOp(g, "Conv", {"x", "w", "b"}, {"c"});
    g.nodes[c].attrs.SetInts("pads", {1, 1, 1, 1});
    AddOp(g, "BatchNormalization", {"c", "s", "bb", "m", "v"}, {"bn"});
    AddOp(g, "Relu", {"bn"}, {"r"});
    AddOp(g, "Identity", {"r"}, {"i"});
    AddOp(g, "Add", {"i", "r"}, {"y"});
    g.outputs.push_back(g.FindValue("y"));
    return g;
  };
  Tensor x = RandomTensor({1, 3, 9, 9}, 7);
  auto plain = Session::FromGraph(build(), {.threads = 1, .optimize = false, .disabled_passes = {}});
  auto opt = Session::FromGraph(build(), {.threads = 2, .optimize = true, .disabled_passes = {}});
  std::vector<Tensor> a, b;
  b = opt->Run({{"x", x}});
  EXPECT_EQ(CountOps(opt->graph(), "BatchNormalization"), 0);
  EXPECT_EQ(CountOps(opt->graph(), "Identity"), 0);
  EXPECT_EQ(CountOps(opt->graph(), "Relu"), 0);
  a = plain->Run({{"x", x}});
  ASSERT_EQ(a[0].shape(), b[0].shape());
  for (int64_t i = 0; i < a[0].numel(); ++i) EXPECT_NEAR(a[0].data<float>()[i], b[0].data<float>()[i], 1e-4) << i;
}

}  // namespace
}  // namespace nibble
