// Which values the session keeps channels-last (runtime/channels_last.h), on
// graphs of stand-in kernels that only declare their role.
#include "runtime/channels_last.h"

#include <gtest/gtest.h>

namespace nibble {
namespace {

class RoleKernel : public OpKernel {
 public:
  explicit RoleKernel(ChannelsLastRole role) : role_(role) {}
  void Infer(InferContext&) override {}
  void Run(RunContext&) override {}
  ChannelsLastRole ChannelsLast(const std::vector<Shape>&) override { return role_; }
  void SetChannelsLast(bool in, bool out) override { in_ = in, out_ = out, told_ = true; }
  ChannelsLastRole role_;
  bool in_ = false, out_ = false, told_ = false;
};

constexpr auto kNone = ChannelsLastRole::kNone;
constexpr auto kEndpoint = ChannelsLastRole::kEndpoint;
constexpr auto kElementwise = ChannelsLastRole::kElementwise;
constexpr auto kProducer = ChannelsLastRole::kProducer;

struct Net {
  Graph g;
  std::vector<std::unique_ptr<OpKernel>> kernels;
  ExecutionPlan plan;

  int Value(const std::string& name, DType t = DType::kUInt8, Shape s = {1, 8, 4, 4}) {
    g.values.push_back({});
    g.values.back().name = name;
    plan.info.push_back({t, s, nullptr});
    plan.known.emplace_back();
    return static_cast<int>(g.values.size()) - 1;
  }
  // A node of this role from inputs to a new value, returned.
  int Node(const std::string& name, ChannelsLastRole role, std::vector<int> inputs) {
    const int out = Value(name);
    g.nodes.push_back({});
    g.nodes.back().name = name;
    g.nodes.back().inputs = std::move(inputs);
    g.nodes.back().outputs = {out};
    g.values[out].producer = static_cast<int>(g.nodes.size()) - 1;
    plan.steps.push_back(static_cast<int>(g.nodes.size()) - 1);
    kernels.push_back(std::make_unique<RoleKernel>(role));
    return out;
  }
  const RoleKernel& K(int value) const { return static_cast<const RoleKernel&>(*kernels[g.values[value].producer]); }
};

// A ResNet-like block: quantize -> conv -> two convs -> Add -> conv -> Add
// with the quantized input -> pool (graph output).
struct Block : Net {
  int x, q, a, b, c, sum, d, res, pool;
  Block() {
    x = Value("x", DType::kFloat32);
    g.inputs = {x};
    q = Node("quantize", kNone, {x});
    a = Node("conv_a", kEndpoint, {q});
    b = Node("conv_b", kEndpoint, {a});
    c = Node("conv_c", kEndpoint, {a});
    sum = Node("add1", kElementwise, {b, c});
    d = Node("conv_d", kEndpoint, {sum});
    res = Node("add2", kElementwise, {d, q});
    pool = Node("pool", kNone, {res});
    g.outputs = {pool};
  }
};

TEST(ChannelsLast, ValuesBetweenCapableKernelsOnly) {
  Block n;
  const std::vector<char> cl = AssignChannelsLast(n.g, n.kernels, n.plan, true);
  // q: made by a kernel without the role; d and res: add2 also reads q, so
  // they cannot be channels-last; pool: a graph output.
  for (int v : {n.x, n.q, n.d, n.res, n.pool}) EXPECT_FALSE(cl[v]) << n.g.values[v].name;
  for (int v : {n.a, n.b, n.c, n.sum}) EXPECT_TRUE(cl[v]) << n.g.values[v].name;
  EXPECT_TRUE(n.K(n.a).told_);
  EXPECT_FALSE(n.K(n.a).in_);
  EXPECT_TRUE(n.K(n.a).out_);
  EXPECT_TRUE(n.K(n.b).in_ && n.K(n.b).out_);
  EXPECT_TRUE(n.K(n.c).in_ && n.K(n.c).out_);
  EXPECT_TRUE(n.K(n.d).in_);
  EXPECT_FALSE(n.K(n.d).out_);
}

TEST(ChannelsLast, DroppingOneValueDropsItsElementwiseNeighbours) {
  Block n;
  // conv_e reads b as its second input (a weight-like slot): b must be NCHW,
  // so add1's other input c and its output sum must be too; a stays.
  const int e = n.Node("conv_e", kEndpoint, {n.q, n.b});
  n.g.outputs.push_back(e);
  const std::vector<char> cl = AssignChannelsLast(n.g, n.kernels, n.plan, true);
  for (int v : {n.b, n.c, n.sum, n.d}) EXPECT_FALSE(cl[v]) << n.g.values[v].name;
  EXPECT_TRUE(cl[n.a]);
  EXPECT_TRUE(n.K(n.b).in_);
  EXPECT_FALSE(n.K(n.b).out_);
  EXPECT_FALSE(n.K(n.d).in_);
}

TEST(ChannelsLast, OnlyEightBitValuesOfRankThreeOrMoreAndNotGraphOutputs) {
  // Each rule alone keeps a value NCHW that would otherwise be channels-last
  // (b and c in ValuesBetweenCapableKernelsOnly; a too).
  {
    Block n;
    n.plan.info[n.b].dtype = DType::kInt32;
    EXPECT_FALSE(AssignChannelsLast(n.g, n.kernels, n.plan, true)[n.b]);
  }
  {
    Block n;
    n.plan.info[n.c].shape = {1, 8};
    EXPECT_FALSE(AssignChannelsLast(n.g, n.kernels, n.plan, true)[n.c]);
  }
  {
    Block n;
    n.g.outputs.push_back(n.a);
    const std::vector<char> cl = AssignChannelsLast(n.g, n.kernels, n.plan, true);
    EXPECT_FALSE(cl[n.a]);
    EXPECT_TRUE(cl[n.b]);
  }
}

// A producer (MaxPool) writes channels-last for endpoints but reads NCHW
// only: its input stays NCHW even when an endpoint makes it, and a value a
// producer reads is NCHW for every other consumer too.
TEST(ChannelsLast, ProducersWriteButDoNotRead) {
  Net n;
  const int x = n.Value("x", DType::kFloat32);
  n.g.inputs = {x};
  const int q = n.Node("quantize", kNone, {x});
  const int a = n.Node("conv_a", kEndpoint, {q});
  const int p = n.Node("pool", kProducer, {a});
  const int b = n.Node("conv_b", kEndpoint, {p});
  const int p2 = n.Node("pool2", kProducer, {b});
  const int c = n.Node("conv_c", kEndpoint, {b});
  const int d = n.Node("add", kElementwise, {p2, c});
  const int e = n.Node("conv_e", kNone, {d});
  n.g.outputs = {e};
  const std::vector<char> cl = AssignChannelsLast(n.g, n.kernels, n.plan, true);
  EXPECT_FALSE(cl[a]) << "read by a producer";
  EXPECT_TRUE(cl[p]) << "a producer's output read by an endpoint";
  EXPECT_FALSE(cl[b]) << "read by a producer (and an endpoint)";
  for (int v : {p2, c, d}) EXPECT_FALSE(cl[v]) << n.g.values[v].name << ": read by a kernel without the role";
  EXPECT_FALSE(n.K(p).in_);
  EXPECT_TRUE(n.K(p).out_);
  EXPECT_TRUE(n.K(b).in_);
  EXPECT_FALSE(n.K(b).out_);
}

TEST(ChannelsLast, DisabledTellsEveryKernelNchw) {
  Block n;
  AssignChannelsLast(n.g, n.kernels, n.plan, true);
  ASSERT_TRUE(n.K(n.b).in_);
  const std::vector<char> cl = AssignChannelsLast(n.g, n.kernels, n.plan, false);
  for (char c : cl) EXPECT_FALSE(c);
  for (int v : {n.a, n.b, n.c, n.d}) EXPECT_FALSE(n.K(v).in_ || n.K(v).out_) << n.g.values[v].name;
}

TEST(ChannelsLast, ToNchwTransposesEachImage) {
  // [2, 3, 2] channels-last: image b, position i, channel c at (b * 2 + i) * 3 + c.
  Tensor t(DType::kInt8, {2, 3, 2});
  int8_t* p = t.data<int8_t>();
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 2; ++i)
      for (int c = 0; c < 3; ++c) p[(b * 2 + i) * 3 + c] = static_cast<int8_t>(100 * b + 10 * c + i);
  const Tensor u = ChannelsLastToNchw(t);
  ASSERT_EQ(u.shape(), (Shape{2, 3, 2}));
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 2; ++i) EXPECT_EQ(u.data<int8_t>()[(b * 3 + c) * 2 + i], 100 * b + 10 * c + i);
  EXPECT_THROW(ChannelsLastToNchw(Tensor(DType::kFloat32, {1, 2, 2})), Error);
}

}  // namespace
}  // namespace nibble
