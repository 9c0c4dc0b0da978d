// eliminate-identity: removes nodes that forward their input unchanged
// (Identity, inference-mode Dropout, Pad by zero).
#include "graph/passes.h"

namespace nibble {

namespace {
bool IsForwarding(const Graph& g, const Node& n, const std::vector<std::vector<int>>& consumers) {
  if (!n.domain.empty() || n.inputs.empty() || n.inputs[0] < 0) return false;
  if (n.op_type == "Identity") return true;
  if (n.op_type == "Pad") {
    // Zero pads (Brevitas writes them before its average pools) copy the input,
    // and would hide a DequantizeLinear from fold-qdq.
    if (n.attrs.Has("pads")) {  // opset < 11
      for (int64_t p : n.attrs.GetInts("pads"))
        if (p != 0) return false;
      return true;
    }
    if (n.inputs.size() < 2 || n.inputs[1] < 0 || !g.values[n.inputs[1]].is_constant()) return false;
    const Tensor& pads = g.values[n.inputs[1]].constant;
    for (int64_t k = 0; k < pads.numel(); ++k)
      if (pads.AsInt64(k) != 0) return false;
    return true;
  }
  if (n.op_type != "Dropout") return false;
  // Dropout is the identity unless training_mode is (or may be) true, or its mask is read.
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    const Value& tm = g.values[n.inputs[2]];
    if (!tm.is_constant() || tm.constant.numel() != 1 || tm.constant.AsDouble(0) != 0) return false;
  }
  if (n.outputs.size() > 1 && n.outputs[1] >= 0) {
    int mask = n.outputs[1];
    if (!consumers[mask].empty() || g.IsGraphOutput(mask)) return false;
  }
  return true;
}
}  // namespace

bool EliminateIdentityPass(Graph& g) {
  bool changed = false;
  std::vector<bool> remove(g.nodes.size(), false);
  auto consumers = g.Consumers();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (!IsForwarding(g, n, consumers)) continue;
    int x = n.inputs[0], y = n.outputs[0];
    if (y < 0) {
      remove[i] = true;
      changed = true;
      continue;
    }
    if (!g.IsGraphOutput(y)) {
      g.ReplaceUses(y, x);
      remove[i] = true;
      changed = true;
      continue;
    }
    // y is a graph output and keeps its name: let x's producer write y directly,
    // when x is nothing else's business.
    Value& xv = g.values[x];
    if (xv.producer < 0 || g.IsGraphOutput(x) || consumers[x].size() != 1) continue;
    for (int& o : g.nodes[xv.producer].outputs)
      if (o == x) o = y;
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
