#include "onnx/import.h"

#include <filesystem>
#include <fstream>

#include "base/limits.h"
#include "onnx/tensor_proto.h"
#include "onnx/weight_storage.h"

namespace nibble {
namespace fs = std::filesystem;
namespace {

// Model files above this are refused before reading (protobuf's own limit is 2 GiB).
constexpr int64_t kMaxModelBytes = int64_t{2} << 30;

void ReadValueInfo(const onnx::ValueInfoProto& vi, Value& v, const std::string& where) {
  if (!vi.has_type()) return;
  NIBBLE_CHECK(vi.type().has_tensor_type(), where, ": value '", vi.name(), "' is not a tensor (sequences, maps and ",
               "optionals are not supported)");
  const auto& tt = vi.type().tensor_type();
  if (tt.elem_type() != 0) {
    DType d = DTypeFromOnnx(tt.elem_type());
    NIBBLE_CHECK(d != DType::kUndefined, where, ": value '", vi.name(), "' has unsupported element type ",
                 OnnxTypeName(tt.elem_type()));
    v.dtype = d;
  }
  if (tt.has_shape()) {
    NIBBLE_CHECK(tt.shape().dim_size() <= kMaxRank, where, ": value '", vi.name(), "' has rank over ", kMaxRank);
    v.has_shape = true;
    v.shape.clear();
    v.dim_params.clear();
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        NIBBLE_CHECK(d.dim_value() >= 0, where, ": value '", vi.name(), "' has a negative dimension");
        v.shape.push_back(d.dim_value());
        v.dim_params.push_back("");
      } else {
        v.shape.push_back(-1);
        v.dim_params.push_back(d.has_dim_param() ? d.dim_param() : "");
      }
    }
  }
}

Attribute ReadAttribute(const onnx::AttributeProto& a, const std::string& where, const std::string& dir) {
  Attribute r;
  switch (a.type()) {
    case onnx::AttributeProto::FLOAT: r.kind = Attribute::Kind::kFloat; r.f = a.f(); break;
    case onnx::AttributeProto::INT: r.kind = Attribute::Kind::kInt; r.i = a.i(); break;
    case onnx::AttributeProto::STRING: r.kind = Attribute::Kind::kString; r.s = a.s(); break;
    case onnx::AttributeProto::TENSOR:
      r.kind = Attribute::Kind::kTensor;
      r.t = TensorFromProto(a.t(), where + ": attribute '" + a.name() + "'", dir);
      break;
    case onnx::AttributeProto::FLOATS:
      r.kind = Attribute::Kind::kFloats;
      r.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto::INTS:
      r.kind = Attribute::Kind::kInts;
      r.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto::STRINGS:
      r.kind = Attribute::Kind::kStrings;
      r.strings.assign(a.strings().begin(), a.strings().end());
      break;
    default:
      Fail(where, ": attribute '", a.name(), "' is a ", onnx::AttributeProto::AttributeType_Name(a.type()),
           ", which nibble does not support (subgraphs, sparse tensors and type protos)");
  }
  return r;
}

// Constant nodes become constant values right away: the runtime never sees them.
Tensor ConstantNodeValue(const Node& n, const std::string& where) {
  if (const Tensor* t = n.attrs.GetTensor("value")) return *t;
  if (n.attrs.Has("value_float")) {
    Tensor t(DType::kFloat32, {});
    *t.data<float>() = n.attrs.GetFloat("value_float", 0);
    return t;
  }
  if (n.attrs.Has("value_int")) {
    Tensor t(DType::kInt64, {});
    *t.data<int64_t>() = n.attrs.GetInt("value_int", 0);
    return t;
  }
  if (n.attrs.Has("value_floats")) {
    auto v = n.attrs.GetFloats("value_floats");
    Tensor t(DType::kFloat32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<float>());
    return t;
  }
  if (n.attrs.Has("value_ints")) {
    auto v = n.attrs.GetInts("value_ints");
    Tensor t(DType::kInt64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<int64_t>());
    return t;
  }
  Fail(where, ": Constant needs one of value, value_float(s), value_int(s) (strings and sparse are not supported)");
}

// A value that holds `t`: initializers and the nodes folded at import.
void SetConstant(Value& v, Tensor t) {
  v.dtype = t.dtype();
  v.has_shape = true;
  v.shape = t.shape();
  v.dim_params.assign(v.shape.size(), "");
  v.constant = std::move(t);
}

Graph Convert(const onnx::ModelProto& m, const std::string& label, const std::string& dir) {
  Graph g;
  g.path = label;
  NIBBLE_CHECK(m.has_graph(), label, ": the model has no graph");
  for (const auto& op : m.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  }
  NIBBLE_CHECK(g.opset != 0, label, ": the model imports no default-domain opset");
  NIBBLE_CHECK(g.opset >= kMinOpset && g.opset <= kMaxOpset, label, ": opset ", g.opset,
               " is outside the supported range ", kMinOpset, "-", kMaxOpset,
               " (convert it with onnx.version_converter)");
  const auto& gp = m.graph();
  g.name = gp.name();
  for (const auto& kv : m.metadata_props()) g.metadata.emplace_back(kv.key(), kv.value());

  for (const auto& init : gp.initializer()) {
    NIBBLE_CHECK(!init.name().empty(), label, ": an initializer has no name");
    NIBBLE_CHECK(g.FindValue(init.name()) < 0, label, ": initializer '", init.name(), "' is defined twice");
    int id = g.AddValue(init.name());
    SetConstant(g.values[id], TensorFromProto(init, label + ": initializer '" + init.name() + "'", dir));
  }
  NIBBLE_CHECK(gp.sparse_initializer_size() == 0, label, ": sparse initializers are not supported");

  for (const auto& in : gp.input()) {
    NIBBLE_CHECK(!in.name().empty(), label, ": a graph input has no name");
    int id = g.FindValue(in.name());
    if (id >= 0 && g.values[id].is_constant()) continue;  // an initializer listed as input (IR < 4): a constant
    NIBBLE_CHECK(id < 0, label, ": graph input '", in.name(), "' is declared twice");
    id = g.AddValue(in.name());
    ReadValueInfo(in, g.values[id], label + ": graph input '" + in.name() + "'");
    NIBBLE_CHECK(g.values[id].dtype != DType::kUndefined, label, ": graph input '", in.name(), "' has no element type");
    g.inputs.push_back(id);
  }

  for (const auto& np : gp.node()) {
    Node n;
    n.name = np.name();
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    if (n.name.empty()) n.name = Cat(n.op_type, "_", g.nodes.size());
    std::string where = g.Where(n);
    for (const auto& a : np.attribute()) {
      NIBBLE_CHECK(!a.name().empty(), where, ": an attribute has no name");
      if (!a.ref_attr_name().empty()) Fail(where, ": attribute references (functions) are not supported");
      n.attrs.Set(a.name(), ReadAttribute(a, where, dir));
    }
    for (const auto& in : np.input()) {
      if (in.empty()) {
        n.inputs.push_back(-1);
        continue;
      }
      int id = g.FindValue(in);
      NIBBLE_CHECK(id >= 0, where, ": input '", in, "' is not produced by any earlier node, initializer or graph input");
      n.inputs.push_back(id);
    }
    for (const auto& out : np.output()) {
      if (out.empty()) {
        n.outputs.push_back(-1);
        continue;
      }
      int existing = g.FindValue(out);
      NIBBLE_CHECK(existing < 0, where, ": output '", out, "' is already defined elsewhere");
      n.outputs.push_back(g.AddValue(out));
    }
    if (n.op_type == "Constant" && n.domain.empty()) {
      NIBBLE_CHECK(n.outputs.size() == 1 && n.outputs[0] >= 0, where, ": Constant needs one output");
      Tensor t = ConstantNodeValue(n, where);
      SetConstant(g.values[n.outputs[0]], std::move(t));
      continue;
    }
    if (n.op_type == "UnpackBits" && n.domain == kNibbleDomain) {
      // nibble's bit-packed weight codes (weight_storage.h): folded to the codes here.
      NIBBLE_CHECK(n.inputs.size() == 1 && n.inputs[0] >= 0 && g.values[n.inputs[0]].is_constant() &&
                       n.outputs.size() == 1 && n.outputs[0] >= 0,
                   where, ": UnpackBits takes one constant input (the packed bytes) and gives one output");
      Tensor t = UnpackBitsNodeValue(n, g.values[n.inputs[0]].constant, where);
      SetConstant(g.values[n.outputs[0]], std::move(t));
      continue;
    }
    g.AddNode(std::move(n));
  }

  for (const auto& vi : gp.value_info()) {
    int id = g.FindValue(vi.name());
    if (id >= 0 && !g.values[id].is_constant()) ReadValueInfo(vi, g.values[id], label + ": value_info");
  }
  for (const auto& out : gp.output()) {
    int id = g.FindValue(out.name());
    NIBBLE_CHECK(id >= 0, label, ": graph output '", out.name(), "' is never produced");
    if (!g.values[id].is_constant()) ReadValueInfo(out, g.values[id], label + ": graph output '" + out.name() + "'");
    g.outputs.push_back(id);
  }
  NIBBLE_CHECK(!g.outputs.empty(), label, ": the graph has no outputs");
  g.RebuildIndex();
  return g;
}

}  // namespace

Graph ImportOnnxBytes(const void* data, size_t size, const std::string& label, const std::string& model_dir) {
  NIBBLE_CHECK(size > 0, label, ": the file is empty");
  NIBBLE_CHECK(static_cast<int64_t>(size) < kMaxModelBytes, label, ": the file is over 2 GiB; keep weights as ",
               "external data");
  onnx::ModelProto m;
  NIBBLE_CHECK(m.ParseFromArray(data, static_cast<int>(size)), label,
               ": not a valid ONNX model (protobuf parse failed; truncated or corrupted file?)");
  return Convert(m, label, model_dir);
}

Graph ImportOnnxFile(const std::string& path) {
  std::error_code ec;
  NIBBLE_CHECK(fs::is_regular_file(path, ec), path, ": no such model file");
  auto size = fs::file_size(path, ec);
  NIBBLE_CHECK(!ec, path, ": cannot read the file size");
  NIBBLE_CHECK(static_cast<int64_t>(size) < kMaxModelBytes, path, ": the file is over 2 GiB");
  std::string bytes(size, '\0');
  std::ifstream f(path, std::ios::binary);
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  NIBBLE_CHECK(f, path, ": read failed");
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  return ImportOnnxBytes(bytes.data(), bytes.size(), path, dir.string());
}

Tensor ImportTensorProtoFile(const std::string& path, std::string* name) {
  std::ifstream f(path, std::ios::binary);
  NIBBLE_CHECK(f, path, ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::TensorProto p;
  NIBBLE_CHECK(p.ParseFromString(bytes), path, ": not a valid TensorProto");
  if (name) *name = p.name();
  fs::path dir = fs::path(path).parent_path();
  return TensorFromProto(p, path, dir.empty() ? "." : dir.string());
}

}  // namespace nibble
