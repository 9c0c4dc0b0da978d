// The planner and executor: memory reuse by liveness, re-planning on new input
// shapes, input checking, and identical results across thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "nibble/session.h"
#include "runtime/op_registry.h"
#include "runtime/planner.h"
#include "test_util.h"

namespace nibble {
namespace {
using testing::AddInput;
using testing::AddOp;
using testing::RandomTensor;

// x -> a -> b -> c -> y: a and c are never alive together, so they share memory.
Graph ReluChain(Shape s) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, s);
  AddOp(g, "Relu", {"x"}, {"a"});
  AddOp(g, "Sigmoid", {"a"}, {"b"});
  AddOp(g, "Tanh", {"b"}, {"c"});
  AddOp(g, "Relu", {"c"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  return g;
}

TEST(Planner, ReusesMemoryOfDeadValues) {
  Graph g = ReluChain({1000});
  std::vector<std::unique_ptr<OpKernel>> kernels;
  for (const Node& n : g.nodes) kernels.push_back((*OpRegistry::Get().Find("", n.op_type))(OpEnv{g, n, 17}));
  Tensor x(DType::kFloat32, {1000});
  ThreadPool pool(1);
  ExecutionPlan p = BuildPlan(g, kernels, {&x}, false, &pool);
  const int64_t buf = 4032;  // 4000 bytes rounded up to 64
  EXPECT_EQ(p.naive_bytes, 3 * buf);  // a, b, c (y is a graph output, owned by the caller)
  EXPECT_EQ(p.arena_bytes, 2 * buf);
  EXPECT_EQ(p.arena_offset[g.FindValue("a")], p.arena_offset[g.FindValue("c")]);
  EXPECT_NE(p.arena_offset[g.FindValue("a")], p.arena_offset[g.FindValue("b")]);
  EXPECT_EQ(p.steps.size(), 4u);
}

TEST(Planner, InputAndOutputOfAStepNeverShareMemory) {
  // Wide fan-out: every value read by the last node must stay alive until then.
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {64});
  AddOp(g, "Relu", {"x"}, {"a"});
  AddOp(g, "Sigmoid", {"x"}, {"b"});
  AddOp(g, "Tanh", {"x"}, {"c"});
  AddOp(g, "Add", {"a", "b"}, {"ab"});
  AddOp(g, "Add", {"ab", "c"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  auto s = Session::FromGraph(std::move(g), {.threads = 1, .optimize = false, .disabled_passes = {}});
  Tensor x = RandomTensor({64}, 3, -3, 3);
  auto y = s->Run({{"x", x}});
  for (int i = 0; i < 64; ++i) {
    float v = x.data<float>()[i];
    float want = std::max(v, 0.f) + 1.f / (1.f + std::exp(-v)) + std::tanh(v);
    EXPECT_NEAR(y[0].data<float>()[i], want, 1e-5) << i;
  }
  // At the step computing ab, a, b and c are alive and ab is written: four 256-byte slots.
  EXPECT_EQ(s->arena_bytes(), 4 * 256);
}

TEST(Session, ReplansWhenADynamicDimChanges) {
  Graph g = ReluChain({-1, 4});
  g.values[g.inputs[0]].dim_params = {"N", ""};
  auto s = Session::FromGraph(std::move(g));
  for (int64_t n : {1, 3, 2}) {
    Tensor x = RandomTensor({n, 4}, static_cast<uint32_t>(n), -2, 2);
    auto y = s->Run({{"x", x}});
    ASSERT_EQ(y[0].shape(), (Shape{n, 4}));
    for (int64_t i = 0; i < x.numel(); ++i) {
      float v = std::tanh(1.f / (1.f + std::exp(-std::max(x.data<float>()[i], 0.f))));
      EXPECT_NEAR(y[0].data<float>()[i], v, 1e-6);
    }
  }
}

// A session keeps where its values live from one run to the next: each run
// must still start clean. Flatten makes its output a view of its input (the
// slot is replaced during a run), one output is a view of the graph input,
// one an arena value; earlier runs' outputs must stay as they were.
TEST(Session, RunsOfOneSessionAreIndependent) {
  auto build = [] {
    Graph g;
    g.opset = 17;
    AddInput(g, "x", DType::kFloat32, {2, 3, 4});
    AddOp(g, "Relu", {"x"}, {"a"});
    AddOp(g, "Flatten", {"a"}, {"f"});
    AddOp(g, "Sigmoid", {"f"}, {"y"});
    AddOp(g, "Flatten", {"x"}, {"xf"});
    AddOp(g, "Tanh", {"a"}, {"t"});
    g.outputs = {g.FindValue("y"), g.FindValue("xf"), g.FindValue("f"), g.FindValue("t")};
    return g;
  };
  auto shared = Session::FromGraph(build());
  std::vector<std::vector<Tensor>> kept;
  std::vector<Tensor> xs;
  for (uint32_t run = 0; run < 4; ++run) {
    xs.push_back(RandomTensor({2, 3, 4}, 40 + run, -2, 2));
    kept.push_back(shared->Run({{"x", xs.back()}}));
    // The input is not kept: rewriting it changes no output of this run.
    std::memset(xs.back().raw(), 0, xs.back().nbytes());
  }
  for (uint32_t run = 0; run < 4; ++run) {
    const std::vector<Tensor> want = Session::FromGraph(build())->Run({{"x", RandomTensor({2, 3, 4}, 40 + run, -2, 2)}});
    ASSERT_EQ(kept[run].size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      ASSERT_EQ(kept[run][o].shape(), want[o].shape()) << "run " << run << " output " << o;
      EXPECT_EQ(std::memcmp(kept[run][o].raw(), want[o].raw(), want[o].nbytes()), 0) << "run " << run << " output " << o;
    }
  }
}

TEST(Session, RejectsWrongShapeDtypeAndMissingInputs) {
  Graph g = ReluChain({2, 4});
  g.path = "chain.onnx";
  auto s = Session::FromGraph(std::move(g));
  auto expect_error = [&](std::vector<std::pair<std::string, Tensor>> in, const std::string& part) {
    try {
      s->Run(in);
      ADD_FAILURE() << "no error for " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error({{"x", Tensor(DType::kFloat32, {2, 5})}}, "input 'x' expects shape [2,4], got [2,5]");
  expect_error({{"x", Tensor(DType::kInt32, {2, 4})}}, "input 'x' expects float32, got int32");
  expect_error({}, "input 'x' is missing");
  expect_error({{"nope", Tensor(DType::kFloat32, {2, 4})}}, "no input named 'nope'");
}

TEST(Session, UnsupportedOperatorsAreListedTogether) {
  Graph g;
  g.path = "m.onnx";
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {1});
  AddOp(g, "FooBar", {"x"}, {"a"}, "first_bad");
  AddOp(g, "Relu", {"a"}, {"b"});
  AddOp(g, "BazQux", {"b"}, {"y"}, "second_bad");
  g.outputs.push_back(g.FindValue("y"));
  try {
    Session::FromGraph(std::move(g));
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("2 node(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("'first_bad' (FooBar)"), std::string::npos) << m;
    EXPECT_NE(m.find("'second_bad' (BazQux)"), std::string::npos) << m;
  }
}

TEST(Session, TwoThreadsGiveIdenticalResults) {
  auto build = [] {
    Graph g;
    g.opset = 17;
    AddInput(g, "x", DType::kFloat32, {2, 8, 17, 19});
    int w = g.AddValue("w");
    g.values[w].constant = RandomTensor({16, 8, 3, 3}, 11);
    int c = AddOp(g, "Conv", {"x", "w"}, {"c"});
    g.nodes[c].attrs.SetInts("pads", {1, 1, 1, 1});
    AddOp(g, "Relu", {"c"}, {"r"});
    AddOp(g, "Add", {"r", "c"}, {"y"});
    g.outputs.push_back(g.FindValue("y"));
    return g;
  };
  Tensor x = RandomTensor({2, 8, 17, 19}, 5);
  auto s1 = Session::FromGraph(build(), {.threads = 1});
  auto s2 = Session::FromGraph(build(), {.threads = 2});
  auto y1 = s1->Run({{"x", x}});
  auto y2 = s2->Run({{"x", x}});
  ASSERT_EQ(y1[0].nbytes(), y2[0].nbytes());
  EXPECT_EQ(0, std::memcmp(y1[0].raw(), y2[0].raw(), y1[0].nbytes()));
}

}  // namespace
}  // namespace nibble
