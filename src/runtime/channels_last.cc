#include "runtime/channels_last.h"

#include <algorithm>

namespace nibble {

std::vector<char> AssignChannelsLast(const Graph& g, const std::vector<std::unique_ptr<OpKernel>>& kernels,
                                     const ExecutionPlan& plan, bool enabled) {
  const size_t nv = g.values.size();
  std::vector<char> cl(nv, 0);
  std::vector<ChannelsLastRole> role(g.nodes.size(), ChannelsLastRole::kNone);
  std::vector<int> producer(nv, -1);
  std::vector<std::vector<std::pair<int, int>>> consumers(nv);  // (node, input slot)
  for (int n : plan.steps) {
    const Node& node = g.nodes[n];
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (node.inputs[i] >= 0) consumers[node.inputs[i]].push_back({n, static_cast<int>(i)});
    if (!node.outputs.empty() && node.outputs[0] >= 0) producer[node.outputs[0]] = n;
    if (!enabled) continue;
    std::vector<Shape> shapes;
    for (int v : node.inputs) shapes.push_back(v >= 0 ? plan.info[v].shape : Shape{});
    role[n] = kernels[n]->ChannelsLast(shapes);
  }
  auto is_graph_io = [&](int v) {
    return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end() ||
           std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
  };
  for (size_t v = 0; v < nv && enabled; ++v) {
    const int p = producer[v];
    const DType t = plan.info[v].dtype;
    cl[v] = p >= 0 && role[p] != ChannelsLastRole::kNone && plan.known[v].empty() && !is_graph_io(static_cast<int>(v)) &&
            (t == DType::kUInt8 || t == DType::kInt8) && plan.info[v].shape.size() >= 3;
  }
  // An elementwise node's inputs and output all channels-last.
  auto all_cl = [&](int n) {
    const Node& node = g.nodes[n];
    for (int v : node.inputs)
      if (v >= 0 && !cl[v]) return false;
    return node.outputs.size() == 1 && node.outputs[0] >= 0 && cl[node.outputs[0]];
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t v = 0; v < nv; ++v) {
      if (!cl[v]) continue;
      bool ok = role[producer[v]] != ChannelsLastRole::kElementwise || all_cl(producer[v]);
      for (const auto& [n, slot] : consumers[v]) {
        if (role[n] == ChannelsLastRole::kEndpoint) ok = ok && slot == 0;
        else if (role[n] == ChannelsLastRole::kElementwise) ok = ok && all_cl(n);
        else ok = false;
      }
      if (!ok) cl[v] = 0, changed = true;
    }
  }
  // Every kernel hears this plan's choice (all NCHW when disabled): it may
  // hold an earlier plan's. Only endpoints and producers act on it.
  for (int n : plan.steps) {
    const Node& node = g.nodes[n];
    const bool in = !node.inputs.empty() && node.inputs[0] >= 0 && cl[node.inputs[0]];
    const bool out = !node.outputs.empty() && node.outputs[0] >= 0 && cl[node.outputs[0]];
    kernels[n]->SetChannelsLast(in, out);
  }
  return cl;
}

Tensor ChannelsLastToNchw(const Tensor& t) {
  NIBBLE_CHECK(t.rank() >= 3 && DTypeSize(t.dtype()) == 1, "ChannelsLastToNchw: expected 8-bit codes [N, C, ...], got ",
               ShapeStr(t.shape()));
  Tensor out(t.dtype(), t.shape());
  const int64_t n = t.dim(0), c = t.dim(1), sp = t.numel() / std::max<int64_t>(1, n * c);
  const uint8_t* src = static_cast<const uint8_t*>(t.raw());
  uint8_t* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < sp; ++i)
      for (int64_t ch = 0; ch < c; ++ch) dst[(b * c + ch) * sp + i] = src[(b * sp + i) * c + ch];
  return out;
}

}  // namespace nibble
