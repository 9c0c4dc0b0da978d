// Shape and data-movement ops: the reference kernels on hand-computed cases,
// then the ops through a Session (values, opset forms, value-dependent
// planning) and their errors, which must name the node and never crash.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/reference/axis_map_copy.h"
#include "base/float16.h"
#include "kernels/reference/gather.h"
#include "kernels/reference/pad.h"
#include "kernels/reference/slice.h"
#include "kernels/reference/tile.h"
#include "kernels/reference/transpose.h"
#include "nibble/session.h"
#include "test_util.h"

namespace nibble {
namespace {
using testing::AddInput;
using testing::AddOp;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// ---- reference kernels ---------------------------------------------------------------

TEST(SliceKernel, ClampsLikeOnnx) {
  struct Case {
    int64_t start, end, step, dim, want_start, want_count;
  } cases[] = {
      {0, kMax, 1, 5, 0, 5},         // end past the axis is clamped
      {-2, kMax, 1, 5, 3, 2},        // negative start counts from the end
      {1, 4, 2, 5, 1, 2},            // 1, 3
      {-1, -100, -2, 5, 4, 3},       // 4, 2, 0
      {10, 0, -1, 5, 4, 4},          // start clamped to dim-1: 4, 3, 2, 1
      {2, 2, 1, 5, 2, 0},            // empty
      {3, 1, 1, 5, 3, 0},            // empty (end before start)
      {4, kMin, kMin, 5, 4, 1},      // |step| = 2^63 still reads one element
      {kMin, kMax, kMin, 5, 0, 0},   // start clamped to 0, end to 4: nothing going down
      {kMax, kMin, -1, 5, 4, 5},     // the whole axis reversed
      {0, 3, 1, 0, 0, 0},            // empty axis
  };
  for (const Case& c : cases) {
    SliceAxis a = ClampSliceAxis(c.start, c.end, c.step, c.dim);
    EXPECT_EQ(a.count, c.want_count) << c.start << ":" << c.end << ":" << c.step << " of " << c.dim;
    if (c.want_count > 0) {
      EXPECT_EQ(a.start, c.want_start) << c.start << ":" << c.end << ":" << c.step;
    }
  }
}

TEST(SliceKernel, ReversesBothAxes) {
  const float in[6] = {0, 1, 2, 3, 4, 5};  // [[0,1,2],[3,4,5]]
  float out[6] = {};
  SliceElements(in, out, {2, 3}, {{1, -1, 2}, {2, -1, 3}}, sizeof(float));
  const float want[6] = {5, 4, 3, 2, 1, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want[i]) << i;
}

TEST(SliceKernel, StridedInnerAxis) {
  int16_t in[24];
  for (int i = 0; i < 24; ++i) in[i] = static_cast<int16_t>(i);  // [2,3,4]
  int16_t out[4] = {};
  // x[1, 0:3:2, 3:0:-2] -> rows 0 and 2 of the second block, columns 3 and 1.
  SliceElements(in, out, {2, 3, 4}, {{1, 1, 1}, {0, 2, 2}, {3, -2, 2}}, sizeof(int16_t));
  const int16_t want[4] = {12 + 3, 12 + 1, 12 + 8 + 3, 12 + 8 + 1};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], want[i]) << i;
}

TEST(TransposeKernel, MatchesIndexFormula) {
  // in[i][j][k] = 100i + 10j + k, shape [2,3,4]; perm (1,2,0): out[j][k][i] = in[i][j][k].
  int32_t in[24];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) in[(i * 3 + j) * 4 + k] = 100 * i + 10 * j + k;
  int32_t out[24] = {};
  TransposeElements(in, out, {2, 3, 4}, {1, 2, 0}, sizeof(int32_t));
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i) EXPECT_EQ(out[(j * 4 + k) * 2 + i], 100 * i + 10 * j + k);
}

TEST(TransposeKernel, TwoByThree) {
  const uint8_t in[6] = {0, 1, 2, 3, 4, 5};
  uint8_t out[6] = {};
  TransposeElements(in, out, {2, 3}, {1, 0}, 1);
  const uint8_t want[6] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want[i]);
}

TEST(PadKernel, SourceIndexPerMode) {
  // Axis [a b c] (n = 3); positions -4..5.
  const int64_t reflect[] = {0, 1, 2, 1, 0, 1, 2, 1, 0, 1};  // numpy.pad reflect: a b c b | a b c | b a b
  const int64_t edge[] = {0, 0, 0, 0, 0, 1, 2, 2, 2, 2};
  const int64_t wrap[] = {2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  const int64_t constant[] = {-1, -1, -1, -1, 0, 1, 2, -1, -1, -1};
  for (int64_t p = -4; p <= 5; ++p) {
    EXPECT_EQ(PadSourceIndex(p, 3, PadMode::kReflect), reflect[p + 4]) << p;
    EXPECT_EQ(PadSourceIndex(p, 3, PadMode::kEdge), edge[p + 4]) << p;
    EXPECT_EQ(PadSourceIndex(p, 3, PadMode::kWrap), wrap[p + 4]) << p;
    EXPECT_EQ(PadSourceIndex(p, 3, PadMode::kConstant), constant[p + 4]) << p;
  }
  EXPECT_EQ(PadSourceIndex(-5, 1, PadMode::kReflect), 0);
  EXPECT_EQ(PadSourceIndex(7, 1, PadMode::kWrap), 0);
}

std::vector<float> Pad1D(std::vector<float> in, int64_t b, int64_t e, PadMode mode, float value = 9) {
  std::vector<float> out(in.size() + b + e);
  PadElements(in.data(), out.data(), {static_cast<int64_t>(in.size())}, {b}, {e}, mode, &value, sizeof(float));
  return out;
}

TEST(PadKernel, OneDimensional) {
  EXPECT_EQ(Pad1D({1, 2, 3}, 2, 2, PadMode::kConstant), (std::vector<float>{9, 9, 1, 2, 3, 9, 9}));
  EXPECT_EQ(Pad1D({1, 2, 3}, 2, 2, PadMode::kReflect), (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(Pad1D({1, 2, 3}, 2, 2, PadMode::kEdge), (std::vector<float>{1, 1, 1, 2, 3, 3, 3}));
  EXPECT_EQ(Pad1D({1, 2, 3}, 2, 2, PadMode::kWrap), (std::vector<float>{2, 3, 1, 2, 3, 1, 2}));
  EXPECT_EQ(Pad1D({1, 2, 3}, 4, 0, PadMode::kReflect), (std::vector<float>{1, 2, 3, 2, 1, 2, 3}));
}

TEST(PadKernel, NegativePadsCropFirst) {
  EXPECT_EQ(Pad1D({1, 2, 3}, -1, 2, PadMode::kConstant), (std::vector<float>{2, 3, 9, 9}));
  // Crop to [2 3], then reflect that: 2 3 | 2 3.
  EXPECT_EQ(Pad1D({1, 2, 3}, -1, 2, PadMode::kReflect), (std::vector<float>{2, 3, 2, 3}));
  EXPECT_EQ(Pad1D({1, 2, 3, 4}, -1, -2, PadMode::kEdge), (std::vector<float>{2}));
  // Everything cropped, then constant padding.
  EXPECT_EQ(Pad1D({1, 2}, -2, 1, PadMode::kConstant), (std::vector<float>{9}));
}

TEST(PadKernel, TwoDimensionalEdge) {
  const int32_t in[4] = {1, 2, 3, 4};  // [[1,2],[3,4]]
  int32_t out[12] = {};
  int32_t zero = 0;
  // One row above, one column right: [[1,2,2],[1,2,2],[3,4,4]] then a row below: [3,4,4].
  PadElements(in, out, {2, 2}, {1, 0}, {1, 1}, PadMode::kEdge, &zero, sizeof(int32_t));
  const int32_t want[12] = {1, 2, 2, 1, 2, 2, 3, 4, 4, 3, 4, 4};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i], want[i]) << i;
}

TEST(TileKernel, RepeatsEachAxis) {
  const int64_t in[4] = {1, 2, 3, 4};  // [[1,2],[3,4]]
  int64_t out_full[24] = {};
  TileElements(in, out_full, {2, 2}, {2, 3}, sizeof(int64_t));
  // Output [4, 6]: rows [1,2,1,2,1,2], [3,4,3,4,3,4], and again.
  const int64_t want[24] = {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4};
  for (int i = 0; i < 24; ++i) EXPECT_EQ(out_full[i], want[i]) << i;
}

TEST(TileKernel, ExpandBroadcasts) {
  const uint16_t row[3] = {7, 8, 9};
  uint16_t out[6] = {};
  ExpandElements(row, out, {3}, {2, 3}, sizeof(uint16_t));
  const uint16_t want[6] = {7, 8, 9, 7, 8, 9};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want[i]);
  const uint16_t col[2] = {1, 2};
  ExpandElements(col, out, {2, 1}, {2, 3}, sizeof(uint16_t));
  const uint16_t want2[6] = {1, 1, 1, 2, 2, 2};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want2[i]);
}

TEST(GatherKernel, MiddleAxis) {
  const float in[6] = {0, 1, 2, 3, 4, 5};  // [[0,1,2],[3,4,5]], gather columns 2, 0, 2
  const int64_t idx[3] = {2, 0, 2};
  float out[6] = {};
  GatherAlongAxis(in, out, 2, 3, 1, idx, 3, sizeof(float));
  const float want[6] = {2, 0, 2, 5, 3, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want[i]);
}

TEST(AxisMapCopy, FillsNegativeOffsetsAndHandlesOddSizes) {
  // Three-byte elements take the generic path.
  const uint8_t in[6] = {1, 2, 3, 4, 5, 6};
  const uint8_t fill[3] = {9, 9, 9};
  uint8_t out[9] = {};
  CopyByAxisMaps(in, out, {{1, -1, 0}}, 3, fill);
  const uint8_t want[9] = {4, 5, 6, 9, 9, 9, 1, 2, 3};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(out[i], want[i]) << i;
}

TEST(Float16, Decodes) {
  EXPECT_EQ(HalfBitsToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfBitsToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfBitsToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(HalfBitsToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfBitsToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(HalfBitsToFloat(0x3555), (1 + 0x155 / 1024.0f) * 0.25f);  // exponent 13, mantissa 0x155
  EXPECT_TRUE(std::isinf(HalfBitsToFloat(0xFC00)) && HalfBitsToFloat(0xFC00) < 0);
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(0x7E00)));
  EXPECT_TRUE(std::signbit(HalfBitsToFloat(0x8000)));
}

TEST(Float16, EncodesRoundingToNearestEven) {
  EXPECT_EQ(DoubleToHalfBits(1.0), 0x3C00);
  EXPECT_EQ(DoubleToHalfBits(-2.0), 0xC000);
  EXPECT_EQ(DoubleToHalfBits(65504.0), 0x7BFF);
  EXPECT_EQ(DoubleToHalfBits(65519.99), 0x7BFF);  // below the halfway point to 65536
  EXPECT_EQ(DoubleToHalfBits(65520.0), 0x7C00);   // halfway: rounds to even = infinity
  EXPECT_EQ(DoubleToHalfBits(1.0 + std::ldexp(1.0, -11)), 0x3C00);      // tie -> even mantissa 0
  EXPECT_EQ(DoubleToHalfBits(1.0 + 3 * std::ldexp(1.0, -11)), 0x3C02);  // tie -> even mantissa 2
  EXPECT_EQ(DoubleToHalfBits(1.0 + 1.1 * std::ldexp(1.0, -11)), 0x3C01);
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1.0, -25)), 0x0000);      // half the smallest subnormal: tie -> 0
  EXPECT_EQ(DoubleToHalfBits(3 * std::ldexp(1.0, -25)), 0x0002);  // 1.5 units: tie -> 2
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1023.6, -24)), 0x0400);   // subnormal rounding up into the normals
  EXPECT_EQ(DoubleToHalfBits(-0.0), 0x8000);
  EXPECT_EQ(DoubleToHalfBits(1e9), 0x7C00);
  const uint16_t nan = DoubleToHalfBits(std::nan(""));
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
}

// ---- ops through a Session -----------------------------------------------------------

template <class T>
Tensor Make(Shape s, std::vector<T> v) {
  Tensor t(DTypeOf<T>(), std::move(s));
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  std::copy(v.begin(), v.end(), t.data<T>());
  return t;
}

template <class T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

SessionOptions OneThread() {
  SessionOptions o;
  o.threads = 1;
  return o;
}

// A one-node graph: runtime inputs (name, tensor), then constant inputs, then
// outputs y0..y{n-1}. An empty constant name is an omitted optional input.
struct OneOp {
  Graph g;
  std::vector<std::pair<std::string, Tensor>> feeds;
  Node* node = nullptr;

  OneOp(const std::string& op, int64_t opset, std::vector<std::pair<std::string, Tensor>> inputs,
        std::vector<std::pair<std::string, Tensor>> constants = {}, int outputs = 1) {
    g.opset = opset;
    g.path = "test.onnx";
    std::vector<std::string> names;
    for (auto& [n, t] : inputs) {
      AddInput(g, n, t.dtype(), t.shape());
      names.push_back(n);
      feeds.push_back({n, t});
    }
    for (auto& [n, t] : constants) {
      if (!n.empty()) g.AddConstant(n, t);
      names.push_back(n);
    }
    std::vector<std::string> outs;
    for (int i = 0; i < outputs; ++i) outs.push_back(Cat("y", i));
    int id = AddOp(g, op, names, outs, "the_" + op);
    node = &g.nodes[id];
    for (const auto& o : outs) g.outputs.push_back(g.FindValue(o));
  }
  Attributes& attrs() { return node->attrs; }
  std::vector<Tensor> Run() {
    auto s = Session::FromGraph(std::move(g), OneThread());
    return s->Run(feeds);
  }
};

// Runs and expects an Error whose message names the node and contains `what`.
void ExpectError(OneOp& op, const std::string& what) {
  const std::string node = "the_" + op.node->op_type;
  try {
    op.Run();
    ADD_FAILURE() << "no error; expected one containing '" << what << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(node), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

Tensor Iota(DType t, Shape s) {
  Tensor x(t, std::move(s));
  for (int64_t i = 0; i < x.numel(); ++i) {
    switch (t) {
      case DType::kFloat32: x.data<float>()[i] = static_cast<float>(i); break;
      case DType::kInt64: x.data<int64_t>()[i] = i; break;
      case DType::kInt32: x.data<int32_t>()[i] = static_cast<int32_t>(i); break;
      case DType::kUInt8: x.data<uint8_t>()[i] = static_cast<uint8_t>(i); break;
      default: ADD_FAILURE() << "Iota: unsupported type";
    }
  }
  return x;
}

TEST(TensorOps, ReshapeCopiesZeroAndInfersMinusOne) {
  OneOp op("Reshape", 21, {{"x", Iota(DType::kFloat32, {2, 3, 4})}}, {{"s", Make<int64_t>({3}, {0, -1, 2})}});
  auto y = op.Run();
  EXPECT_EQ(y[0].shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(Values<float>(y[0])[23], 23.f);
}

TEST(TensorOps, ReshapeAllowZeroMakesAnEmptyTensor) {
  OneOp op("Reshape", 21, {{"x", Tensor(DType::kFloat32, {0, 3})}}, {{"s", Make<int64_t>({2}, {3, 0})}});
  op.attrs().SetInt("allowzero", 1);
  EXPECT_EQ(op.Run()[0].shape(), (Shape{3, 0}));
}

TEST(TensorOps, ReshapeWithRuntimeShapePlansPerRun) {
  Graph g;
  g.opset = 21;
  AddInput(g, "x", DType::kFloat32, {2, 6});
  AddInput(g, "s", DType::kInt64, {2});
  AddOp(g, "Reshape", {"x", "s"}, {"y"});
  g.outputs.push_back(g.FindValue("y"));
  auto s = Session::FromGraph(std::move(g), OneThread());
  Tensor x = Iota(DType::kFloat32, {2, 6});
  EXPECT_EQ(s->Run({{"x", x}, {"s", Make<int64_t>({2}, {4, 3})}})[0].shape(), (Shape{4, 3}));
  EXPECT_EQ(s->Run({{"x", x}, {"s", Make<int64_t>({2}, {-1, 2})}})[0].shape(), (Shape{6, 2}));
}

TEST(TensorOps, SliceWithNegativeStepsAndClamping) {
  // x = [[0..3],[4..7],[8..11]]; x[-1::-2, 10:0:-3]: rows 2, 0; columns from 3 (clamped) down to, not
  // including, 0 in steps of 3: just 3.
  OneOp op("Slice", 13, {{"x", Iota(DType::kFloat32, {3, 4})}},
           {{"st", Make<int64_t>({2}, {-1, 10})}, {"en", Make<int64_t>({2}, {kMin, 0})},
            {"ax", Make<int64_t>({2}, {0, 1})}, {"sp", Make<int64_t>({2}, {-2, -3})}});
  auto y = op.Run();
  EXPECT_EQ(y[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(y[0]), (std::vector<float>{11, 3}));
}

TEST(TensorOps, GatherNegativeIndices) {
  OneOp op("Gather", 13, {{"x", Iota(DType::kInt32, {2, 3})}, {"i", Make<int64_t>({2}, {-1, 0})}});
  op.attrs().SetInt("axis", 1);
  auto y = op.Run();
  EXPECT_EQ(y[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int32_t>(y[0]), (std::vector<int32_t>{2, 0, 5, 3}));
}

TEST(TensorOps, GatherOutOfRangeIsAClearError) {
  OneOp op("Gather", 13, {{"x", Iota(DType::kFloat32, {2, 3})}, {"i", Make<int64_t>({2}, {1, 3})}});
  op.attrs().SetInt("axis", 1);
  ExpectError(op, "index 3 (indices element 1) is out of range for axis 1 of size 3");
  OneOp low("Gather", 13, {{"x", Iota(DType::kFloat32, {2, 3})}, {"i", Make<int32_t>({1}, {-3})}});
  ExpectError(low, "index -3");
}

TEST(TensorOps, TransposeDefaultReverses) {
  OneOp op("Transpose", 21, {{"x", Iota(DType::kUInt8, {2, 3})}});
  auto y = op.Run();
  EXPECT_EQ(y[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<uint8_t>(y[0]), (std::vector<uint8_t>{0, 3, 1, 4, 2, 5}));
}

TEST(TensorOps, ConcatAndSplitRoundTrip) {
  OneOp cat("Concat", 13, {{"a", Iota(DType::kInt64, {2, 1})}, {"b", Iota(DType::kInt64, {2, 2})}});
  cat.attrs().SetInt("axis", -1);
  auto y = cat.Run();
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int64_t>(y[0]), (std::vector<int64_t>{0, 0, 1, 1, 2, 3}));

  OneOp split("Split", 18, {{"x", Iota(DType::kInt64, {7})}}, {}, 3);
  split.attrs().SetInt("num_outputs", 3);
  auto parts = split.Run();  // ceil(7/3) = 3: sizes 3, 3, 1
  EXPECT_EQ(Values<int64_t>(parts[0]), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(Values<int64_t>(parts[1]), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(Values<int64_t>(parts[2]), (std::vector<int64_t>{6}));

  OneOp old("Split", 11, {{"x", Iota(DType::kInt64, {2, 3})}}, {}, 2);
  old.attrs().SetInt("axis", 1);
  old.attrs().SetInts("split", {2, 1});
  auto p2 = old.Run();
  EXPECT_EQ(Values<int64_t>(p2[0]), (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(Values<int64_t>(p2[1]), (std::vector<int64_t>{2, 5}));
}

TEST(TensorOps, SqueezeUnsqueezeAcrossOpsets) {
  OneOp sq11("Squeeze", 11, {{"x", Tensor(DType::kFloat32, {1, 3, 1})}});
  sq11.attrs().SetInts("axes", {-1});
  EXPECT_EQ(sq11.Run()[0].shape(), (Shape{1, 3}));
  OneOp sq13("Squeeze", 13, {{"x", Tensor(DType::kFloat32, {1, 3, 1})}});
  EXPECT_EQ(sq13.Run()[0].shape(), (Shape{3}));
  OneOp un13("Unsqueeze", 13, {{"x", Tensor(DType::kFloat32, {3})}}, {{"a", Make<int64_t>({2}, {-1, 0})}});
  EXPECT_EQ(un13.Run()[0].shape(), (Shape{1, 3, 1}));
}

TEST(TensorOps, CastTruncatesAndWraps) {
  OneOp op("Cast", 21, {{"x", Make<float>({5}, {-1.7f, 2.9f, NAN, 300.5f, -0.5f})}});
  op.attrs().SetInt("to", 6);  // INT32
  EXPECT_EQ(Values<int32_t>(op.Run()[0]), (std::vector<int32_t>{-1, 2, 0, 300, 0}));
  OneOp u8("Cast", 21, {{"x", Make<float>({2}, {300.5f, 255.9f})}});
  u8.attrs().SetInt("to", 2);  // UINT8: 300 wraps to 44, like numpy's astype
  EXPECT_EQ(Values<uint8_t>(u8.Run()[0]), (std::vector<uint8_t>{44, 255}));
  OneOp b("Cast", 21, {{"x", Make<float>({3}, {0.f, -0.25f, NAN})}});
  b.attrs().SetInt("to", 9);  // BOOL
  EXPECT_EQ(Values<bool>(b.Run()[0]), (std::vector<bool>{false, true, true}));
}

TEST(TensorOps, CastToFloat16AndBack) {
  OneOp op("Cast", 21, {{"x", Make<float>({3}, {1.f, 65504.f, 1e6f})}});
  op.attrs().SetInt("to", 10);  // FLOAT16
  Tensor h = op.Run()[0];
  ASSERT_EQ(h.dtype(), DType::kFloat16);
  const uint16_t* bits = static_cast<const uint16_t*>(h.raw());
  EXPECT_EQ(bits[0], 0x3C00);
  EXPECT_EQ(bits[1], 0x7BFF);
  EXPECT_EQ(bits[2], 0x7C00);
}

TEST(TensorOps, PadModesThroughTheOp) {
  OneOp op("Pad", 19, {{"x", Make<int32_t>({3}, {1, 2, 3})}}, {{"p", Make<int64_t>({2}, {1, 3})}});
  op.attrs().SetString("mode", "wrap");
  EXPECT_EQ(Values<int32_t>(op.Run()[0]), (std::vector<int32_t>{3, 1, 2, 3, 1, 2, 3}));
  OneOp c("Pad", 18, {{"x", Make<int32_t>({2, 2}, {1, 2, 3, 4})}},
          {{"p", Make<int64_t>({2}, {1, 0})}, {"v", Make<int32_t>({}, {7})}, {"ax", Make<int64_t>({1}, {-1})}});
  EXPECT_EQ(Values<int32_t>(c.Run()[0]), (std::vector<int32_t>{7, 1, 2, 7, 3, 4}));
}

TEST(TensorOps, RangeFromRuntimeStart) {
  OneOp op("Range", 11, {{"s", Make<int64_t>({}, {1})}}, {{"l", Make<int64_t>({}, {10})}, {"d", Make<int64_t>({}, {3})}});
  EXPECT_EQ(Values<int64_t>(op.Run()[0]), (std::vector<int64_t>{1, 4, 7}));
  OneOp f("Range", 11, {{"s", Make<float>({}, {1.f})}}, {{"l", Make<float>({}, {0.f})}, {"d", Make<float>({}, {-0.25f})}});
  EXPECT_EQ(Values<float>(f.Run()[0]), (std::vector<float>{1.f, 0.75f, 0.5f, 0.25f}));
}

TEST(TensorOps, ShapeSliceAndSize) {
  OneOp op("Shape", 15, {{"x", Tensor(DType::kFloat32, {2, 3, 5, 7})}});
  op.attrs().SetInt("start", 1);
  op.attrs().SetInt("end", -1);
  EXPECT_EQ(Values<int64_t>(op.Run()[0]), (std::vector<int64_t>{3, 5}));
  OneOp size("Size", 13, {{"x", Tensor(DType::kUInt8, {2, 3, 5})}});
  EXPECT_EQ(Values<int64_t>(size.Run()[0]), (std::vector<int64_t>{30}));
}

TEST(TensorOps, ArgMaxSelectLastIndex) {
  Tensor x = Make<int32_t>({2, 3}, {4, 9, 9, 1, 1, 0});
  OneOp first("ArgMax", 13, {{"x", x}});
  first.attrs().SetInt("axis", 1);
  EXPECT_EQ(Values<int64_t>(first.Run()[0]), (std::vector<int64_t>{1, 0}));
  OneOp last("ArgMax", 13, {{"x", x}});
  last.attrs().SetInt("axis", 1);
  last.attrs().SetInt("keepdims", 0);
  last.attrs().SetInt("select_last_index", 1);
  auto y = last.Run();
  EXPECT_EQ(y[0].shape(), (Shape{2}));
  EXPECT_EQ(Values<int64_t>(y[0]), (std::vector<int64_t>{2, 1}));
  OneOp mn("ArgMin", 13, {{"x", x}});
  EXPECT_EQ(Values<int64_t>(mn.Run()[0]), (std::vector<int64_t>{1, 1, 1}));
}

TEST(TensorOps, VariadicBroadcast) {
  OneOp op("Max", 13, {{"a", Make<int8_t>({2, 1}, {-5, 5})}, {"b", Make<int8_t>({3}, {-7, 0, 7})},
                       {"c", Make<int8_t>({}, {1})}});
  EXPECT_EQ(Values<int8_t>(op.Run()[0]), (std::vector<int8_t>{1, 1, 7, 5, 5, 7}));
  OneOp mean("Mean", 13, {{"a", Make<double>({2}, {1, 2})}, {"b", Make<double>({2}, {2, 4})},
                          {"c", Make<double>({1}, {6})}});
  EXPECT_EQ(Values<double>(mean.Run()[0]), (std::vector<double>{3, 4}));
}

TEST(TensorOps, WhereAndComparisons) {
  OneOp w("Where", 16, {{"c", Make<bool>({2, 1}, {true, false})}, {"x", Make<uint16_t>({2}, {1, 2})},
                        {"y", Make<uint16_t>({}, {9})}});
  EXPECT_EQ(Values<uint16_t>(w.Run()[0]), (std::vector<uint16_t>{1, 2, 9, 9}));
  OneOp le("LessOrEqual", 16, {{"a", Make<uint64_t>({3}, {1, 2, 3})}, {"b", Make<uint64_t>({}, {2})}});
  EXPECT_EQ(Values<bool>(le.Run()[0]), (std::vector<bool>{true, true, false}));
  OneOp x("Xor", 13, {{"a", Make<bool>({2}, {true, false})}, {"b", Make<bool>({2, 1}, {true, false})}});
  EXPECT_EQ(Values<bool>(x.Run()[0]), (std::vector<bool>{false, true, true, false}));
}

TEST(TensorOps, DropoutAtInferenceIsTheIdentityWithATrueMask) {
  OneOp op("Dropout", 13, {{"x", Make<float>({3}, {1, 2, 3})}}, {{"r", Make<float>({}, {0.5f})}}, 2);
  auto y = op.Run();
  EXPECT_EQ(Values<float>(y[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(Values<bool>(y[1]), (std::vector<bool>{true, true, true}));
}

TEST(TensorOps, SeededTrainingDropoutDrawsLikeNumpy) {
  // np.random.seed(0); np.random.uniform(size=4) = 0.5488, 0.7152, 0.6028, 0.5449: with ratio 0.6 the
  // middle two are kept and scaled by 1 / (1 - 0.6) in float (as numpy does); the same on every run.
  OneOp op("Dropout", 13, {{"x", Make<float>({4}, {1, 2, 3, 4})}},
           {{"r", Make<float>({}, {0.6f})}, {"t", Make<bool>({}, {true})}}, 2);
  op.attrs().SetInt("seed", 0);
  auto s = Session::FromGraph(std::move(op.g), OneThread());
  const float scale = 1.0f / (1.0f - 0.6f);
  for (int run = 0; run < 2; ++run) {
    auto y = s->Run(op.feeds);
    EXPECT_EQ(Values<float>(y[0]), (std::vector<float>{0, 2 * scale, 3 * scale, 0}));
    EXPECT_EQ(Values<bool>(y[1]), (std::vector<bool>{false, true, true, false}));
  }
}

TEST(TensorOps, ExpandTileConstantOfShape) {
  OneOp e("Expand", 13, {{"x", Make<int16_t>({2, 1}, {1, 2})}}, {{"s", Make<int64_t>({3}, {2, 1, 3})}});
  auto y = e.Run();
  EXPECT_EQ(y[0].shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(Values<int16_t>(y[0]), (std::vector<int16_t>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  OneOp t("Tile", 13, {{"x", Make<int16_t>({2}, {1, 2})}}, {{"r", Make<int64_t>({1}, {2})}});
  EXPECT_EQ(Values<int16_t>(t.Run()[0]), (std::vector<int16_t>{1, 2, 1, 2}));
  OneOp c("ConstantOfShape", 21, {{"s", Make<int64_t>({2}, {1, 2})}});
  Attribute v;
  v.kind = Attribute::Kind::kTensor;
  v.t = Make<int32_t>({1}, {-4});
  c.attrs().Set("value", v);
  auto z = c.Run();
  EXPECT_EQ(z[0].dtype(), DType::kInt32);
  EXPECT_EQ(Values<int32_t>(z[0]), (std::vector<int32_t>{-4, -4}));
}

// ---- errors name the node ---------------------------------------------------------------

TEST(TensorOpErrors, ShapeMismatches) {
  OneOp reshape("Reshape", 21, {{"x", Tensor(DType::kFloat32, {2, 3})}}, {{"s", Make<int64_t>({2}, {4, -1})}});
  ExpectError(reshape, "cannot reshape [2,3]");
  OneOp two("Reshape", 21, {{"x", Tensor(DType::kFloat32, {2, 3})}}, {{"s", Make<int64_t>({2}, {-1, -1})}});
  ExpectError(two, "more than one -1");
  OneOp cat("Concat", 13, {{"a", Tensor(DType::kFloat32, {2, 3})}, {"b", Tensor(DType::kFloat32, {3, 3})}});
  cat.attrs().SetInt("axis", 1);
  ExpectError(cat, "does not match input 0");
  OneOp expand("Expand", 13, {{"x", Tensor(DType::kFloat32, {3})}}, {{"s", Make<int64_t>({1}, {4})}});
  ExpectError(expand, "cannot expand [3] to [4]");
  OneOp split("Split", 13, {{"x", Tensor(DType::kFloat32, {5})}}, {{"s", Make<int64_t>({2}, {2, 2})}}, 2);
  ExpectError(split, "sums to 4");
  OneOp where("Where", 16, {{"c", Tensor(DType::kBool, {2})}, {"x", Tensor(DType::kFloat32, {3})},
                            {"y", Tensor(DType::kFloat32, {3})}});
  ExpectError(where, "cannot be broadcast");
  OneOp tile("Tile", 13, {{"x", Tensor(DType::kFloat32, {3})}}, {{"r", Make<int64_t>({2}, {1, 1})}});
  ExpectError(tile, "repeats has 2 entries");
}

TEST(TensorOpErrors, AxesOutOfRange) {
  OneOp concat("Concat", 13, {{"a", Tensor(DType::kFloat32, {2})}});
  concat.attrs().SetInt("axis", 1);
  ExpectError(concat, "axis 1 is out of range");
  OneOp gather("Gather", 13, {{"x", Tensor(DType::kFloat32, {2})}, {"i", Make<int64_t>({1}, {0})}});
  gather.attrs().SetInt("axis", -2);
  ExpectError(gather, "axis -2 is out of range");
  OneOp squeeze("Squeeze", 13, {{"x", Tensor(DType::kFloat32, {2, 1})}}, {{"a", Make<int64_t>({1}, {0})}});
  ExpectError(squeeze, "its size is not 1");
  OneOp unsq("Unsqueeze", 13, {{"x", Tensor(DType::kFloat32, {2})}}, {{"a", Make<int64_t>({2}, {0, -3})}});
  ExpectError(unsq, "more than once");
  OneOp slice("Slice", 13, {{"x", Tensor(DType::kFloat32, {2})}},
              {{"st", Make<int64_t>({1}, {0})}, {"en", Make<int64_t>({1}, {1})}, {"ax", Make<int64_t>({1}, {1})}});
  ExpectError(slice, "axes 1 is out of range");
  OneOp step("Slice", 13, {{"x", Tensor(DType::kFloat32, {2})}},
             {{"st", Make<int64_t>({1}, {0})}, {"en", Make<int64_t>({1}, {1})}, {"", Tensor()},
              {"sp", Make<int64_t>({1}, {0})}});
  ExpectError(step, "steps must not be 0");
  OneOp arg("ArgMax", 13, {{"x", Tensor(DType::kFloat32, {2, 0})}});
  arg.attrs().SetInt("axis", 1);
  ExpectError(arg, "empty axis");
  OneOp flat("Flatten", 13, {{"x", Tensor(DType::kFloat32, {2, 3})}});
  flat.attrs().SetInt("axis", 3);
  ExpectError(flat, "axis 3 is out of range");
}

TEST(TensorOpErrors, BadAttributes) {
  OneOp perm("Transpose", 21, {{"x", Tensor(DType::kFloat32, {2, 3})}});
  perm.attrs().SetInts("perm", {0, 0});
  ExpectError(perm, "is not a permutation");
  OneOp mode("Pad", 19, {{"x", Tensor(DType::kFloat32, {2})}}, {{"p", Make<int64_t>({2}, {1, 1})}});
  mode.attrs().SetString("mode", "mirror");
  ExpectError(mode, "mode must be constant, reflect, edge or wrap");
  OneOp cast("Cast", 21, {{"x", Tensor(DType::kFloat32, {2})}});
  cast.attrs().SetInt("to", 8);
  ExpectError(cast, "cannot cast to STRING");
  OneOp axis("Concat", 13, {{"x", Tensor(DType::kFloat32, {2})}});
  axis.attrs().SetString("axis", "zero");  // wrong attribute kind
  ExpectError(axis, "attribute 'axis' has the wrong type");
  OneOp noaxis("Concat", 13, {{"x", Tensor(DType::kFloat32, {2})}});
  ExpectError(noaxis, "'axis' attribute is required");
  OneOp num("Split", 18, {{"x", Tensor(DType::kFloat32, {4})}}, {}, 2);
  num.attrs().SetInt("num_outputs", 3);
  ExpectError(num, "num_outputs is 3 but the node has 2 outputs");
  OneOp reflect("Pad", 19, {{"x", Tensor(DType::kFloat32, {0})}}, {{"p", Make<int64_t>({2}, {1, 1})}});
  reflect.attrs().SetString("mode", "reflect");
  ExpectError(reflect, "cannot pad an empty axis");
  OneOp pads("Pad", 19, {{"x", Tensor(DType::kFloat32, {2})}}, {{"p", Make<int64_t>({2}, {-2, -1})}});
  ExpectError(pads, "to a negative size");
  OneOp arity("Reshape", 21, {{"x", Tensor(DType::kFloat32, {2})}});
  ExpectError(arity, "has 1 inputs, expected 2");
  OneOp empty("Concat", 13, {{"x", Tensor(DType::kFloat32, {2})}}, {{"", Tensor()}});
  empty.attrs().SetInt("axis", 0);
  ExpectError(empty, "input 1 is required but was left empty");
  OneOp range("Range", 11, {{"s", Make<int32_t>({}, {0})}}, {{"l", Make<int32_t>({}, {3})}, {"d", Make<int32_t>({}, {0})}});
  ExpectError(range, "delta must not be 0");
}

}  // namespace
}  // namespace nibble
