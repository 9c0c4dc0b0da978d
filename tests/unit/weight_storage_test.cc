// Weight codes at rest (onnx/weight_storage.h): int8 -> Clip -> DQ chains
// written as ONNX INT4 or bit-packed behind ai.nibble.UnpackBits read back to
// the same codes, shrink with the width, compute the same, and malformed
// packed nodes fail naming the node.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <functional>
#include <random>

#include "nibble/error.h"
#include "nibble/session.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "onnx/weight_storage.h"
#include "test_util.h"

namespace nibble {
namespace {

using testing::AddInput;
using testing::AddOp;
using testing::RandomTensor;
using testing::SameTensor;

constexpr int kOnnxInt4 = 22;

struct Width {
  int lo, hi;  // Clip bounds
  bool pm1;    // codes -1/+1 only (bipolar)
};

Tensor Codes(Shape s, const Width& w, uint32_t seed) {
  Tensor t(DType::kInt8, s);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(w.lo, w.hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int v = u(rng);
    if (w.pm1) v = (rng() & 1) ? 1 : -1;
    t.data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  t.data<int8_t>()[0] = static_cast<int8_t>(w.pm1 ? -1 : w.lo);  // both bounds present
  t.data<int8_t>()[1] = static_cast<int8_t>(w.pm1 ? 1 : w.hi);
  return t;
}

Tensor Int8Scalar(int v) {
  Tensor t(DType::kInt8, {});
  *t.data<int8_t>() = static_cast<int8_t>(v);
  return t;
}

// y = x @ DQ(Clip(codes, lo, hi)) with per-column scales; codes [K, N].
Graph WeightGraph(const Tensor& codes, const Width& w, int64_t opset) {
  Graph g;
  g.opset = opset;
  g.path = "weights.onnx";
  const int64_t k = codes.dim(0), n = codes.dim(1);
  AddInput(g, "x", DType::kFloat32, {3, k});
  g.AddConstant("w_codes", codes);
  g.AddConstant("w_lo", Int8Scalar(w.lo));
  g.AddConstant("w_hi", Int8Scalar(w.hi));
  g.AddConstant("w_scale", RandomTensor({n}, 5, 0.01f, 0.1f));
  g.AddConstant("w_zero", Tensor(DType::kInt8, {n}));
  AddOp(g, "Clip", {"w_codes", "w_lo", "w_hi"}, {"w_clipped"}, "w_Clip");
  const int dq = AddOp(g, "DequantizeLinear", {"w_clipped", "w_scale", "w_zero"}, {"w"}, "w_DQ");
  g.nodes[dq].attrs.SetInt("axis", 1);
  AddOp(g, "MatMul", {"x", "w"}, {"y"}, "mm");
  const int y = g.FindValue("y");
  g.values[y].dtype = DType::kFloat32;
  g.outputs.push_back(y);
  return g;
}

std::vector<Tensor> RunOnce(const Graph& g) {
  auto s = Session::FromGraph(g);
  return s->Run({{"x", RandomTensor(g.values[g.inputs[0]].shape, 11)}});
}

const Tensor& DqCodes(const Graph& g) {
  for (const Node& n : g.nodes)
    if (n.op_type == "DequantizeLinear") return g.values[n.inputs[0]].constant;
  ADD_FAILURE() << "no DequantizeLinear";
  static Tensor none;
  return none;
}

void ExpectSameCodes(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.AsInt64(i), b.AsInt64(i)) << i;
}

struct Case {
  Width w;
  int packed_bits;  // bits per code in the packed form
};

const Case kCases[] = {{{-1, 1, true}, 1}, {{-1, 1, false}, 2}, {{-3, 3, false}, 3}, {{-7, 7, false}, 4}, {{-8, 7, false}, 4}};

TEST(WeightStorage, PackedCodesReadBackIdenticalAtTheirWidth) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "bounds [" << c.w.lo << ", " << c.w.hi << "] pm1 " << c.w.pm1);
    const Tensor codes = Codes({37, 9}, c.w, 3);  // 333 codes: the last byte is partly used
    Graph g = WeightGraph(codes, c.w, 17);
    const auto want = RunOnce(g);
    ExportOptions eo;
    const WeightStorageReport r = StoreWeightsCompactly(g, WeightStorage::kPacked, eo);
    EXPECT_EQ(r.packed, 1);
    EXPECT_TRUE(r.note.empty()) << r.note;
    EXPECT_EQ(g.opset, 17);  // no INT4, no opset change
    const std::string bytes = ExportOnnxBytes(g, eo);
    onnx::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(bytes));
    int unpack = 0, clips = 0;
    for (const auto& n : m.graph().node()) {
      unpack += n.op_type() == "UnpackBits" && n.domain() == kNibbleDomain;
      clips += n.op_type() == "Clip";
    }
    EXPECT_EQ(unpack, 1);
    EXPECT_EQ(clips, 0);
    bool found = false;
    for (const auto& init : m.graph().initializer()) {
      if (init.name().find("packed") == std::string::npos) continue;
      found = true;
      EXPECT_EQ(static_cast<int64_t>(init.raw_data().size()), (333 * c.packed_bits + 7) / 8);
    }
    EXPECT_TRUE(found);
    Graph back = ImportOnnxBytes(bytes.data(), bytes.size(), "packed.onnx", "");
    ExpectSameCodes(DqCodes(back), codes);
    const auto got = RunOnce(back);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_TRUE(SameTensor(got[0], want[0]));
  }
}

TEST(WeightStorage, Int4WritesOnnxInt4AtOpset21) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "bounds [" << c.w.lo << ", " << c.w.hi << "]");
    const Tensor codes = Codes({37, 9}, c.w, 4);
    Graph g = WeightGraph(codes, c.w, 17);
    const auto want = RunOnce(g);
    ExportOptions eo;
    const WeightStorageReport r = StoreWeightsCompactly(g, WeightStorage::kInt4, eo);
    EXPECT_EQ(r.int4, 1);
    EXPECT_EQ(g.opset, 21);
    const std::string bytes = ExportOnnxBytes(g, eo);
    onnx::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(bytes));
    int int4 = 0;
    for (const auto& init : m.graph().initializer()) {
      if (init.data_type() != kOnnxInt4) continue;
      ++int4;
      int64_t numel = 1;
      for (int64_t d : init.dims()) numel *= d;
      EXPECT_EQ(static_cast<int64_t>(init.raw_data().size()), (numel + 1) / 2);
    }
    EXPECT_EQ(int4, 2);  // the codes and their zero point
    for (const auto& n : m.graph().node()) EXPECT_NE(n.op_type(), "Clip");
    Graph back = ImportOnnxBytes(bytes.data(), bytes.size(), "int4.onnx", "");
    EXPECT_EQ(back.opset, 21);
    ExpectSameCodes(DqCodes(back), codes);
    EXPECT_TRUE(SameTensor(RunOnce(back)[0], want[0]));

    // Read back, it packs again (convert int4 -> packed) with no Clip to go by.
    ExportOptions eo2;
    EXPECT_EQ(StoreWeightsCompactly(back, WeightStorage::kPacked, eo2).packed, 1);
    const std::string bytes2 = ExportOnnxBytes(back, eo2);
    Graph again = ImportOnnxBytes(bytes2.data(), bytes2.size(), "again.onnx", "");
    ExpectSameCodes(DqCodes(again), codes);
  }
}

TEST(WeightStorage, WiderCodesAndInt8StorageAreLeftAlone) {
  const Width w8{-127, 127, false}, w5{-15, 15, false};
  for (const Width& w : {w8, w5}) {
    Graph g = WeightGraph(Codes({16, 4}, w, 5), w, 17);
    ExportOptions eo;
    const WeightStorageReport r = StoreWeightsCompactly(g, WeightStorage::kInt4, eo);
    EXPECT_EQ(r.int4 + r.packed, 0);
    EXPECT_TRUE(eo.int4_initializers.empty());
    EXPECT_EQ(g.opset, 17);
    EXPECT_EQ(g.nodes.size(), 3u);
  }
  const Width w2{-1, 1, false};
  Graph g = WeightGraph(Codes({16, 4}, w2, 5), w2, 17);
  ExportOptions eo;
  EXPECT_EQ(StoreWeightsCompactly(g, WeightStorage::kInt8, eo).int4, 0);
  EXPECT_EQ(g.nodes.size(), 3u);
}

TEST(WeightStorage, Int4IsNotForcedOnGraphsWhoseOpsChangeAt21) {
  const Width w{-7, 7, false};
  {
    Graph g = WeightGraph(Codes({8, 4}, w, 6), w, 13);
    const int r = AddOp(g, "ReduceMean", {"y"}, {"m"}, "mean");
    g.nodes[r].attrs.SetInts("axes", {1});  // an input from opset 18 on
    g.outputs = {g.FindValue("m")};
    ExportOptions eo;
    const WeightStorageReport rep = StoreWeightsCompactly(g, WeightStorage::kInt4, eo);
    EXPECT_EQ(rep.int4, 0);
    EXPECT_NE(rep.note.find("'mean' (ReduceMean)"), std::string::npos) << rep.note;
    EXPECT_EQ(g.opset, 13);
    EXPECT_TRUE(eo.int4_initializers.empty());
    // The packed form needs no opset change.
    EXPECT_EQ(StoreWeightsCompactly(g, WeightStorage::kPacked, eo).packed, 1);
  }
  {
    Graph g = WeightGraph(Codes({8, 4}, w, 6), w, 11);
    ExportOptions eo;
    const WeightStorageReport rep = StoreWeightsCompactly(g, WeightStorage::kInt4, eo);
    EXPECT_EQ(rep.int4, 0);
    EXPECT_NE(rep.note.find("opset 11"), std::string::npos) << rep.note;
  }
}

// A model whose only node is ai.nibble.UnpackBits over `bytes` packed bytes.
std::string UnpackModel(int64_t bytes, const std::function<void(onnx::NodeProto&)>& edit) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* d = m.add_opset_import();
  d->set_domain(kNibbleDomain);
  d->set_version(1);
  auto* g = m.mutable_graph();
  auto* init = g->add_initializer();
  init->set_name("p");
  init->set_data_type(onnx::TensorProto::UINT8);
  init->add_dims(bytes);
  init->set_raw_data(std::string(static_cast<size_t>(bytes), '\x55'));
  auto* n = g->add_node();
  n->set_name("unpack");
  n->set_op_type("UnpackBits");
  n->set_domain(kNibbleDomain);
  n->add_input("p");
  n->add_output("codes");
  auto attr = [&](const char* k, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  };
  attr("bits", 2);
  attr("narrow", 0);
  auto* k = n->add_attribute();
  k->set_name("kind");
  k->set_type(onnx::AttributeProto::STRING);
  k->set_s("int");
  auto* s = n->add_attribute();
  s->set_name("shape");
  s->set_type(onnx::AttributeProto::INTS);
  s->add_ints(4);
  s->add_ints(bytes);  // 4 * bytes two-bit codes fill `bytes` bytes exactly
  edit(*n);
  auto* out = g->add_output();
  out->set_name("codes");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT8);
  return m.SerializeAsString();
}

void SetAttr(onnx::NodeProto& n, const std::string& name, const std::function<void(onnx::AttributeProto&)>& f) {
  for (auto& a : *n.mutable_attribute())
    if (a.name() == name) f(a);
}

std::string ImportError(const std::string& bytes) {
  try {
    ImportOnnxBytes(bytes.data(), bytes.size(), "bad.onnx", "");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WeightStorage, UnpackBitsNodeIsFoldedAtImport) {
  const std::string ok = UnpackModel(6, [](onnx::NodeProto&) {});
  Graph g = ImportOnnxBytes(ok.data(), ok.size(), "ok.onnx", "");
  EXPECT_TRUE(g.nodes.empty());
  const Tensor& t = g.values[g.outputs[0]].constant;
  ASSERT_EQ(t.shape(), (Shape{4, 6}));
  // 0x55 = 01 01 01 01: every 2-bit code is 1, least significant bits first.
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data<int8_t>()[i], 1);
}

TEST(WeightStorage, MalformedUnpackBitsFailsNamingTheNode) {
  struct Bad {
    const char* what;
    std::function<void(onnx::NodeProto&)> edit;
    const char* message;
  };
  const std::vector<Bad> bad = {
      {"bits 0", [](onnx::NodeProto& n) { SetAttr(n, "bits", [](auto& a) { a.set_i(0); }); }, "outside 1..8"},
      {"bits 9", [](onnx::NodeProto& n) { SetAttr(n, "bits", [](auto& a) { a.set_i(9); }); }, "outside 1..8"},
      {"kind", [](onnx::NodeProto& n) { SetAttr(n, "kind", [](auto& a) { a.set_s("float"); }); }, "kind 'float'"},
      {"short", [](onnx::NodeProto& n) { SetAttr(n, "shape", [](auto& a) { a.set_ints(1, 5); }); }, "packs into 5 bytes"},
      {"long", [](onnx::NodeProto& n) { SetAttr(n, "shape", [](auto& a) { a.set_ints(1, 7); }); }, "packs into 7 bytes"},
      {"huge", [](onnx::NodeProto& n) { SetAttr(n, "shape", [](auto& a) { a.set_ints(1, int64_t{1} << 40); }); },
       "more than 6 bytes can hold"},
      {"negative", [](onnx::NodeProto& n) { SetAttr(n, "shape", [](auto& a) { a.set_ints(1, -6); }); }, "negative"},
      {"no shape",
       [](onnx::NodeProto& n) {
         auto* attrs = n.mutable_attribute();
         for (int i = 0; i < attrs->size(); ++i)
           if (attrs->Get(i).name() == "shape") attrs->DeleteSubrange(i, 1);
       },
       "no shape"},
      {"input", [](onnx::NodeProto& n) { n.set_input(0, "missing"); }, "not produced"},
  };
  for (const Bad& b : bad) {
    const std::string msg = ImportError(UnpackModel(6, b.edit));
    EXPECT_NE(msg.find("'unpack'"), std::string::npos) << b.what << ": " << msg;
    EXPECT_NE(msg.find(b.message), std::string::npos) << b.what << ": " << msg;
  }
  // A ternary pattern 10 (-2) is not a valid narrow 2-bit code.
  const std::string narrow = UnpackModel(6, [](onnx::NodeProto& n) {
    SetAttr(n, "narrow", [](auto& a) { a.set_i(1); });
  });
  std::string bytes = narrow;
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(6, '\xAA'));  // 10 10 10 10
  const std::string msg = ImportError(m.SerializeAsString());
  EXPECT_NE(msg.find("'unpack'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace nibble
