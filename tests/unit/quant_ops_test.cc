// The ONNX quantization operators (QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, QLinearConv, QLinearMatMul, MatMulInteger,
// ConvInteger) through small one-node sessions: numbers worked out by hand
// (the working is in the comments), per-axis / per-channel / per-row cases,
// and malformed scale and zero-point inputs, which must fail naming the node,
// at session creation when they are initializers and at run time otherwise.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nibble/session.h"
#include "test_util.h"

namespace nibble {
namespace {

template <class T>
Tensor Make(Shape s, std::vector<T> v) {
  Tensor t(DTypeOf<T>(), std::move(s));
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  std::copy(v.begin(), v.end(), t.data<T>());
  return t;
}
Tensor F32(Shape s, std::vector<float> v) {
  return Make<float>(std::move(s), std::move(v));
}
Tensor U8(Shape s, std::vector<uint8_t> v) {
  return Make<uint8_t>(std::move(s), std::move(v));
}
Tensor I8(Shape s, std::vector<int8_t> v) {
  return Make<int8_t>(std::move(s), std::move(v));
}
Tensor I32(Shape s, std::vector<int32_t> v) {
  return Make<int32_t>(std::move(s), std::move(v));
}

template <class T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// One node named "node_<Op>" reading inputs in0, in1, ... (an empty Tensor
// leaves that input out); `constant` marks inputs that become initializers.
struct OneOp {
  Graph g;
  int node;
  std::vector<std::pair<std::string, Tensor>> feeds;

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
  // Runtime inputs of unknown shape, so shape checks can only happen when running.
  OneOp& Undeclared() {
    for (int v : g.inputs) g.values[v].has_shape = false;
    return *this;
  }
  std::vector<Tensor> Run(int threads = 1) {
    SessionOptions o;
    o.threads = threads;
    auto s = Session::FromGraph(g, o);
    return s->Run(feeds);
  }
};

// Every input a runtime input / every input but x an initializer.
std::vector<bool> AllButFirstConstant(size_t n) {
  std::vector<bool> c(n, true);
  c[0] = false;
  return c;
}

void ExpectMessage(const Error& e, const std::string& what) {
  const std::string msg = e.what();
  EXPECT_NE(msg.find("node 'node_"), std::string::npos) << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "expected '" << what << "' in: " << msg;
}

// Fails while the session is made (the parameters are initializers).
void ExpectCreateError(const OneOp& op, const std::string& what) {
  try {
    Session::FromGraph(op.g);
    ADD_FAILURE() << "expected an error at session creation containing '" << what << "'";
  } catch (const Error& e) {
    ExpectMessage(e, what);
  }
}

// Session creation succeeds; the run fails (the parameters are runtime inputs).
void ExpectRunError(const OneOp& op, const std::string& what) {
  std::unique_ptr<Session> s;
  try {
    s = Session::FromGraph(op.g);
  } catch (const Error& e) {
    ADD_FAILURE() << "session creation failed, the run was expected to: " << e.what();
    return;
  }
  try {
    s->Run(op.feeds);
    ADD_FAILURE() << "expected an error at run time containing '" << what << "'";
  } catch (const Error& e) {
    ExpectMessage(e, what);
  }
}

// ---------------------------------------------------------------- QuantizeLinear

TEST(QuantizeLinearOp, PerTensorUint8RoundsHalfToEvenAndSaturates) {
  // x / 2 = 0, 0.5, 1.25, 1.5, 2.5, -0.5, -1.5, 300, -300 -> round half to even
  // 0, 0, 1, 2, 2, -0, -2, 300, -300 -> + 128, saturated to [0, 255].
  for (bool constant : {false, true}) {
    OneOp op("QuantizeLinear", 13, {F32({9}, {0, 1, 2.5f, 3, 5, -1, -3, 600, -600}), F32({}, {2.f}), U8({}, {128})}, 1,
             {false, constant, constant});
    Tensor y = op.Run()[0];
    ASSERT_EQ(y.dtype(), DType::kUInt8);
    EXPECT_EQ(Values<uint8_t>(y), (std::vector<uint8_t>{128, 128, 129, 130, 130, 128, 126, 255, 0}));
  }
}

TEST(QuantizeLinearOp, Int8FromZeroPointTypeAndUint8Default) {
  // int8, zp -1: 1/2 = 0.5 -> 0 -> -1; -3/2 = -1.5 -> -2 -> -3; 1000/2 - 1 -> 127.
  OneOp op("QuantizeLinear", 13, {F32({3}, {1, -3, 1000}), F32({}, {2.f}), I8({}, {-1})}, 1);
  Tensor y = op.Run()[0];
  ASSERT_EQ(y.dtype(), DType::kInt8);
  EXPECT_EQ(Values<int8_t>(y), (std::vector<int8_t>{-1, -3, 127}));
  // No zero point: uint8 with zero point 0; negatives saturate to 0.
  OneOp d("QuantizeLinear", 13, {F32({3}, {-4, 3, 7}), F32({}, {2.f})}, 1);
  Tensor u = d.Run()[0];
  ASSERT_EQ(u.dtype(), DType::kUInt8);
  EXPECT_EQ(Values<uint8_t>(u), (std::vector<uint8_t>{0, 2, 4}));  // 1.5 -> 2, 3.5 -> 4
}

TEST(QuantizeLinearOp, OutputDtypeAttributeAndInt16) {
  // opset 21 output_dtype = 5 (INT16) without a zero point: 100000 / 0.5 -> 32767, -1.25 / 0.5 = -2.5 -> -2.
  OneOp op("QuantizeLinear", 21, {F32({2}, {100000, -1.25f}), F32({}, {0.5f})}, 1);
  op.attrs().SetInt("output_dtype", 5);
  Tensor y = op.Run()[0];
  ASSERT_EQ(y.dtype(), DType::kInt16);
  EXPECT_EQ(Values<int16_t>(y), (std::vector<int16_t>{32767, -2}));
}

TEST(QuantizeLinearOp, PerAxis) {
  // x [2, 3], axis 1, scale [1, 2, 4], zp [0, 10, 20]:
  // row 0: 1/1 = 1 -> 1; 2/2 = 1 -> 11; 4/4 = 1 -> 21
  // row 1: -1 -> 0 (saturated); 3/2 = 1.5 -> 2 -> 12; 8/4 = 2 -> 22
  for (bool constant : {false, true}) {
    OneOp op("QuantizeLinear", 13, {F32({2, 3}, {1, 2, 4, -1, 3, 8}), F32({3}, {1, 2, 4}), U8({3}, {0, 10, 20})}, 1,
             {false, constant, constant});
    EXPECT_EQ(Values<uint8_t>(op.Run(2)[0]), (std::vector<uint8_t>{1, 11, 21, 0, 12, 22}));
  }
  // axis -2 of [3, 2] (= axis 0): scale [1, 10, 100]; 5/10 = 0.5 -> 0, 15/10 = 1.5 -> 2, 250/100 = 2.5 -> 2.
  OneOp a("QuantizeLinear", 13, {F32({3, 2}, {1, 2, 5, 15, 250, 350}), F32({3}, {1, 10, 100}), I8({3}, {0, 0, 0})}, 1);
  a.attrs().SetInt("axis", -2);
  EXPECT_EQ(Values<int8_t>(a.Run()[0]), (std::vector<int8_t>{1, 2, 0, 2, 2, 4}));
}

TEST(QuantizeLinearOp, BadScalesFailNamingTheNode) {
  const std::vector<std::pair<float, const char*>> bad = {
      {0.f, "y_scale = 0 is not a finite positive number"},
      {-1.f, "y_scale = -1 is not a finite positive number"},
      {std::numeric_limits<float>::quiet_NaN(), "is not a finite positive number"},
      {std::numeric_limits<float>::infinity(), "y_scale = inf is not a finite positive number"}};
  for (const auto& [s, what] : bad) {
    OneOp c("QuantizeLinear", 13, {F32({2}, {1, 2}), F32({}, {s}), U8({}, {0})}, 1, {false, true, true});
    ExpectCreateError(c, what);
    OneOp r("QuantizeLinear", 13, {F32({2}, {1, 2}), F32({}, {s}), U8({}, {0})}, 1);
    ExpectRunError(r, what);
  }
  // One bad entry of a per-axis scale names its index.
  OneOp p("QuantizeLinear", 13, {F32({1, 3}, {1, 2, 3}), F32({3}, {1, 0, 1}), U8({3}, {0, 0, 0})}, 1,
          {false, true, true});
  ExpectCreateError(p, "y_scale[1] = 0 is not a finite positive number");
}

TEST(QuantizeLinearOp, PerAxisLengthMismatch) {
  // Two scales for three channels: an initializer fails at creation (x's shape is declared).
  OneOp c("QuantizeLinear", 13, {F32({1, 3}, {1, 2, 3}), F32({2}, {1, 1}), U8({2}, {0, 0})}, 1, {false, true, true});
  ExpectCreateError(c, "y_scale has 2 values but the input has 3 along axis 1");
  // Runtime inputs: at creation when their shapes are declared, else when running.
  OneOp r("QuantizeLinear", 13, {F32({1, 3}, {1, 2, 3}), F32({4}, {1, 1, 1, 1}), U8({4}, {0, 0, 0, 0})}, 1);
  ExpectCreateError(r, "y_scale has 4 values but the input has 3 along axis 1");
  ExpectRunError(r.Undeclared(), "y_scale has 4 values but the input has 3 along axis 1");
}

TEST(QuantizeLinearOp, ZeroPointShapeMismatch) {
  OneOp c("QuantizeLinear", 13, {F32({1, 3}, {1, 2, 3}), F32({3}, {1, 1, 1}), U8({2}, {0, 0})}, 1, {false, true, true});
  ExpectCreateError(c, "y_zero_point has shape [2] but y_scale has shape [3]");
  OneOp r("QuantizeLinear", 13, {F32({1, 3}, {1, 2, 3}), F32({}, {1}), U8({3}, {0, 0, 0})}, 1);
  ExpectCreateError(r, "y_zero_point has shape [3] but y_scale has shape []");
  ExpectRunError(r.Undeclared(), "y_zero_point has shape [3] but y_scale has shape []");
}

TEST(QuantizeLinearOp, UnsupportedFormsAreClearErrors) {
  OneOp b("QuantizeLinear", 21, {F32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), F32({2, 2}, {1, 1, 1, 1})}, 1);
  b.attrs().SetInt("axis", 1);
  b.attrs().SetInt("block_size", 2);
  ExpectCreateError(b, "blocked quantization (block_size 2) is not supported");
  OneOp f8("QuantizeLinear", 21, {F32({2}, {1, 2}), F32({}, {1})}, 1);
  f8.attrs().SetInt("output_dtype", 17);
  ExpectCreateError(f8, "is a float8 type");
  OneOp i4("QuantizeLinear", 21, {F32({2}, {1, 2}), F32({}, {1})}, 1);
  i4.attrs().SetInt("output_dtype", 22);
  ExpectCreateError(i4, "4-bit type");
  OneOp mismatch("QuantizeLinear", 21, {F32({2}, {1, 2}), F32({}, {1}), U8({}, {0})}, 1);
  mismatch.attrs().SetInt("output_dtype", 3);
  ExpectRunError(mismatch, "output_dtype is int8 but y_zero_point is uint8");
}

// ---------------------------------------------------------------- DequantizeLinear

TEST(DequantizeLinearOp, PerTensorUint8AndInt32) {
  // (q - 128) * 0.5: 0 -> -64, 128 -> 0, 255 -> 63.5.
  OneOp op("DequantizeLinear", 13, {U8({3}, {0, 128, 255}), F32({}, {0.5f}), U8({}, {128})}, 1);
  Tensor y = op.Run()[0];
  ASSERT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_EQ(Values<float>(y), (std::vector<float>{-64, 0, 63.5f}));
  // int32 (a bias), no zero point: -1000 * 0.5 = -500, 7 * 0.5 = 3.5.
  OneOp b("DequantizeLinear", 13, {I32({2}, {-1000, 7}), F32({}, {0.5f})}, 1);
  EXPECT_EQ(Values<float>(b.Run()[0]), (std::vector<float>{-500, 3.5f}));
  // int32 with a non-zero zero point is refused, as ONNX defines int32 with zero point 0.
  OneOp z("DequantizeLinear", 13, {I32({2}, {-1000, 7}), F32({}, {0.5f}), I32({}, {3})}, 1);
  ExpectRunError(z, "x_zero_point 3 for int32 input");
}

TEST(DequantizeLinearOp, PerAxisInt8) {
  // x [2, 2], axis 0, scale [2, 0.25], zp [-128, 1]:
  // row 0: (-128 + 128) * 2 = 0, (0 + 128) * 2 = 256; row 1: (5 - 1) * 0.25 = 1, (127 - 1) * 0.25 = 31.5.
  for (bool constant : {false, true}) {
    OneOp op("DequantizeLinear", 13, {I8({2, 2}, {-128, 0, 5, 127}), F32({2}, {2, 0.25f}), I8({2}, {-128, 1})}, 1,
             {false, constant, constant});
    op.attrs().SetInt("axis", 0);
    EXPECT_EQ(Values<float>(op.Run()[0]), (std::vector<float>{0, 256, 1, 31.5f}));
  }
}

TEST(DequantizeLinearOp, MalformedParametersFailNamingTheNode) {
  for (float s : {0.f, -2.f, std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    OneOp c("DequantizeLinear", 13, {U8({2}, {1, 2}), F32({}, {s}), U8({}, {0})}, 1, {false, true, true});
    ExpectCreateError(c, "x_scale = ");
    OneOp r("DequantizeLinear", 13, {U8({2}, {1, 2}), F32({}, {s}), U8({}, {0})}, 1);
    ExpectRunError(r, "is not a finite positive number");
  }
  OneOp len("DequantizeLinear", 13, {U8({2, 3}, {1, 2, 3, 4, 5, 6}), F32({2}, {1, 1}), U8({2}, {0, 0})}, 1,
            {false, true, true});
  ExpectCreateError(len, "x_scale has 2 values but the input has 3 along axis 1");
  OneOp zp("DequantizeLinear", 13, {U8({2, 3}, {1, 2, 3, 4, 5, 6}), F32({3}, {1, 1, 1}), U8({}, {0})}, 1,
           {false, true, true});
  ExpectCreateError(zp, "x_zero_point has shape [] but x_scale has shape [3]");
  OneOp type("DequantizeLinear", 13, {U8({2}, {1, 2}), F32({}, {1}), I8({}, {0})}, 1);
  ExpectRunError(type, "x_zero_point has type int8 but x is uint8");
  OneOp old("DequantizeLinear", 11, {U8({1, 3}, {1, 2, 3}), F32({3}, {1, 1, 1}), U8({3}, {0, 0, 0})}, 1);
  ExpectCreateError(old, "per-axis quantization");
  ExpectRunError(old.Undeclared(), "needs opset 13 or later");
}

// ---------------------------------------------------------------- DynamicQuantizeLinear

TEST(DynamicQuantizeLinearOp, RangeIncludesZeroAndZeroPointRoundsHalfToEven) {
  // Range [-127.5, 127.5]: scale 255 / 255 = 1, zero point 127.5 -> 128 (half to even).
  // y = rint(x) + 128: -127.5 -> -128 + 128 = 0; 0.5 -> 0 + 128; 1.5 -> 2 + 128; 127.5 -> 128 + 128 -> 255.
  OneOp op("DynamicQuantizeLinear", 11, {F32({4}, {-127.5f, 0.5f, 1.5f, 127.5f})}, 3);
  auto out = op.Run();
  EXPECT_EQ(Values<uint8_t>(out[0]), (std::vector<uint8_t>{0, 128, 130, 255}));
  EXPECT_EQ(out[1].data<float>()[0], 1.f);
  EXPECT_EQ(out[2].data<uint8_t>()[0], 128);
  // All positive: the range is [0, 255], scale 1, zero point 0.
  OneOp pos("DynamicQuantizeLinear", 11, {F32({3}, {2.5f, 100.4f, 255})}, 3);
  auto p = pos.Run();
  EXPECT_EQ(Values<uint8_t>(p[0]), (std::vector<uint8_t>{2, 100, 255}));
  EXPECT_EQ(p[2].data<uint8_t>()[0], 0);
  // A NaN has no scale.
  OneOp nan("DynamicQuantizeLinear", 11, {F32({2}, {1, std::numeric_limits<float>::quiet_NaN()})}, 3);
  ExpectRunError(nan, "x[1] = nan");
}

// ---------------------------------------------------------------- QLinearConv

// x uint8 [1,1,3,3] (zp 10, scale 0.5), w int8 [2,1,2,2] per channel (scale [0.25, 0.5], zp [0, 2]),
// bias [8, -4], y uint8 (scale 1, zp 5).
std::vector<Tensor> ConvInputs() {
  return {U8({1, 1, 3, 3}, {10, 12, 14, 11, 13, 15, 10, 10, 20}),
          F32({}, {0.5f}),
          U8({}, {10}),
          I8({2, 1, 2, 2}, {1, -1, 2, 0, 3, 2, 2, 4}),
          F32({2}, {0.25f, 0.5f}),
          I8({2}, {0, 2}),
          F32({}, {1.f}),
          U8({}, {5}),
          I32({2}, {8, -4})};
}

TEST(QLinearConvOp, PerChannelByHand) {
  // x - 10 = [[0,2,4],[1,3,5],[0,0,10]].
  // channel 0: w - 0 = [[1,-1],[2,0]]: windows give 0, 4, -2, -2; + 8 = 8, 12, 6, 6;
  //   * (0.5 * 0.25 / 1 = 0.125) = 1, 1.5, 0.75, 0.75 -> 1, 2, 1, 1 -> + 5 = 6, 7, 6, 6.
  // channel 1: w - 2 = [[1,0],[0,2]]: windows give 6, 12, 1, 23; - 4 = 2, 8, -3, 19;
  //   * 0.25 = 0.5, 2, -0.75, 4.75 -> 0 (half to even), 2, -1, 5 -> + 5 = 5, 7, 4, 10.
  for (bool constant : {false, true}) {
    OneOp op("QLinearConv", 13, ConvInputs(), 1, constant ? AllButFirstConstant(9) : std::vector<bool>{});
    Tensor y = op.Run(2)[0];
    ASSERT_EQ(y.dtype(), DType::kUInt8);
    ASSERT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
    EXPECT_EQ(Values<uint8_t>(y), (std::vector<uint8_t>{6, 7, 6, 6, 5, 7, 4, 10}));
  }
}

// One session, inputs of several sizes in turn (the kernel keeps the
// parameters of the last shape it ran): each run equals a fresh session's.
TEST(QLinearConvOp, NewInputSizesInOneSessionMatchFreshSessions) {
  auto image = [](int64_t h, int64_t w, uint32_t seed) {
    std::vector<uint8_t> v(static_cast<size_t>(2 * h * w));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 37 + seed * 11) % 251);
    return U8({1, 2, h, w}, v);
  };
  std::vector<Tensor> in = {image(5, 6, 0), F32({}, {0.5f}), U8({}, {10}),
                            I8({3, 2, 3, 3}, {1, -1, 2, 0, 3, 2, 2, 4, -3, 5, 1, 0, -2, 2, 1, 1, 0, 3,
                                              2, 2, -1, 0, 1, 4, -4, 1, 0, 3, 1, 2, 0, -1, 1, 2, 2, 1,
                                              0, 1, 1, -2, 3, 0, 2, 1, 1, 4, 0, 2, -1, 1, 0, 2, 3, 1}),
                            F32({3}, {0.25f, 0.5f, 0.125f}), I8({3}, {0, 0, 0}), F32({}, {1.f}), U8({}, {5}),
                            I32({3}, {8, -4, 100})};
  OneOp op("QLinearConv", 13, in, 1, AllButFirstConstant(9));
  op.attrs().SetInts("pads", {1, 1, 1, 1});
  op.Undeclared();
  auto shared = Session::FromGraph(op.g);
  const std::vector<Tensor> xs = {image(5, 6, 1), image(9, 4, 2), image(5, 6, 3), image(3, 3, 4)};
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::vector<Tensor> got = shared->Run({{"in0", xs[i]}});
    const std::vector<Tensor> want = Session::FromGraph(op.g)->Run({{"in0", xs[i]}});
    ASSERT_EQ(got[0].shape(), want[0].shape()) << "run " << i;
    EXPECT_TRUE(testing::SameTensor(got[0], want[0])) << "run " << i;
  }
}

TEST(QLinearConvOp, PaddingReadsTheZeroPointAndInt8OutputSaturates) {
  // x int8 [1,1,1,2] = [3, 5] (zp 3 -> 0, 2), w int8 1x1x1x3 = [1, 1, 1] (zp 0), pads 1 left/right in W:
  // windows over [pad, 0, 2, pad]: 0 + 0 + 2 = 2 and 0 + 2 + 0 = 2; * (1 * 1 / 0.01 = 100) = 200 -> int8 127.
  // y_zp -100: 200 - 100 = 100.
  std::vector<Tensor> in = {
      I8({1, 1, 1, 2}, {3, 5}), F32({}, {1}), I8({}, {3}), I8({1, 1, 1, 3}, {1, 1, 1}), F32({}, {1}), I8({}, {0}),
      F32({}, {0.01f}),         I8({}, {0})};
  OneOp op("QLinearConv", 13, in, 1);
  op.attrs().SetInts("pads", {0, 1, 0, 1});
  EXPECT_EQ(Values<int8_t>(op.Run()[0]), (std::vector<int8_t>{127, 127}));
  in[7] = I8({}, {-100});
  OneOp z("QLinearConv", 13, in, 1);
  z.attrs().SetInts("pads", {0, 1, 0, 1});
  EXPECT_EQ(Values<int8_t>(z.Run()[0]), (std::vector<int8_t>{100, 100}));
}

TEST(QLinearConvOp, MalformedParametersFailNamingTheNode) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // Each scale input, each bad value: at creation (initializers) and at run time (inputs).
  for (int idx : {1, 4, 6}) {
    const char* name = idx == 1 ? "x_scale" : idx == 4 ? "w_scale" : "y_scale";
    for (float s : {0.f, -0.5f, nan, inf}) {
      std::vector<Tensor> in = ConvInputs();
      in[idx] = idx == 4 ? F32({2}, {0.25f, s}) : F32({}, {s});
      OneOp c("QLinearConv", 13, in, 1, AllButFirstConstant(9));
      ExpectCreateError(c, Cat(name, idx == 4 ? "[1]" : "", " = "));
      OneOp r("QLinearConv", 13, in, 1);
      ExpectRunError(r, "is not a finite positive number");
    }
  }
  // Per-channel scale of the wrong length (3 for 2 output channels).
  std::vector<Tensor> in = ConvInputs();
  in[4] = F32({3}, {1, 1, 1});
  in[5] = I8({3}, {0, 0, 0});
  ExpectCreateError(OneOp("QLinearConv", 13, in, 1, AllButFirstConstant(9)),
                    "w_scale has shape [3]; expected one value (per tensor) or 2 (one per output channel)");
  ExpectCreateError(OneOp("QLinearConv", 13, in, 1), "w_scale has shape [3]");
  ExpectRunError(OneOp("QLinearConv", 13, in, 1).Undeclared(), "w_scale has shape [3]");
  // Zero point shape differs from its scale's.
  in = ConvInputs();
  in[5] = I8({}, {0});
  ExpectCreateError(OneOp("QLinearConv", 13, in, 1, AllButFirstConstant(9)),
                    "w_zero_point has shape [] but w_scale has shape [2]");
  ExpectRunError(OneOp("QLinearConv", 13, in, 1).Undeclared(), "w_zero_point has shape [] but w_scale has shape [2]");
  // x's parameters are per tensor only.
  in = ConvInputs();
  in[1] = F32({2}, {1, 1});
  in[2] = U8({2}, {0, 0});
  ExpectCreateError(OneOp("QLinearConv", 13, in, 1, AllButFirstConstant(9)), "x_scale must hold one value");
  // A product of valid scales that overflows float32.
  in = ConvInputs();
  in[1] = F32({}, {1e30f});
  in[4] = F32({2}, {1e30f, 1});
  ExpectRunError(OneOp("QLinearConv", 13, in, 1), "overflows float32");
  // Bias of the wrong length.
  in = ConvInputs();
  in[8] = I32({3}, {0, 0, 0});
  ExpectCreateError(OneOp("QLinearConv", 13, in, 1, AllButFirstConstant(9)), "B has shape [3], expected [2]");
}

// ---------------------------------------------------------------- ConvInteger

TEST(ConvIntegerOp, PerChannelWeightZeroPoint) {
  // x uint8 [[1,2],[3,4]] - 1 = [[0,1],[2,3]]; 1x1 weights [3, 0] - zp [1, -1] = [2, 1].
  OneOp op("ConvInteger", 13, {U8({1, 1, 2, 2}, {1, 2, 3, 4}), I8({2, 1, 1, 1}, {3, 0}), U8({}, {1}), I8({2}, {1, -1})},
           1);
  Tensor y = op.Run()[0];
  ASSERT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{0, 2, 4, 6, 0, 1, 2, 3}));
  // No zero points at all; 2x2 kernel of ones over 2..10 with pad 1 (ONNX's convinteger_with_padding).
  OneOp pad("ConvInteger", 13,
            {U8({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10}), U8({1, 1, 2, 2}, {1, 1, 1, 1}), U8({}, {1})}, 1);
  pad.attrs().SetInts("pads", {1, 1, 1, 1});
  EXPECT_EQ(Values<int32_t>(pad.Run()[0]),
            (std::vector<int32_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}));
}

TEST(ConvIntegerOp, MalformedZeroPoints) {
  ExpectCreateError(OneOp("ConvInteger", 13,
                          {U8({1, 1, 2, 2}, {1, 2, 3, 4}), I8({2, 1, 1, 1}, {3, 0}), U8({}, {1}), I8({3}, {1, -1, 0})},
                          1, {false, true, true, true}),
                    "w_zero_point has shape [3]; expected one value (per tensor) or 2");
  ExpectRunError(
      OneOp("ConvInteger", 13, {U8({1, 1, 2, 2}, {1, 2, 3, 4}), I8({2, 1, 1, 1}, {3, 0}), U8({2}, {1, 1})}, 1)
          .Undeclared(),
      "x_zero_point must hold one value");
}

// ---------------------------------------------------------------- MatMulInteger

TEST(MatMulIntegerOp, PerRowAndPerColumnZeroPoints) {
  // A int8 [[1,2],[3,4]] - per-row [1, 2] = [[0,1],[1,2]];
  // B uint8 [[5,6,7],[8,9,10]] - per-column [5, 0, 10] = [[0,6,-3],[3,9,0]].
  // Y = [[3, 9, 0], [6, 24, -3]].
  for (bool constant : {false, true}) {
    OneOp op("MatMulInteger", 13,
             {I8({2, 2}, {1, 2, 3, 4}), U8({2, 3}, {5, 6, 7, 8, 9, 10}), I8({2}, {1, 2}), U8({3}, {5, 0, 10})}, 1,
             {false, constant, constant, constant});
    Tensor y = op.Run()[0];
    ASSERT_EQ(y.dtype(), DType::kInt32);
    EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{3, 9, 0, 6, 24, -3}));
  }
}

TEST(MatMulIntegerOp, BatchedPerRowZeroPointAndBroadcastB) {
  // A [2,2,2]: batch 0 as above with zp [[1],[2]]; batch 1 = [[0,0],[1,1]] with zp [[0],[1]] -> all zero.
  OneOp op("MatMulInteger", 13,
           {I8({2, 2, 2}, {1, 2, 3, 4, 0, 0, 1, 1}), U8({2, 3}, {5, 6, 7, 8, 9, 10}), I8({2, 2, 1}, {1, 2, 0, 1}),
            U8({1, 3}, {5, 0, 10})},
           1);
  EXPECT_EQ(Values<int32_t>(op.Run(2)[0]), (std::vector<int32_t>{3, 9, 0, 6, 24, -3, 0, 0, 0, 0, 0, 0}));
}

TEST(MatMulIntegerOp, MalformedZeroPoints) {
  ExpectCreateError(OneOp("MatMulInteger", 13,
                          {U8({2, 2}, {1, 2, 3, 4}), U8({2, 3}, {1, 2, 3, 4, 5, 6}), U8({}, {0}), U8({2}, {0, 0})}, 1,
                          {false, true, true, true}),
                    "b_zero_point has shape [2] but its operand has shape [2,3]");
  ExpectRunError(
      OneOp("MatMulInteger", 13, {U8({2, 2}, {1, 2, 3, 4}), U8({2, 3}, {1, 2, 3, 4, 5, 6}), U8({1, 2}, {0, 0})}, 1)
          .Undeclared(),
      "a_zero_point has shape [1,2]");
}

// ---------------------------------------------------------------- QLinearMatMul

// a uint8 [2,3] (scale 0.5, zp 1), b int8 [3,2] per column (scale [1, 0.25], zp [0, -2]), y int8 (scale 0.5, zp -3).
std::vector<Tensor> MatMulInputs() {
  return {U8({2, 3}, {1, 2, 3, 4, 0, 1}), F32({}, {0.5f}),  U8({}, {1}),     I8({3, 2}, {1, 2, 0, -2, -1, 0}),
          F32({2}, {1, 0.25f}),           I8({2}, {0, -2}), F32({}, {0.5f}), I8({}, {-3})};
}

TEST(QLinearMatMulOp, PerColumnByHand) {
  // a - 1 = [[0,1,2],[3,-1,0]]; b - zp: column 0 [1,0,-1], column 1 [4,0,2].
  // acc = [[-2, 4], [3, 12]]; multipliers: column 0 0.5 * 1 / 0.5 = 1, column 1 0.25.
  // [[-2, 1], [3, 3]] + (-3) = [[-5, -2], [0, 0]].
  for (bool constant : {false, true}) {
    OneOp op("QLinearMatMul", 13, MatMulInputs(), 1, constant ? AllButFirstConstant(8) : std::vector<bool>{});
    Tensor y = op.Run()[0];
    ASSERT_EQ(y.dtype(), DType::kInt8);
    EXPECT_EQ(Values<int8_t>(y), (std::vector<int8_t>{-5, -2, 0, 0}));
  }
}

TEST(QLinearMatMulOp, TiesRoundHalfToEvenAndOutputSaturates) {
  // a uint8 [1,4] (zp 0, scale 1) times b = ones [4,1] (zp 0, scale 1), then / y_scale (powers of two
  // and 0.01, so only the last multiplier is inexact):
  // acc 6 / 4 = 1.5 -> 2; acc 2 / 4 = 0.5 -> 0; acc 5 / 2 = 2.5 -> 2; acc 6 / 0.01 = 600 -> 255.
  struct Case {
    std::vector<uint8_t> a;
    float y_scale;
    uint8_t want;
  };
  for (const Case& c : std::vector<Case>{
           {{1, 1, 1, 3}, 4.f, 2}, {{1, 1, 0, 0}, 4.f, 0}, {{1, 1, 1, 2}, 2.f, 2}, {{1, 1, 1, 3}, 0.01f, 255}}) {
    OneOp op("QLinearMatMul", 13,
             {U8({1, 4}, c.a), F32({}, {1}), U8({}, {0}), U8({4, 1}, {1, 1, 1, 1}), F32({}, {1}), U8({}, {0}),
              F32({}, {c.y_scale}), U8({}, {0})},
             1);
    EXPECT_EQ(Values<uint8_t>(op.Run()[0]), std::vector<uint8_t>{c.want}) << "y_scale " << c.y_scale;
  }
}

TEST(QLinearMatMulOp, PerRowAScale) {
  // a per row: scale [1, 2], zp [0, 1]; a = [[2],[3]] -> [[2],[2]]; b = [[5]] (scale 1, zp 0);
  // acc = [10, 10]; * [1, 2] / y_scale 4 = 2.5 -> 2, 5 -> 5.
  OneOp op("QLinearMatMul", 13,
           {U8({2, 1}, {2, 3}), F32({2}, {1, 2}), U8({2}, {0, 1}), U8({1, 1}, {5}), F32({}, {1}), U8({}, {0}),
            F32({}, {4}), U8({}, {0})},
           1);
  EXPECT_EQ(Values<uint8_t>(op.Run()[0]), (std::vector<uint8_t>{2, 5}));
}

TEST(QLinearMatMulOp, MalformedParametersFailNamingTheNode) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int idx : {1, 4, 6}) {
    for (float s : {0.f, -1.f, nan, inf}) {
      std::vector<Tensor> in = MatMulInputs();
      in[idx] = idx == 4 ? F32({2}, {s, 1}) : F32({}, {s});
      ExpectCreateError(OneOp("QLinearMatMul", 13, in, 1, AllButFirstConstant(8)), "is not a finite positive number");
      ExpectRunError(OneOp("QLinearMatMul", 13, in, 1), "is not a finite positive number");
    }
  }
  std::vector<Tensor> in = MatMulInputs();
  in[4] = F32({3}, {1, 1, 1});
  in[5] = I8({3}, {0, 0, 0});
  ExpectCreateError(OneOp("QLinearMatMul", 13, in, 1, AllButFirstConstant(8)),
                    "b_scale has shape [3] but its operand has shape [3,2]");
  ExpectRunError(OneOp("QLinearMatMul", 13, in, 1).Undeclared(), "b_scale has shape [3]");
  in = MatMulInputs();
  in[5] = I8({}, {0});
  ExpectCreateError(OneOp("QLinearMatMul", 13, in, 1, AllButFirstConstant(8)),
                    "b_zero_point has shape [] but b_scale has shape [2]");
  in = MatMulInputs();
  in[6] = F32({2}, {1, 1});
  in[7] = I8({2}, {0, 0});
  ExpectCreateError(OneOp("QLinearMatMul", 13, in, 1, AllButFirstConstant(8)), "y_scale must hold one value");
}

}  // namespace
}  // namespace nibble
