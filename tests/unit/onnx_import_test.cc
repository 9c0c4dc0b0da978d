// The ONNX importer on good and hostile input: every size field is checked
// before allocation, external data stays inside the model's folder.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "onnx/import.h"

namespace nibble {
namespace {
namespace fs = std::filesystem;

// A one-node model y = Relu(x + w) with w an initializer of 4 floats.
onnx::ModelProto SmallModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("small");
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = in->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  shape->add_dim()->set_dim_value(4);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  for (float v : {1.f, 2.f, 3.f, 4.f}) w->add_float_data(v);
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->set_name("add");
  add->add_input("x");
  add->add_input("w");
  add->add_output("s");
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->set_name("relu");
  relu->add_input("s");
  relu->add_output("y");
  g->add_output()->set_name("y");
  return m;
}

Graph Import(const onnx::ModelProto& m, const std::string& dir = "") {
  std::string bytes = m.SerializeAsString();
  return ImportOnnxBytes(bytes.data(), bytes.size(), "test.onnx", dir);
}

void ExpectError(const onnx::ModelProto& m, const std::string& part, const std::string& dir = "") {
  try {
    Import(m, dir);
    ADD_FAILURE() << "no error, expected: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(OnnxImport, ReadsGraphInitializersAndDynamicDims) {
  Graph g = Import(SmallModel());
  EXPECT_EQ(g.opset, 17);
  ASSERT_EQ(g.inputs.size(), 1u);
  const Value& x = g.values[g.inputs[0]];
  EXPECT_EQ(x.shape, (Shape{-1, 4}));
  EXPECT_EQ(x.dim_params[0], "batch");
  const Value& w = g.values[g.FindValue("w")];
  ASSERT_TRUE(w.is_constant());
  EXPECT_FLOAT_EQ(w.constant.data<float>()[3], 4.f);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[1].op_type, "Relu");
}

TEST(OnnxImport, InitializerListedAsInputIsAConstant) {
  auto m = SmallModel();
  auto* in = m.mutable_graph()->add_input();
  in->set_name("w");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  Graph g = Import(m);
  EXPECT_EQ(g.inputs.size(), 1u);
  EXPECT_TRUE(g.values[g.FindValue("w")].is_constant());
}

TEST(OnnxImport, TruncatedFilesAreRejected) {
  std::string bytes = SmallModel().SerializeAsString();
  int errors = 0;
  for (size_t cut = 1; cut < bytes.size(); cut += 7) {
    try {
      ImportOnnxBytes(bytes.data(), cut, "cut.onnx", "");
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).rfind("cut.onnx", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(OnnxImport, RawDataLengthMustMatchShape) {
  auto m = SmallModel();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_raw_data(std::string(12, '\0'));  // 3 floats for shape [4]
  ExpectError(m, "initializer 'w': raw_data holds 12 bytes but shape [4] of float32 needs 16");
}

TEST(OnnxImport, TypedDataCountMustMatchShape) {
  auto m = SmallModel();
  m.mutable_graph()->mutable_initializer(0)->add_float_data(5.f);
  ExpectError(m, "initializer 'w': holds 5 values but shape [4] needs 4");
}

TEST(OnnxImport, AbsurdDeclaredSizesFailBeforeAllocating) {
  auto m = SmallModel();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(int64_t{1} << 40);
  w->add_dims(int64_t{1} << 40);
  ExpectError(m, "overflows");
  w->clear_dims();
  w->add_dims(int64_t{1} << 30);
  w->add_dims(int64_t{1} << 3);
  ExpectError(m, "holds 4 values but shape");
  w->add_dims(-3);
  ExpectError(m, "negative dimension");
}

TEST(OnnxImport, ExternalDataMayNotLeaveTheModelFolder) {
  fs::path dir = fs::temp_directory_path() / "nibble_ext_test";
  fs::create_directories(dir / "sub");
  {
    std::ofstream f(dir / "weights.bin", std::ios::binary);
    float v[6] = {9, 8, 7, 6, 5, 4};
    f.write(reinterpret_cast<const char*>(v), sizeof v);
  }
  auto with_location = [](std::string loc, std::string offset = "8", std::string length = "16") {
    auto m = SmallModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = w->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", loc);
    add("offset", offset);
    add("length", length);
    return m;
  };
  Graph g = Import(with_location("weights.bin"), dir.string());
  const Tensor& w = g.values[g.FindValue("w")].constant;
  EXPECT_FLOAT_EQ(w.data<float>()[0], 7.f);  // offset 8 bytes = 2 floats
  EXPECT_FLOAT_EQ(w.data<float>()[3], 4.f);

  ExpectError(with_location("../weights.bin"), "leaves the model's folder", (dir / "sub").string());
  ExpectError(with_location("sub/../../etc/passwd"), "leaves the model's folder", dir.string());
  ExpectError(with_location("/etc/passwd"), "is absolute", dir.string());
  ExpectError(with_location("weights.bin", "16"), "too short", dir.string());
  ExpectError(with_location("weights.bin", "0", "12"), "does not match its shape", dir.string());
  ExpectError(with_location("missing.bin"), "cannot open external data file", dir.string());
  ExpectError(with_location("weights.bin"), "external data is not allowed", "");
  fs::remove_all(dir);
}

TEST(OnnxImport, OpsetOutsideTheRangeIsRejected) {
  auto m = SmallModel();
  m.mutable_opset_import(0)->set_version(9);
  ExpectError(m, "opset 9 is outside the supported range 11-22");
}

TEST(OnnxImport, DanglingInputNamesTheNode) {
  auto m = SmallModel();
  m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
  ExpectError(m, "node 'relu' (Relu): input 'nowhere' is not produced");
}

TEST(OnnxImport, SubgraphAttributesAreRejectedClearly) {
  auto m = SmallModel();
  auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("then_branch");
  a->set_type(onnx::AttributeProto::GRAPH);
  ExpectError(m, "node 'add' (Add): attribute 'then_branch' is a GRAPH");
}

TEST(OnnxImport, ConstantNodesBecomeConstants) {
  auto m = SmallModel();
  auto* g = m.mutable_graph();
  auto* c = g->add_node();
  c->set_op_type("Constant");
  c->set_name("k");
  c->add_output("kval");
  auto* a = c->add_attribute();
  a->set_name("value_floats");
  a->set_type(onnx::AttributeProto::FLOATS);
  a->add_floats(1.5f);
  a->add_floats(2.5f);
  g->add_output()->set_name("kval");
  Graph ir = Import(m);
  const Value& k = ir.values[ir.FindValue("kval")];
  ASSERT_TRUE(k.is_constant());
  EXPECT_EQ(k.constant.shape(), (Shape{2}));
  EXPECT_FLOAT_EQ(k.constant.data<float>()[1], 2.5f);
  EXPECT_EQ(ir.nodes.size(), 2u);
}

}  // namespace
}  // namespace nibble
