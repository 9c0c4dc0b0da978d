// The ONNX exporter: import -> export -> import gives the same graph (names,
// attributes, bit-exact constants, inputs and outputs) and the same numbers;
// fused activations come back as explicit nodes; external data round-trips;
// the same graph always gives the same bytes.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <unistd.h>

#include "nibble/session.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "runtime/optimize.h"
#include "test_util.h"

namespace nibble {
namespace {
namespace fs = std::filesystem;
using testing::AddInput;
using testing::AddOp;
using testing::RandomTensor;

const fs::path kModels = fs::path(__FILE__).parent_path().parent_path().parent_path() / "models";

Graph RoundTrip(const Graph& g, const ExportOptions& o = {}) {
  std::string bytes = ExportOnnxBytes(g, o);
  return ImportOnnxBytes(bytes.data(), bytes.size(), "exported.onnx", "");
}

onnx::ModelProto Parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

// A fresh, empty folder under the system temp dir, removed at scope end.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("nibble_export_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

using testing::SameTensor;

std::string Name(const Graph& g, int v) { return v < 0 ? "" : g.values[v].name; }

void ExpectSameAttribute(const Attribute& a, const Attribute& b, const std::string& what) {
  ASSERT_EQ(a.kind, b.kind) << what;
  switch (a.kind) {
    case Attribute::Kind::kFloat: EXPECT_EQ(std::memcmp(&a.f, &b.f, sizeof a.f), 0) << what; break;
    case Attribute::Kind::kInt: EXPECT_EQ(a.i, b.i) << what; break;
    case Attribute::Kind::kString: EXPECT_EQ(a.s, b.s) << what; break;
    case Attribute::Kind::kTensor: EXPECT_TRUE(SameTensor(a.t, b.t)) << what; break;
    case Attribute::Kind::kFloats: EXPECT_EQ(a.floats, b.floats) << what; break;
    case Attribute::Kind::kInts: EXPECT_EQ(a.ints, b.ints) << what; break;
    case Attribute::Kind::kStrings: EXPECT_EQ(a.strings, b.strings) << what; break;
  }
}

void ExpectSameValueType(const Value& a, const Value& b) {
  EXPECT_EQ(a.dtype, b.dtype) << a.name;
  EXPECT_EQ(a.has_shape, b.has_shape) << a.name;
  if (!a.has_shape || !b.has_shape) return;
  EXPECT_EQ(a.shape, b.shape) << a.name;
  for (size_t i = 0; i < a.shape.size(); ++i) {
    std::string pa = i < a.dim_params.size() ? a.dim_params[i] : "";
    std::string pb = i < b.dim_params.size() ? b.dim_params[i] : "";
    EXPECT_EQ(pa, pb) << a.name << " dim " << i;
  }
}

// Same nodes (names, ops, domains, wiring, attributes), constants (bit-exact),
// inputs and outputs (with types). Node names are compared when `names` is set.
void ExpectSameGraph(const Graph& a, const Graph& b, bool names = true) {
  EXPECT_EQ(a.opset, b.opset);
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node &x = a.nodes[i], &y = b.nodes[i];
    std::string what = "node " + std::to_string(i) + " '" + x.name + "'";
    if (names) {
      EXPECT_EQ(x.name, y.name) << what;
    }
    EXPECT_EQ(x.op_type, y.op_type) << what;
    EXPECT_EQ(x.domain, y.domain) << what;
    EXPECT_EQ(x.fused.kind, y.fused.kind) << what;
    ASSERT_EQ(x.inputs.size(), y.inputs.size()) << what;
    for (size_t k = 0; k < x.inputs.size(); ++k) {
      EXPECT_EQ(Name(a, x.inputs[k]), Name(b, y.inputs[k])) << what << " input " << k;
      if (x.inputs[k] >= 0 && a.values[x.inputs[k]].is_constant()) {
        ASSERT_TRUE(b.values[y.inputs[k]].is_constant()) << what << " input " << k;
        EXPECT_TRUE(SameTensor(a.values[x.inputs[k]].constant, b.values[y.inputs[k]].constant))
            << what << " input " << k;
      }
    }
    ASSERT_EQ(x.outputs.size(), y.outputs.size()) << what;
    for (size_t k = 0; k < x.outputs.size(); ++k)
      EXPECT_EQ(Name(a, x.outputs[k]), Name(b, y.outputs[k])) << what << " output " << k;
    ASSERT_EQ(x.attrs.all().size(), y.attrs.all().size()) << what;
    for (const auto& [name, attr] : x.attrs.all()) {
      ASSERT_TRUE(y.attrs.Has(name)) << what << " attribute " << name;
      ExpectSameAttribute(attr, y.attrs.all().at(name), what + " attribute " + name);
    }
  }
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t k = 0; k < a.inputs.size(); ++k) {
    EXPECT_EQ(Name(a, a.inputs[k]), Name(b, b.inputs[k]));
    ExpectSameValueType(a.values[a.inputs[k]], b.values[b.inputs[k]]);
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t k = 0; k < a.outputs.size(); ++k) {
    EXPECT_EQ(Name(a, a.outputs[k]), Name(b, b.outputs[k]));
    if (!a.values[a.outputs[k]].is_constant()) ExpectSameValueType(a.values[a.outputs[k]], b.values[b.outputs[k]]);
  }
}

// Runs the graph on seeded random inputs (dynamic dims = 2).
std::vector<Tensor> RunGraph(const Graph& g, bool optimize, uint32_t seed = 7) {
  SessionOptions so;
  so.optimize = optimize;
  auto s = Session::FromGraph(g, so);
  std::vector<std::pair<std::string, Tensor>> feeds;
  for (const IoInfo& in : s->inputs()) {
    Shape shape = in.shape;
    for (int64_t& d : shape)
      if (d < 0) d = 2;
    feeds.emplace_back(in.name, RandomTensor(shape, seed++));
  }
  return s->Run(feeds);
}

void ExpectBitIdentical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(SameTensor(a[i], b[i])) << "output " << i;
}

// y = Gemm(Flatten(Conv(x, w, b))) with a dynamic batch named "N".
Graph SmallCnn() {
  Graph g;
  g.opset = 17;
  g.name = "small_cnn";
  int x = AddInput(g, "x", DType::kFloat32, {-1, 2, 5, 5});
  g.values[x].dim_params[0] = "N";
  g.AddConstant("w", RandomTensor({3, 2, 3, 3}, 1));
  g.AddConstant("b", RandomTensor({3}, 2));
  int conv = AddOp(g, "Conv", {"x", "w", "b"}, {"c"}, "conv");
  g.nodes[conv].attrs.SetInts("pads", {1, 1, 1, 1});
  g.nodes[conv].attrs.SetInts("kernel_shape", {3, 3});
  AddOp(g, "Flatten", {"c"}, {"f"}, "flatten");
  g.AddConstant("fc.w", RandomTensor({4, 75}, 3));
  g.AddConstant("fc.b", RandomTensor({4}, 4));
  int gemm = AddOp(g, "Gemm", {"f", "fc.w", "fc.b"}, {"y"}, "fc");
  g.nodes[gemm].attrs.SetInt("transB", 1);
  g.nodes[gemm].attrs.SetFloat("alpha", 1.0f);
  int y = g.FindValue("y");
  g.values[y].dtype = DType::kFloat32;
  g.values[y].has_shape = true;
  g.values[y].shape = {-1, 4};
  g.values[y].dim_params = {"N", ""};
  g.outputs.push_back(y);
  return g;
}

TEST(OnnxExport, BuiltGraphRoundTripsAndComputesTheSame) {
  Graph g = SmallCnn();
  Graph back = RoundTrip(g);
  ExpectSameGraph(g, back);
  EXPECT_EQ(back.name, "small_cnn");
  ExpectBitIdentical(RunGraph(g, true), RunGraph(back, true));
}

TEST(OnnxExport, ModelFieldsOpsetsAndIrVersion) {
  Graph g = SmallCnn();
  ExportOptions o;
  o.doc_string = "a small CNN";
  o.metadata_props = {{"nibble.node.conv", "int8 per-channel"}, {"a", "b"}};
  onnx::ModelProto m = Parse(ExportOnnxBytes(g, o));
  EXPECT_EQ(m.producer_name(), "nibble");
  EXPECT_FALSE(m.producer_version().empty());
  EXPECT_EQ(m.doc_string(), "a small CNN");
  EXPECT_EQ(m.ir_version(), 8);
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).domain(), "");
  EXPECT_EQ(m.opset_import(0).version(), 17);
  ASSERT_EQ(m.metadata_props_size(), 2);
  EXPECT_EQ(m.metadata_props(0).key(), "nibble.node.conv");
  EXPECT_EQ(m.metadata_props(0).value(), "int8 per-channel");
  EXPECT_EQ(m.metadata_props(1).key(), "a");
  // Initializers use raw_data; graph inputs list no initializer.
  ASSERT_EQ(m.graph().initializer_size(), 4);
  for (const auto& t : m.graph().initializer()) {
    EXPECT_TRUE(t.has_raw_data()) << t.name();
    EXPECT_EQ(t.float_data_size(), 0) << t.name();
  }
  ASSERT_EQ(m.graph().input_size(), 1);
  const auto& dims = m.graph().input(0).type().tensor_type().shape().dim();
  ASSERT_EQ(dims.size(), 4);
  EXPECT_EQ(dims[0].dim_param(), "N");
  EXPECT_EQ(dims[1].dim_value(), 2);

  EXPECT_EQ(IrVersionForOpset(11), 6);
  EXPECT_EQ(IrVersionForOpset(13), 7);
  EXPECT_EQ(IrVersionForOpset(17), 8);
  EXPECT_EQ(IrVersionForOpset(18), 8);
  EXPECT_EQ(IrVersionForOpset(19), 9);
  EXPECT_EQ(IrVersionForOpset(20), 9);
  EXPECT_EQ(IrVersionForOpset(21), 10);
  EXPECT_EQ(IrVersionForOpset(22), 10);
  g.opset = 21;
  EXPECT_EQ(Parse(ExportOnnxBytes(g)).ir_version(), 10);
  o.ir_version = 9;
  EXPECT_EQ(Parse(ExportOnnxBytes(g, o)).ir_version(), 9);
}

TEST(OnnxExport, UnknownDimsAndValueInfo) {
  Graph g;
  g.opset = 17;
  int x = AddInput(g, "x", DType::kFloat32, {-1, -1, 4});
  g.values[x].dim_params = {"batch", "", ""};
  AddOp(g, "Relu", {"x"}, {"r"}, "relu");
  AddOp(g, "Neg", {"r"}, {"y"}, "neg");
  int r = g.FindValue("r");
  g.values[r].dtype = DType::kFloat32;
  g.values[r].has_shape = true;
  g.values[r].shape = {-1, -1, 4};
  g.values[r].dim_params = {"batch", "", ""};
  g.outputs.push_back(g.FindValue("y"));
  g.values[g.outputs[0]].dtype = DType::kFloat32;  // type known, shape not

  onnx::ModelProto m = Parse(ExportOnnxBytes(g));
  const auto& in = m.graph().input(0).type().tensor_type().shape();
  ASSERT_EQ(in.dim_size(), 3);
  EXPECT_EQ(in.dim(0).dim_param(), "batch");
  EXPECT_FALSE(in.dim(1).has_dim_value());
  EXPECT_FALSE(in.dim(1).has_dim_param());
  EXPECT_EQ(in.dim(2).dim_value(), 4);
  ASSERT_EQ(m.graph().value_info_size(), 1);
  EXPECT_EQ(m.graph().value_info(0).name(), "r");
  EXPECT_EQ(m.graph().value_info(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  const auto& out = m.graph().output(0).type().tensor_type();
  EXPECT_EQ(out.elem_type(), onnx::TensorProto::FLOAT);
  EXPECT_FALSE(out.has_shape());

  Graph back = RoundTrip(g);
  ExpectSameGraph(g, back);
  ExpectSameValueType(g.values[r], back.values[back.FindValue("r")]);

  ExportOptions no_vi;
  no_vi.value_info = false;
  EXPECT_EQ(Parse(ExportOnnxBytes(g, no_vi)).graph().value_info_size(), 0);
}

// Every dtype nibble holds, with awkward bit patterns, read by a custom-domain
// node that also carries every attribute kind.
TEST(OnnxExport, EveryDtypeAndAttributeKindIsBitExact) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {2});
  std::vector<std::string> names;
  auto add = [&](const std::string& name, DType t, Shape s, const std::vector<uint8_t>& bytes) {
    Tensor c(t, s);
    ASSERT_EQ(c.nbytes(), bytes.size()) << name;
    if (!bytes.empty()) std::memcpy(c.raw(), bytes.data(), bytes.size());
    g.AddConstant(name, c);
    names.push_back(name);
  };
  float f32[3] = {-0.0f, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity()};
  uint32_t nan_payload = 0x7fc12345u;
  std::vector<uint8_t> fb(16);
  std::memcpy(fb.data(), f32, 12);
  std::memcpy(fb.data() + 12, &nan_payload, 4);
  add("f32", DType::kFloat32, {2, 2}, fb);
  double f64[2] = {-1e300, 5e-324};
  add("f64", DType::kFloat64, {2}, std::vector<uint8_t>((uint8_t*)f64, (uint8_t*)f64 + 16));
  add("f16", DType::kFloat16, {3}, {0x00, 0x3c, 0x01, 0x7e, 0x00, 0x80});  // 1.0, a NaN payload, -0
  add("i8", DType::kInt8, {3}, {0x80, 0x7f, 0xff});
  add("u8", DType::kUInt8, {2}, {0x00, 0xff});
  add("i16", DType::kInt16, {2}, {0x00, 0x80, 0xff, 0x7f});
  add("u16", DType::kUInt16, {1}, {0xff, 0xff});
  add("i32", DType::kInt32, {2}, {0, 0, 0, 0x80, 1, 2, 3, 4});
  add("u32", DType::kUInt32, {1}, {0xff, 0xff, 0xff, 0xff});
  add("i64", DType::kInt64, {1}, {1, 0, 0, 0, 0, 0, 0, 0x80});
  add("u64", DType::kUInt64, {1}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  add("bool", DType::kBool, {4}, {1, 0, 0, 1});
  add("scalar", DType::kInt64, {}, {42, 0, 0, 0, 0, 0, 0, 0});
  add("empty", DType::kFloat32, {0, 3}, {});
  std::vector<std::string> ins = {"x"};
  ins.insert(ins.end(), names.begin(), names.end());
  ins.push_back("");  // an omitted optional input
  int n = AddOp(g, "Probe", ins, {"y", "aux"}, "probe");
  g.nodes[n].domain = "com.example";
  Attributes& a = g.nodes[n].attrs;
  a.SetFloat("f", -0.0f);
  a.SetInt("i", std::numeric_limits<int64_t>::min());
  a.SetString("s", std::string("bytes\0and\xff", 10));
  a.SetFloats("fs", {1.5f, -2.f, std::numeric_limits<float>::infinity()});
  a.SetInts("is", {-1, 0, std::numeric_limits<int64_t>::max()});
  Attribute strs;
  strs.kind = Attribute::Kind::kStrings;
  strs.strings = {"a", "", "c"};
  a.Set("ss", strs);
  Attribute ta;
  ta.kind = Attribute::Kind::kTensor;
  ta.t = g.values[g.FindValue("f16")].constant;
  a.Set("t", ta);
  Attribute empty_ints;
  empty_ints.kind = Attribute::Kind::kInts;
  a.Set("no_ints", empty_ints);
  g.outputs.push_back(g.FindValue("y"));
  g.outputs.push_back(g.FindValue("bool"));  // a constant as a graph output

  ExportOptions o;
  o.domain_versions["com.example"] = 3;
  std::string bytes = ExportOnnxBytes(g, o);
  onnx::ModelProto m = Parse(bytes);
  ASSERT_EQ(m.opset_import_size(), 2);
  EXPECT_EQ(m.opset_import(1).domain(), "com.example");
  EXPECT_EQ(m.opset_import(1).version(), 3);
  EXPECT_EQ(m.graph().node(0).domain(), "com.example");
  EXPECT_EQ(Parse(ExportOnnxBytes(g)).opset_import(1).version(), 1);  // unlisted domains get 1

  Graph back = ImportOnnxBytes(bytes.data(), bytes.size(), "exported.onnx", "");
  ExpectSameGraph(g, back);
  for (const auto& name : names) {
    int v = back.FindValue(name);
    ASSERT_GE(v, 0) << name;
    ASSERT_TRUE(back.values[v].is_constant()) << name;
    EXPECT_TRUE(SameTensor(g.values[g.FindValue(name)].constant, back.values[v].constant)) << name;
  }
  EXPECT_TRUE(back.values[back.outputs[1]].is_constant());
}

TEST(OnnxExport, OnlyReferencedConstantsBecomeInitializers) {
  Graph g = SmallCnn();
  g.AddConstant("unused", RandomTensor({100}, 9));
  onnx::ModelProto m = Parse(ExportOnnxBytes(g));
  for (const auto& t : m.graph().initializer()) EXPECT_NE(t.name(), "unused");
  EXPECT_EQ(m.graph().initializer_size(), 4);
}

TEST(OnnxExport, EmptyNodeNamesBecomeUniqueAndOthersAreKept) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {4});
  AddOp(g, "Relu", {"x"}, {"a"}, "unnamed");
  AddOp(g, "Relu", {"a"}, {"b"}, "keep.me");
  AddOp(g, "Relu", {"b"}, {"c"}, "unnamed");
  AddOp(g, "Relu", {"c"}, {"y"}, "Relu_0");  // what node 0 would be called
  g.nodes[0].name = "";
  g.nodes[2].name = "";
  g.outputs.push_back(g.FindValue("y"));
  onnx::ModelProto m = Parse(ExportOnnxBytes(g));
  std::set<std::string> seen;
  for (const auto& n : m.graph().node()) {
    EXPECT_FALSE(n.name().empty());
    EXPECT_TRUE(seen.insert(n.name()).second) << "duplicate node name " << n.name();
  }
  EXPECT_EQ(m.graph().node(0).name(), "Relu_0_1");
  EXPECT_EQ(m.graph().node(1).name(), "keep.me");
  EXPECT_EQ(m.graph().node(2).name(), "Relu_2");
  EXPECT_EQ(m.graph().node(3).name(), "Relu_0");
}

TEST(OnnxExport, DuplicateAndEmptyValueNamesAreMadeUnique) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {4});
  AddOp(g, "Relu", {"x"}, {"a"}, "r1");
  AddOp(g, "Neg", {"a"}, {"b"}, "r2");
  AddOp(g, "Abs", {"b"}, {"y"}, "r3");
  g.outputs.push_back(g.FindValue("y"));
  Graph clean = g;
  g.values[g.FindValue("a")].name = "";   // a pass left a value unnamed
  g.values[g.FindValue("b")].name = "x";  // and another with a clashing name
  Graph back = RoundTrip(g);
  ASSERT_EQ(back.nodes.size(), 3u);
  std::set<std::string> names;
  for (const Value& v : back.values) EXPECT_TRUE(names.insert(v.name).second) << v.name;
  EXPECT_EQ(Name(back, back.inputs[0]), "x");
  EXPECT_EQ(Name(back, back.outputs[0]), "y");
  ExpectBitIdentical(RunGraph(clean, false), RunGraph(back, false));
}

TEST(OnnxExport, NodesOutOfOrderAreWrittenSorted) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {4});
  AddOp(g, "Neg", {"a"}, {"y"}, "second");
  AddOp(g, "Relu", {"x"}, {"a"}, "first");
  g.outputs.push_back(g.FindValue("y"));
  onnx::ModelProto m = Parse(ExportOnnxBytes(g));
  ASSERT_EQ(m.graph().node_size(), 2);
  EXPECT_EQ(m.graph().node(0).name(), "first");
  EXPECT_EQ(m.graph().node(1).name(), "second");
}

void ExpectExportError(const Graph& g, const std::string& part, const ExportOptions& o = {}) {
  try {
    ExportOnnxBytes(g, o);
    ADD_FAILURE() << "no error, expected: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(OnnxExport, RefusesWhatItCannotWriteFaithfully) {
  {
    Graph g;
    g.opset = 17;
    g.path = "broken.onnx";
    AddInput(g, "x", DType::kFloat32, {4});
    AddOp(g, "Add", {"x", "ghost"}, {"y"}, "add");
    g.outputs.push_back(g.FindValue("y"));
    ExpectExportError(g, "broken.onnx: node 'add' (Add): cannot export: input 'ghost' is defined by no node");
  }
  {
    Graph g = SmallCnn();
    QuantParams q;
    q.scale = {0.5f};
    q.zero_point = {0};
    g.values[g.FindValue("c")].quant = q;
    ExpectExportError(g, "value 'c' carries quantization parameters");
  }
  {
    Graph g = SmallCnn();
    g.values[g.inputs[0]].dtype = DType::kUndefined;
    ExpectExportError(g, "graph input 'x' has no element type");
  }
  {
    Graph g = SmallCnn();
    g.opset = 0;
    ExpectExportError(g, "no default-domain opset");
  }
  ExportOptions ext;
  ext.external_data_threshold = 0;
  ExpectExportError(SmallCnn(), "use ExportOnnxFile", ext);
}

TEST(OnnxExport, SameGraphSameBytes) {
  Graph g = ImportOnnxFile((kModels / "fashion_cnn.onnx").string());
  OptimizeGraph(g);
  ExportOptions o;
  o.metadata_props = {{"k", "v"}};
  std::string a = ExportOnnxBytes(g, o);
  std::string b = ExportOnnxBytes(g, o);
  EXPECT_EQ(a, b);
  Graph copy = g;
  EXPECT_EQ(ExportOnnxBytes(copy, o), a);
}

class BundledModel : public ::testing::TestWithParam<const char*> {};

TEST_P(BundledModel, ImportExportImportIsTheSameGraphAndTheSameNumbers) {
  Graph g = ImportOnnxFile((kModels / GetParam()).string());
  Graph back = RoundTrip(g);
  ExpectSameGraph(g, back);
  for (const Value& v : g.values) {
    if (!v.is_constant()) continue;
    int b = back.FindValue(v.name);
    ASSERT_GE(b, 0) << v.name;
    EXPECT_TRUE(SameTensor(v.constant, back.values[b].constant)) << v.name;
  }
  ExpectBitIdentical(RunGraph(g, true), RunGraph(back, true));
  ExpectBitIdentical(RunGraph(g, false), RunGraph(back, false));
  // A second round trip writes exactly the bytes of the first.
  std::string once = ExportOnnxBytes(back);
  EXPECT_EQ(ExportOnnxBytes(RoundTrip(back)), once);
}

TEST_P(BundledModel, FusedActivationsSurviveAsExplicitNodes) {
  Graph g = ImportOnnxFile((kModels / GetParam()).string());
  OptimizeGraph(g);
  int fused = 0;
  for (const Node& n : g.nodes) fused += n.fused.kind != Activation::Kind::kNone;
  ASSERT_GT(fused, 0) << "the optimizer fused nothing; the test would prove nothing";
  Graph back = RoundTrip(g);
  int relus = 0;
  for (const Node& n : back.nodes) relus += n.op_type == "Relu";
  EXPECT_EQ(back.nodes.size(), g.nodes.size() + fused);
  EXPECT_EQ(relus, fused);
  ExpectBitIdentical(RunGraph(g, false), RunGraph(back, false));
  // Optimizing the re-imported graph fuses them again: the same graph as before.
  Graph again = back;
  OptimizeGraph(again);
  ExpectSameGraph(g, again);
}

TEST_P(BundledModel, ExternalDataRoundTrips) {
  TempDir dir(std::string("ext_") + GetParam());
  Graph g = ImportOnnxFile((kModels / GetParam()).string());
  std::string path = (dir.path / "model.onnx").string();
  ExportOptions o;
  o.external_data_threshold = 16;
  ExportOnnxFile(g, path, o);
  ASSERT_TRUE(fs::is_regular_file(path + ".data"));

  onnx::ModelProto m;
  {
    std::ifstream f(path, std::ios::binary);
    ASSERT_TRUE(m.ParseFromIstream(&f));
  }
  int external = 0;
  for (const auto& t : m.graph().initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
    ++external;
    EXPECT_FALSE(t.has_raw_data()) << t.name();
    std::map<std::string, std::string> kv;
    for (const auto& e : t.external_data()) kv[e.key()] = e.value();
    EXPECT_EQ(kv["location"], "model.onnx.data");
    EXPECT_EQ(std::stoll(kv["offset"]) % 64, 0) << t.name();
    EXPECT_GT(std::stoll(kv["length"]), 16) << t.name();
  }
  EXPECT_GT(external, 0);

  Graph back = ImportOnnxFile(path);
  ExpectSameGraph(g, back);
  ExpectBitIdentical(RunGraph(g, true), RunGraph(back, true));

  // The same export again gives the same two files.
  std::string path2 = (dir.path / "model2.onnx").string();
  ExportOnnxFile(g, path2, o);
  auto read = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read(path + ".data"), read(path2 + ".data"));
  onnx::ModelProto m2;
  ASSERT_TRUE(m2.ParseFromString(read(path2)));
  ASSERT_EQ(m.graph().initializer_size(), m2.graph().initializer_size());
}

INSTANTIATE_TEST_SUITE_P(Models, BundledModel, ::testing::Values("fashion_cnn.onnx", "demo_cnn.onnx"),
                         [](const auto& info) { return std::string(info.param).substr(0, 4); });

TEST(OnnxExport, InlineFileExportHasNoSideFile) {
  TempDir dir("inline");
  std::string path = (dir.path / "m.onnx").string();
  ExportOnnxFile(SmallCnn(), path);
  EXPECT_FALSE(fs::exists(path + ".data"));
  Graph back = ImportOnnxFile(path);
  ExpectSameGraph(SmallCnn(), back);
}

// Each fusable activation, fused by the optimizer, comes back as its own node
// with its parameters, and computes the same numbers.
struct FusedCase {
  const char* act;
  Activation::Kind kind;
};
void PrintTo(const FusedCase& c, std::ostream* os) { *os << c.act; }

class FusedActivation : public ::testing::TestWithParam<FusedCase> {};

TEST_P(FusedActivation, IsWrittenAsTheOriginalNode) {
  const FusedCase& c = GetParam();
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {2, 6});
  g.AddConstant("w", RandomTensor({6, 5}, 11, -2.f, 2.f));
  AddOp(g, "MatMul", {"x", "w"}, {"m"}, "mm");
  std::vector<std::string> act_in = {"m"};
  if (c.kind == Activation::Kind::kClip) {
    g.AddConstant("lo", testing::FloatTensor({}, {-0.25f}));
    g.AddConstant("hi", testing::FloatTensor({}, {0.5f}));
    act_in = {"m", "lo", "hi"};
  }
  int act = AddOp(g, c.act, act_in, {"y"}, "act");
  if (c.kind == Activation::Kind::kLeakyRelu) g.nodes[act].attrs.SetFloat("alpha", 0.3f);
  g.outputs.push_back(g.FindValue("y"));
  Graph unfused = g;

  OptimizeGraph(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  ASSERT_EQ(g.nodes[0].fused.kind, c.kind);

  std::string bytes = ExportOnnxBytes(g);
  onnx::ModelProto m = Parse(bytes);
  ASSERT_EQ(m.graph().node_size(), 2);
  const auto& mm = m.graph().node(0);
  const auto& an = m.graph().node(1);
  EXPECT_EQ(mm.op_type(), "MatMul");
  EXPECT_EQ(an.op_type(), c.act);
  EXPECT_EQ(an.output(0), "y");
  EXPECT_EQ(an.input(0), mm.output(0));
  EXPECT_NE(mm.output(0), "y");
  EXPECT_NE(an.name(), mm.name());
  // The intermediate value is typed like the output.
  bool typed = false;
  for (const auto& vi : m.graph().value_info()) typed |= vi.name() == mm.output(0);
  EXPECT_TRUE(typed);

  Graph back = ImportOnnxBytes(bytes.data(), bytes.size(), "exported.onnx", "");
  ASSERT_EQ(back.nodes.size(), 2u);
  const Node& b = back.nodes[1];
  if (c.kind == Activation::Kind::kClip) {
    ASSERT_EQ(b.inputs.size(), 3u);
    EXPECT_EQ(back.values[b.inputs[1]].constant.data<float>()[0], -0.25f);
    EXPECT_EQ(back.values[b.inputs[2]].constant.data<float>()[0], 0.5f);
  }
  if (c.kind == Activation::Kind::kLeakyRelu) {
    EXPECT_EQ(b.attrs.GetFloat("alpha", 0), 0.3f);
  }

  std::vector<Tensor> want = RunGraph(g, false), got = RunGraph(back, false), ref = RunGraph(unfused, false);
  ASSERT_EQ(got.size(), 1u);
  if (c.kind == Activation::Kind::kHardSwish) {
    // The fused epilogue computes x/6 in float, the HardSwish op in double:
    // the same function up to an ulp.
    for (int64_t i = 0; i < got[0].numel(); ++i)
      EXPECT_NEAR(got[0].data<float>()[i], want[0].data<float>()[i], 1e-6f) << i;
  } else {
    ExpectBitIdentical(want, got);
  }
  ExpectBitIdentical(ref, got);  // the exported graph is the unfused original again

  Graph again = back;
  OptimizeGraph(again);
  ASSERT_EQ(again.nodes.size(), 1u);
  EXPECT_EQ(again.nodes[0].fused.kind, c.kind);
  EXPECT_EQ(again.nodes[0].fused.lo, g.nodes[0].fused.lo);
  EXPECT_EQ(again.nodes[0].fused.hi, g.nodes[0].fused.hi);
  EXPECT_EQ(again.nodes[0].fused.alpha, g.nodes[0].fused.alpha);
}

INSTANTIATE_TEST_SUITE_P(Kinds, FusedActivation,
                         ::testing::Values(FusedCase{"Relu", Activation::Kind::kRelu},
                                           FusedCase{"Clip", Activation::Kind::kClip},
                                           FusedCase{"HardSwish", Activation::Kind::kHardSwish},
                                           FusedCase{"LeakyRelu", Activation::Kind::kLeakyRelu}),
                         [](const auto& info) { return std::string(info.param.act); });

TEST(OnnxExport, FusedClipWithoutBoundsKeepsInfiniteBounds) {
  Graph g;
  g.opset = 17;
  AddInput(g, "x", DType::kFloat32, {3});
  g.AddConstant("b", testing::FloatTensor({3}, {-1e30f, 0.f, 1e30f}));
  int add = AddOp(g, "Add", {"x", "b"}, {"y"}, "add");
  g.nodes[add].fused.kind = Activation::Kind::kClip;
  g.nodes[add].fused.lo = -std::numeric_limits<float>::infinity();
  g.nodes[add].fused.hi = 2.f;
  g.outputs.push_back(g.FindValue("y"));
  Graph back = RoundTrip(g);
  ASSERT_EQ(back.nodes.size(), 2u);
  EXPECT_EQ(back.nodes[1].op_type, "Clip");
  EXPECT_EQ(back.values[back.nodes[1].inputs[1]].constant.data<float>()[0], -std::numeric_limits<float>::infinity());
  ExpectBitIdentical(RunGraph(g, false), RunGraph(back, false));
}

}  // namespace
}  // namespace nibble
