#include <limits>

#include "graph/passes.h"

namespace nibble {
namespace {

// The activation a node computes, if it can be fused; kNone otherwise.
Activation AsActivation(const Graph& g, const Node& n) {
  Activation a;
  if (!n.domain.empty() || n.inputs.empty()) return a;
  if (n.op_type == "Relu") a.kind = Activation::Kind::kRelu;
  else if (n.op_type == "HardSwish") a.kind = Activation::Kind::kHardSwish;
  else if (n.op_type == "LeakyRelu") {
    a.kind = Activation::Kind::kLeakyRelu;
    a.alpha = n.attrs.GetFloat("alpha", 0.01f);
  } else if (n.op_type == "Clip") {
    a.lo = -std::numeric_limits<float>::infinity();
    a.hi = std::numeric_limits<float>::infinity();
    for (int k = 1; k <= 2; ++k) {
      if (static_cast<int>(n.inputs.size()) <= k || n.inputs[k] < 0) continue;
      const Value& b = g.values[n.inputs[k]];
      if (!b.is_constant() || b.constant.dtype() != DType::kFloat32 || b.constant.numel() != 1) return a;
      (k == 1 ? a.lo : a.hi) = b.constant.data<float>()[0];
    }
    a.kind = Activation::Kind::kClip;
  }
  return a;
}

bool CanFuseInto(const Node& p) {
  return p.domain.empty() && p.fused.kind == Activation::Kind::kNone &&
         (p.op_type == "Conv" || p.op_type == "Gemm" || p.op_type == "MatMul" || p.op_type == "Add");
}

}  // namespace

bool FuseActivationPass(Graph& g) {
  auto consumers = g.Consumers();
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& act = g.nodes[i];
    Activation a = AsActivation(g, act);
    if (a.kind == Activation::Kind::kNone || act.inputs[0] < 0 || act.outputs.empty() || act.outputs[0] < 0) continue;
    int x = act.inputs[0];
    int p = g.values[x].producer;
    if (p < 0 || remove[p] || consumers[x].size() != 1 || g.IsGraphOutput(x)) continue;
    if (g.values[x].dtype != DType::kFloat32 || !CanFuseInto(g.nodes[p])) continue;
    Node& prod = g.nodes[p];
    if (prod.outputs.size() != 1) continue;
    prod.fused = a;
    prod.outputs[0] = act.outputs[0];
    remove[i] = true;
    changed = true;
  }
  if (changed) {
    g.RemoveNodes(remove);
    g.TopologicalSort();
  }
  return changed;
}

}  // namespace nibble
