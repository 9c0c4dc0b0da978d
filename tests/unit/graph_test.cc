// The IR: value/node bookkeeping, topological order, removal and renumbering.
#include <gtest/gtest.h>

#include "test_util.h"

namespace nibble {
namespace {
using testing::AddInput;
using testing::AddOp;

TEST(Graph, TopologicalSortOrdersProducersFirst) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {1});
  // Deliberately out of order: c reads b which is produced later in the list.
  AddOp(g, "Relu", {"b"}, {"c"}, "third");
  AddOp(g, "Relu", {"x"}, {"a"}, "first");
  AddOp(g, "Relu", {"a"}, {"b"}, "second");
  g.outputs.push_back(g.FindValue("c"));
  g.TopologicalSort();
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].name, "first");
  EXPECT_EQ(g.nodes[1].name, "second");
  EXPECT_EQ(g.nodes[2].name, "third");
  EXPECT_EQ(g.values[g.FindValue("b")].producer, 1);
}

TEST(Graph, TopologicalSortKeepsModelOrderForIndependentNodes) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {1});
  AddOp(g, "Relu", {"x"}, {"a"}, "n0");
  AddOp(g, "Relu", {"x"}, {"b"}, "n1");
  AddOp(g, "Add", {"a", "b"}, {"c"}, "n2");
  g.outputs.push_back(g.FindValue("c"));
  g.TopologicalSort();
  EXPECT_EQ(g.nodes[0].name, "n0");
  EXPECT_EQ(g.nodes[1].name, "n1");
}

TEST(Graph, CycleIsAnErrorNamingANode) {
  Graph g;
  g.path = "cyc.onnx";
  AddOp(g, "Relu", {"b"}, {"a"}, "n0");
  AddOp(g, "Relu", {"a"}, {"b"}, "n1");
  g.outputs.push_back(g.FindValue("a"));
  try {
    g.TopologicalSort();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cyc.onnx: node 'n"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
  }
}

TEST(Graph, RemoveNodesCompactsValuesAndRenumbers) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {1});
  AddOp(g, "Relu", {"x"}, {"dead"}, "unused");
  AddOp(g, "Sigmoid", {"x"}, {"y"}, "kept");
  g.outputs.push_back(g.FindValue("y"));
  g.RemoveNodes({true, false});
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.values.size(), 2u);  // x and y
  EXPECT_EQ(g.FindValue("dead"), -1);
  EXPECT_EQ(g.values[g.nodes[0].inputs[0]].name, "x");
  EXPECT_EQ(g.values[g.outputs[0]].name, "y");
  EXPECT_EQ(g.values[g.outputs[0]].producer, 0);
}

TEST(Graph, TwoProducersOfOneValueIsAnError) {
  Graph g;
  AddInput(g, "x", DType::kFloat32, {1});
  AddOp(g, "Relu", {"x"}, {"y"});
  AddOp(g, "Relu", {"x"}, {"y"});
  EXPECT_THROW(g.RebuildIndex(), Error);
}

TEST(Graph, UniqueNameAvoidsCollisions) {
  Graph g;
  g.AddValue("w");
  g.AddValue("w_1");
  EXPECT_EQ(g.UniqueName("w"), "w_2");
  EXPECT_EQ(g.UniqueName("v"), "v");
}

TEST(Attributes, WrongKindIsAnError) {
  Attributes a;
  a.SetInt("axis", 3);
  EXPECT_EQ(a.GetInt("axis", 0), 3);
  EXPECT_EQ(a.GetInt("missing", 7), 7);
  EXPECT_THROW(a.GetFloat("axis", 0.f), Error);
}

TEST(Tensor, ShapeProductOverflowIsAnError) {
  EXPECT_THROW(ShapeNumel({int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(ShapeNumel({-1, 2}), Error);
  EXPECT_EQ(ShapeNumel({}), 1);
  EXPECT_EQ(ShapeNumel({3, 0, 5}), 0);
}

TEST(Tensor, AllocationAboveTheLimitIsRefused) {
  // 2^31 floats = 8 GiB + : over the default 8 GiB limit.
  EXPECT_THROW(Tensor(DType::kFloat32, {int64_t{1} << 31, 2}), Error);
}

}  // namespace
}  // namespace nibble
