#include "onnx/export.h"

#include <onnx/onnx_pb.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_set>

#include "base/float16.h"
#include "onnx/tensor_proto.h"

namespace nibble {
namespace fs = std::filesystem;
namespace {

// protobuf refuses messages of 2 GiB; past this the weights go to external data.
constexpr int64_t kMaxInlineModelBytes = (int64_t{19} << 30) / 10;
// In that automatic case, tensors up to this size stay inline (onnx's own default).
constexpr int64_t kAutoExternalThreshold = 1024;
// Side-file offsets are aligned so large tensors can be memory-mapped.
constexpr int64_t kPageAlign = 4096, kSmallAlign = 64, kPageAlignFrom = int64_t{1} << 20;

int64_t MlOpsetForOpset(int64_t opset) {
  if (opset >= 21) return 5;
  if (opset >= 20) return 4;
  if (opset >= 15) return 3;
  if (opset >= 11) return 2;
  return 1;
}

// Hands out names nobody has taken yet.
class NameSet {
 public:
  bool Take(const std::string& n) { return taken_.insert(n).second; }
  std::string Fresh(const std::string& base) {
    if (Take(base)) return base;
    for (int i = 1;; ++i) {
      std::string c = Cat(base, "_", i);
      if (Take(c)) return c;
    }
  }

 private:
  std::unordered_set<std::string> taken_;
};

// Initializers above `threshold` bytes are written to `location` (a file next
// to the model); their bytes are collected here, laid out at `offset`s.
struct ExternalData {
  std::string location;  // "" when everything stays inline
  int64_t threshold = -1;
  struct Chunk {
    Tensor tensor;
    int64_t offset;
  };
  std::vector<Chunk> chunks;
  int64_t size = 0;
};

class Exporter {
 public:
  Exporter(const Graph& g, const ExportOptions& o) : g_(g), o_(o), label_(g.path.empty() ? "model" : g.path) {}

  // False when the nodes are not in topological order (the caller sorts a copy).
  bool Check();
  onnx::ModelProto Build(ExternalData* ext);

 private:
  void AssignNames();
  void SetType(const Value& v, onnx::ValueInfoProto* vi) const;
  void AddInitializer(const std::string& name, const Tensor& t);
  void AddNode(const Node& n, size_t index);
  void AddFusedActivation(const Node& n, const std::string& node_name, const std::string& pre, const std::string& out);
  void SetAttribute(const Node& n, const std::string& name, const Attribute& a, onnx::AttributeProto* p) const;

  const Graph& g_;
  const ExportOptions& o_;
  std::string label_;
  std::vector<char> used_;  // value referenced by a node or as a graph input/output
  std::vector<std::string> value_names_, node_names_;
  NameSet taken_values_, taken_nodes_;
  onnx::GraphProto* gp_ = nullptr;
  ExternalData* ext_ = nullptr;
  std::vector<onnx::ValueInfoProto> fused_value_info_;
};

bool Exporter::Check() {
  NIBBLE_CHECK(g_.opset > 0, label_, ": cannot export: the graph has no default-domain opset");
  const size_t nv = g_.values.size();
  auto check_id = [&](int v, const std::string& where) {
    NIBBLE_CHECK(v < static_cast<int>(nv), where, ": cannot export: value id ", v, " is out of range");
  };
  used_.assign(nv, 0);
  std::vector<char> defined(nv, 0), produced(nv, 0);
  for (size_t v = 0; v < nv; ++v) defined[v] = g_.values[v].is_constant();
  for (int v : g_.inputs) {
    check_id(v, label_);
    NIBBLE_CHECK(v >= 0, label_, ": cannot export: a graph input has no value");
    used_[v] = defined[v] = 1;
  }
  for (const Node& n : g_.nodes) {
    for (int v : n.outputs) {
      if (v < 0) continue;
      check_id(v, g_.Where(n));
      NIBBLE_CHECK(!produced[v] && !defined[v], g_.Where(n), ": cannot export: output '", g_.values[v].name,
                   "' is already defined by a graph input, an initializer or another node");
      produced[v] = 1;
    }
  }
  bool sorted = true;
  for (const Node& n : g_.nodes) {
    for (int v : n.inputs) {
      if (v < 0) continue;
      check_id(v, g_.Where(n));
      NIBBLE_CHECK(defined[v] || produced[v], g_.Where(n), ": cannot export: input '", g_.values[v].name,
                   "' is defined by no node, initializer or graph input");
      sorted &= defined[v] != 0;
      used_[v] = 1;
    }
    for (int v : n.outputs)
      if (v >= 0) used_[v] = defined[v] = 1;
  }
  NIBBLE_CHECK(!g_.outputs.empty(), label_, ": cannot export: the graph has no outputs");
  for (int v : g_.outputs) {
    check_id(v, label_);
    NIBBLE_CHECK(v >= 0 && defined[v], label_, ": cannot export: graph output '", v >= 0 ? g_.values[v].name : "",
                 "' is never defined");
    used_[v] = 1;
  }
  for (size_t v = 0; v < nv; ++v)
    NIBBLE_CHECK(!used_[v] || !g_.values[v].quant, label_, ": cannot export: value '", g_.values[v].name,
                 "' carries quantization parameters (", g_.values[v].quant ? g_.values[v].quant->ToString() : "",
                 "), which plain ONNX has no field for; export the graph in QDQ form, before it is lowered");
  return sorted;
}

// Names are kept; only empty and duplicate ones are replaced, by fresh names.
void Exporter::AssignNames() {
  const size_t nv = g_.values.size();
  value_names_.assign(nv, "");
  std::vector<char> kept(nv, 0);
  for (size_t v = 0; v < nv; ++v)
    if (used_[v] && !g_.values[v].name.empty()) kept[v] = taken_values_.Take(g_.values[v].name);
  for (size_t v = 0; v < nv; ++v) {
    if (!used_[v]) continue;
    const std::string& n = g_.values[v].name;
    value_names_[v] = kept[v] ? n : taken_values_.Fresh(n.empty() ? Cat("value_", v) : n);
  }
  node_names_.assign(g_.nodes.size(), "");
  for (const Node& n : g_.nodes)
    if (!n.name.empty()) taken_nodes_.Take(n.name);
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const Node& n = g_.nodes[i];
    node_names_[i] = n.name.empty() ? taken_nodes_.Fresh(Cat(n.op_type, "_", i)) : n.name;
  }
}

void Exporter::SetType(const Value& v, onnx::ValueInfoProto* vi) const {
  const bool c = v.is_constant();
  const DType dtype = c ? v.constant.dtype() : v.dtype;
  if (dtype == DType::kUndefined) return;
  const int type = DTypeToOnnx(dtype);
  NIBBLE_CHECK(type != onnx::TensorProto::UNDEFINED, label_, ": cannot export: value '", v.name, "' has type ",
               DTypeName(dtype), ", which ONNX cannot hold");
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(type);
  if (!c && !v.has_shape) return;
  const Shape& shape = c ? v.constant.shape() : v.shape;
  auto* sp = tt->mutable_shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    auto* d = sp->add_dim();
    if (shape[i] >= 0) d->set_dim_value(shape[i]);
    else if (!c && i < v.dim_params.size() && !v.dim_params[i].empty()) d->set_dim_param(v.dim_params[i]);
  }
}

void Exporter::AddInitializer(const std::string& name, const Tensor& t) {
  auto* p = gp_->add_initializer();
  p->set_name(name);
  const int64_t nbytes = static_cast<int64_t>(t.nbytes());
  if (ext_->location.empty() || ext_->threshold < 0 || nbytes <= ext_->threshold) {
    TensorToProto(t, p);
    return;
  }
  const int type = DTypeToOnnx(t.dtype());
  NIBBLE_CHECK(type != onnx::TensorProto::UNDEFINED, label_, ": cannot export: initializer '", name, "' has type ",
               DTypeName(t.dtype()), ", which ONNX cannot hold");
  p->set_data_type(type);
  for (int64_t d : t.shape()) p->add_dims(d);
  const int64_t align = nbytes >= kPageAlignFrom ? kPageAlign : kSmallAlign;
  const int64_t offset = (ext_->size + align - 1) / align * align;
  p->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* kv = p->add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add("location", ext_->location);
  add("offset", std::to_string(offset));
  add("length", std::to_string(nbytes));
  ext_->chunks.push_back({t, offset});
  ext_->size = offset + nbytes;
}

void Exporter::SetAttribute(const Node& n, const std::string& name, const Attribute& a,
                            onnx::AttributeProto* p) const {
  p->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::kFloat:
      p->set_type(onnx::AttributeProto::FLOAT);
      p->set_f(a.f);
      break;
    case Attribute::Kind::kInt:
      p->set_type(onnx::AttributeProto::INT);
      p->set_i(a.i);
      break;
    case Attribute::Kind::kString:
      p->set_type(onnx::AttributeProto::STRING);
      p->set_s(a.s);
      break;
    case Attribute::Kind::kTensor:
      NIBBLE_CHECK(!a.t.empty(), g_.Where(n), ": cannot export: attribute '", name, "' holds no tensor");
      NIBBLE_CHECK(DTypeToOnnx(a.t.dtype()) != onnx::TensorProto::UNDEFINED, g_.Where(n),
                   ": cannot export: attribute '", name, "' is a tensor of type ", DTypeName(a.t.dtype()));
      p->set_type(onnx::AttributeProto::TENSOR);
      TensorToProto(a.t, p->mutable_t());
      break;
    case Attribute::Kind::kFloats:
      p->set_type(onnx::AttributeProto::FLOATS);
      for (float f : a.floats) p->add_floats(f);
      break;
    case Attribute::Kind::kInts:
      p->set_type(onnx::AttributeProto::INTS);
      for (int64_t i : a.ints) p->add_ints(i);
      break;
    case Attribute::Kind::kStrings:
      p->set_type(onnx::AttributeProto::STRINGS);
      for (const auto& s : a.strings) p->add_strings(s);
      break;
  }
}

// A scalar of `dtype` (the activation's input type) holding `v`.
Tensor ScalarOf(DType dtype, float v, const std::string& where) {
  Tensor t(dtype, {});
  switch (dtype) {
    case DType::kFloat32: *t.data<float>() = v; break;
    case DType::kFloat64: *t.data<double>() = v; break;
    case DType::kFloat16: *static_cast<uint16_t*>(t.raw()) = DoubleToHalfBits(v); break;
    default: Fail(where, ": cannot export: a fused Clip on ", DTypeName(dtype), " values");
  }
  return t;
}

// The node writes `pre`; the activation reads it and writes the node's real output `out`.
void Exporter::AddFusedActivation(const Node& n, const std::string& node_name, const std::string& pre,
                                  const std::string& out) {
  const Activation& a = n.fused;
  const std::string where = g_.Where(n);
  const std::string op = a.Name();
  auto* np = gp_->add_node();
  np->set_name(taken_nodes_.Fresh(node_name + "_" + op));
  np->set_op_type(op);
  np->add_input(pre);
  const Value& y = g_.values[n.outputs[0]];
  switch (a.kind) {
    case Activation::Kind::kClip: {
      const DType dtype = y.dtype == DType::kUndefined ? DType::kFloat32 : y.dtype;
      for (int k = 0; k < 2; ++k) {
        std::string name = taken_values_.Fresh(Cat(np->name(), k == 0 ? "_min" : "_max"));
        AddInitializer(name, ScalarOf(dtype, k == 0 ? a.lo : a.hi, where));
        np->add_input(name);
      }
      break;
    }
    case Activation::Kind::kLeakyRelu: {
      Attribute alpha;
      alpha.kind = Attribute::Kind::kFloat;
      alpha.f = a.alpha;
      SetAttribute(n, "alpha", alpha, np->add_attribute());
      break;
    }
    case Activation::Kind::kHardSwish:
      NIBBLE_CHECK(g_.opset >= 14, where, ": cannot export: a fused HardSwish needs opset 14, the graph has ",
                   g_.opset);
      break;
    case Activation::Kind::kRelu:
    case Activation::Kind::kNone: break;
  }
  np->add_output(out);
  if (o_.value_info && y.dtype != DType::kUndefined) {
    onnx::ValueInfoProto vi;
    vi.set_name(pre);
    SetType(y, &vi);
    fused_value_info_.push_back(std::move(vi));
  }
}

void Exporter::AddNode(const Node& n, size_t index) {
  const bool fused = n.fused.kind != Activation::Kind::kNone;
  NIBBLE_CHECK(!fused || (!n.outputs.empty() && n.outputs[0] >= 0), g_.Where(n),
               ": cannot export: a fused ", n.fused.Name(), " but no first output");
  auto* np = gp_->add_node();
  np->set_name(node_names_[index]);
  np->set_op_type(n.op_type);
  if (!n.domain.empty()) np->set_domain(n.domain);
  for (int v : n.inputs) np->add_input(v < 0 ? "" : value_names_[v]);
  std::string pre;
  for (size_t k = 0; k < n.outputs.size(); ++k) {
    int v = n.outputs[k];
    if (k == 0 && fused) {
      pre = taken_values_.Fresh(value_names_[v] + "_pre" + n.fused.Name());
      np->add_output(pre);
    } else {
      np->add_output(v < 0 ? "" : value_names_[v]);
    }
  }
  for (const auto& [name, a] : n.attrs.all()) SetAttribute(n, name, a, np->add_attribute());
  if (fused) AddFusedActivation(n, np->name(), pre, value_names_[n.outputs[0]]);
}

onnx::ModelProto Exporter::Build(ExternalData* ext) {
  ext_ = ext;
  AssignNames();
  onnx::ModelProto m;
  m.set_ir_version(o_.ir_version > 0 ? o_.ir_version : IrVersionForOpset(g_.opset));
  m.set_producer_name(o_.producer_name);
  m.set_producer_version(o_.producer_version);
  if (!o_.doc_string.empty()) m.set_doc_string(o_.doc_string);
  auto* def = m.add_opset_import();
  def->set_domain("");
  def->set_version(g_.opset);
  std::set<std::string> domains;
  for (const Node& n : g_.nodes)
    if (!n.domain.empty() && n.domain != "ai.onnx") domains.insert(n.domain);
  for (const auto& d : domains) {
    auto* op = m.add_opset_import();
    op->set_domain(d);
    auto it = o_.domain_versions.find(d);
    op->set_version(it != o_.domain_versions.end() ? it->second
                    : d == "ai.onnx.ml"            ? MlOpsetForOpset(g_.opset)
                                                   : 1);
  }
  for (const auto& [k, v] : o_.metadata_props) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }

  gp_ = m.mutable_graph();
  gp_->set_name(g_.name.empty() ? "graph" : g_.name);
  for (int v : g_.inputs) {
    const Value& val = g_.values[v];
    NIBBLE_CHECK(val.is_constant() || val.dtype != DType::kUndefined, label_, ": cannot export: graph input '",
                 val.name, "' has no element type");
    auto* vi = gp_->add_input();
    vi->set_name(value_names_[v]);
    SetType(val, vi);
  }
  for (size_t v = 0; v < g_.values.size(); ++v) {
    if (!used_[v] || !g_.values[v].is_constant()) continue;
    if (o_.int4_initializers.count(g_.values[v].name)) {
      // Packed in place: INT4 weights are half the size of the int8 ones already kept inline.
      NIBBLE_CHECK(g_.opset >= 21, label_, ": cannot export: INT4 initializer '", g_.values[v].name,
                   "' needs opset 21, the graph has ", g_.opset);
      auto* p = gp_->add_initializer();
      p->set_name(value_names_[v]);
      Int4ToProto(g_.values[v].constant, p, Cat(label_, ": cannot export: initializer '", g_.values[v].name, "'"));
      continue;
    }
    AddInitializer(value_names_[v], g_.values[v].constant);
  }
  for (size_t i = 0; i < g_.nodes.size(); ++i) AddNode(g_.nodes[i], i);
  for (int v : g_.outputs) {
    auto* vi = gp_->add_output();
    vi->set_name(value_names_[v]);
    SetType(g_.values[v], vi);
  }
  if (o_.value_info) {
    std::vector<char> io(g_.values.size(), 0);
    for (int v : g_.inputs) io[v] = 1;
    for (int v : g_.outputs) io[v] = 1;
    for (size_t v = 0; v < g_.values.size(); ++v) {
      const Value& val = g_.values[v];
      if (!used_[v] || io[v] || val.is_constant() || val.dtype == DType::kUndefined) continue;
      auto* vi = gp_->add_value_info();
      vi->set_name(value_names_[v]);
      SetType(val, vi);
    }
    for (auto& vi : fused_value_info_) *gp_->add_value_info() = std::move(vi);
  }
  return m;
}

onnx::ModelProto BuildModel(const Graph& g, const ExportOptions& o, ExternalData* ext) {
  Exporter e(g, o);
  if (e.Check()) return e.Build(ext);
  Graph sorted = g;  // tensors are shared, so the copy is cheap
  sorted.TopologicalSort();
  Exporter s(sorted, o);
  NIBBLE_CHECK(s.Check(), sorted.path, ": cannot export: nodes still out of order after sorting");
  return s.Build(ext);
}

std::string Serialize(const onnx::ModelProto& m, const std::string& label) {
  const size_t size = m.ByteSizeLong();
  NIBBLE_CHECK(size < static_cast<size_t>(INT_MAX), label, ": cannot export: the model is ", size,
               " bytes, over protobuf's 2 GiB limit; write it with ExportOnnxFile so that large initializers go to "
               "external data");
  std::string out;
  NIBBLE_CHECK(m.SerializeToString(&out), label, ": cannot export: protobuf serialization failed");
  return out;
}

int64_t ConstantBytes(const Graph& g) {
  int64_t total = 0;
  for (const Value& v : g.values)
    if (v.is_constant()) total += static_cast<int64_t>(v.constant.nbytes());
  return total;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  NIBBLE_CHECK(f, path.string(), ": cannot open for writing");
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  NIBBLE_CHECK(f, path.string(), ": write failed (disk full?)");
}

}  // namespace

int64_t IrVersionForOpset(int64_t opset) {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  if (opset >= 12) return 7;
  if (opset == 11) return 6;
  if (opset == 10) return 5;
  if (opset == 9) return 4;
  return 3;
}

std::string ExportOnnxBytes(const Graph& g, const ExportOptions& o) {
  const std::string label = g.path.empty() ? "model" : g.path;
  NIBBLE_CHECK(o.external_data_threshold < 0, label,
               ": cannot export: external data needs a file next to the model; use ExportOnnxFile");
  ExternalData none;
  return Serialize(BuildModel(g, o, &none), label);
}

void ExportOnnxFile(const Graph& g, const std::string& path, const ExportOptions& o) {
  const fs::path model(path);
  NIBBLE_CHECK(model.has_filename(), path, ": cannot export: not a file path");
  ExternalData ext;
  ext.location = model.filename().string() + ".data";
  ext.threshold = o.external_data_threshold;
  if (ext.threshold < 0 && ConstantBytes(g) > kMaxInlineModelBytes) ext.threshold = kAutoExternalThreshold;
  // Everything is built and serialized before the first byte is written, so a
  // failure leaves no half-written model behind.
  const std::string bytes = Serialize(BuildModel(g, o, &ext), path);
  if (!ext.chunks.empty()) {
    const fs::path data = model.parent_path() / ext.location;
    std::ofstream f(data, std::ios::binary | std::ios::trunc);
    NIBBLE_CHECK(f, data.string(), ": cannot open for writing");
    int64_t at = 0;
    std::string buf;
    for (const auto& c : ext.chunks) {
      if (c.offset > at) f.write(std::string(c.offset - at, '\0').data(), c.offset - at);
      buf.clear();
      AppendTensorBytesLE(c.tensor, &buf);
      f.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      at = c.offset + static_cast<int64_t>(buf.size());
    }
    f.close();
    NIBBLE_CHECK(f, data.string(), ": write failed (disk full?)");
  }
  WriteFile(model, bytes);
}

}  // namespace nibble
