#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "graph/graph.h"
#include "nibble/session.h"
#include "onnx/import.h"
#include "runtime/optimize.h"

namespace nibble::cli {
namespace {

std::string DimsStr(const Value& v) {
  if (!v.has_shape) return "?";
  std::string s = "[";
  for (size_t i = 0; i < v.shape.size(); ++i) {
    if (i) s += ",";
    s += v.shape[i] >= 0 ? std::to_string(v.shape[i]) : (v.dim_params[i].empty() ? "?" : v.dim_params[i]);
  }
  return s + "]";
}

bool StaticShape(const Value& v) {
  if (!v.has_shape) return false;
  for (int64_t d : v.shape)
    if (d < 0) return false;
  return true;
}

// Multiply-accumulates of one node, from its static shapes (0 when unknown).
int64_t NodeMacs(const Graph& g, const Node& n) {
  if (n.outputs.empty() || n.outputs[0] < 0) return 0;
  const Value& y = g.values[n.outputs[0]];
  if (!StaticShape(y)) return 0;
  int64_t out = ShapeNumel(y.shape);
  if (n.op_type == "Conv" && n.inputs.size() > 1 && StaticShape(g.values[n.inputs[1]])) {
    const Shape& w = g.values[n.inputs[1]].shape;
    return w.empty() || w[0] == 0 ? 0 : out * ShapeNumel(w) / w[0];  // a file may declare 0 output channels
  }
  if ((n.op_type == "Gemm" || n.op_type == "MatMul") && StaticShape(g.values[n.inputs[0]])) {
    const Shape& a = g.values[n.inputs[0]].shape;
    int64_t k = n.op_type == "Gemm" && n.attrs.GetInt("transA", 0) ? a[0] : a.back();
    return out * k;
  }
  return 0;
}

bool HasNode(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return true;
  return false;
}

std::string Human(double v, const char* unit) {
  const char* pre[] = {"", "K", "M", "G", "T"};
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  char b[64];
  std::snprintf(b, sizeof b, "%.2f %s%s", v, pre[i], unit);
  return b;
}

// The planner's arena for one run at the model's static shapes (dynamic dims
// at 1), found by running once on zeros; "" when the inputs are not tensors we can make.
std::string PlannedArena(Session& s) {
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const auto& in : s.inputs()) {
    Shape shape = in.shape;
    for (int64_t& d : shape)
      if (d < 0) d = 1;
    inputs.emplace_back(in.name, Tensor(in.dtype, shape));
  }
  try {
    s.Run(inputs);
  } catch (const Error& e) {
    return std::string("arena: not planned (") + e.what() + ")";
  }
  return "arena: " + Human(s.arena_bytes(), "B") + " for intermediate values at batch 1 (" +
         Human(s.naive_bytes(), "B") + " without reuse)";
}

// "w4a8" for a Conv/Gemm/MatMul on codes (weight and input widths), "int8",
// "uint4", ... for other ops on codes ("int3->uint3" when the output's type
// differs), "float" otherwise; QuantizeLinear/DequantizeLinear are the
// conversions between the two.
std::string Precision(const Graph& g, const Node& n) {
  if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear") return "convert";
  if (n.inputs.empty() || n.inputs[0] < 0 || !g.values[n.inputs[0]].quant) return "float";
  const QuantParams& q = *g.values[n.inputs[0]].quant;
  if ((n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") && n.inputs.size() > 1 &&
      n.inputs[1] >= 0 && g.values[n.inputs[1]].quant)
    return "w" + std::to_string(g.values[n.inputs[1]].quant->bits) + "a" + std::to_string(q.bits);
  auto name = [](const QuantParams& p) { return std::string(p.is_signed ? "int" : "uint") + std::to_string(p.bits); };
  // An op that writes another code type than it reads (an Add before a QuantReLU) shows both.
  const int y = n.outputs.empty() ? -1 : n.outputs[0];
  if (y >= 0 && g.values[y].quant && g.values[y].quant->bits <= 8 && name(*g.values[y].quant) != name(q))
    return name(q) + "->" + name(*g.values[y].quant);
  return name(q);
}

}  // namespace

int Inspect(const InspectOptions& o) {
  Graph g;
  std::string arena;
  std::vector<std::string> kernels;  // per node: the kernel chosen at the first run (integer ops with a choice)
  if (o.optimize) {
    auto s = Session::Load(o.model);
    g = s->graph();
    arena = PlannedArena(*s);
    kernels = s->kernel_names();
  } else {
    g = ImportOnnxFile(o.model);
    AnnotateValueTypes(g);
  }
  std::printf("model: %s  (opset %lld)\n", o.model.c_str(), static_cast<long long>(g.opset));
  std::printf("inputs:\n");
  for (int v : g.inputs)
    std::printf("  %-24s %-8s %s\n", g.values[v].name.c_str(), DTypeName(g.values[v].dtype), DimsStr(g.values[v]).c_str());
  std::printf("outputs:\n");
  for (int v : g.outputs)
    std::printf("  %-24s %-8s %s\n", g.values[v].name.c_str(), DTypeName(g.values[v].dtype), DimsStr(g.values[v]).c_str());
  // The layer table's shapes, MACs and bytes are per sample: dynamic input
  // dims taken as 1, every value's shape inferred again on the graph as it
  // runs (the optimization passes make values the file's value_info never had).
  bool dynamic = false;
  for (int v : g.inputs) {
    Value& in = g.values[v];
    for (int64_t& d : in.shape)
      if (d < 0) d = 1, dynamic = true;
  }
  AnnotateValueTypes(g);

  std::map<std::string, int> hist;
  for (const Node& n : g.nodes) hist[n.op_type + (n.fused.kind != Activation::Kind::kNone ? "+" + n.fused.Name() : "")]++;
  std::printf("ops (%zu nodes%s):\n", g.nodes.size(), o.optimize ? ", after optimization" : "");
  for (const auto& [op, c] : hist) std::printf("  %-24s %d\n", op.c_str(), c);

  if (dynamic) std::printf("per sample: shapes, MACs and bytes below take each dynamic input dimension as 1\n");
  std::printf("layers:\n  %-32s %-16s %-9s %12s %12s %14s %-16s %s\n", "node", "op", "precision", "params", "MACs",
              "out bytes", "output shape", "kernel");
  int64_t total_params = 0, total_macs = 0, total_act = 0, param_bytes = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    int64_t params = 0;
    for (int v : n.inputs)
      if (v >= 0 && g.values[v].is_constant()) {
        params += g.values[v].constant.numel();
        param_bytes += g.values[v].constant.nbytes();
      }
    int64_t macs = NodeMacs(g, n);
    int64_t act = 0;
    for (int v : n.outputs)
      if (v >= 0 && StaticShape(g.values[v]))
        act += ShapeNumel(g.values[v].shape) * static_cast<int64_t>(DTypeSize(g.values[v].dtype));
    total_params += params;
    total_macs += macs;
    total_act += act;
    std::string op = n.op_type + (n.fused.kind != Activation::Kind::kNone ? "+" + n.fused.Name() : "");
    std::printf("  %-32s %-16s %-9s %12lld %12lld %14lld %-16s %s\n", n.name.substr(0, 32).c_str(), op.c_str(),
                Precision(g, n).c_str(), static_cast<long long>(params), static_cast<long long>(macs),
                static_cast<long long>(act),
                n.outputs.empty() || n.outputs[0] < 0 ? "" : DimsStr(g.values[n.outputs[0]]).c_str(),
                ni < kernels.size() ? kernels[ni].c_str() : "");
  }
  std::printf("total: %s parameters (%s), %s MACs, %s of activations written\n", Human(total_params, "").c_str(),
              Human(param_bytes, "B").c_str(), Human(total_macs, "").c_str(), Human(total_act, "B").c_str());
  int integer = 0;
  for (const Node& n : g.nodes) integer += Precision(g, n) != "float";
  bool quantized = false;
  for (const Value& v : g.values) quantized |= v.quant.has_value();
  bool qonnx_notes = false;
  for (const auto& kv : g.metadata)
    qonnx_notes |= kv.first.rfind("nibble.qonnx-float.", 0) == 0 || kv.first.rfind("nibble.fold-float.", 0) == 0;
  if (quantized || qonnx_notes) {
    std::printf("quantization: %d of %zu nodes run on integer codes\n", integer, g.nodes.size());
    for (const auto& [k, v] : g.metadata)
      if (k.rfind("nibble.float.", 0) == 0) std::printf("  float by choice: %s: %s\n", k.substr(13).c_str(), v.c_str());
      else if (k.rfind("nibble.fold-float.", 0) == 0 && HasNode(g, k.substr(18)))
        std::printf("  float (not folded onto codes): %s: %s\n", k.substr(18).c_str(), v.c_str());
      else if (k.rfind("nibble.qonnx-float.", 0) == 0 && HasNode(g, k.substr(19)))  // not folded away since
        std::printf("  float (QONNX reference kernel): %s: %s\n", k.substr(19).c_str(), v.c_str());
      else if (k == "nibble.quantize") std::printf("  quantized with: %s\n", v.c_str());
  }
  if (!arena.empty()) std::printf("%s\n", arena.c_str());
  return 0;
}

}  // namespace nibble::cli
