#include "runtime/optimize.h"

#include <algorithm>

#include "graph/passes.h"
#include "runtime/op_registry.h"
#include "runtime/planner.h"

namespace nibble {
namespace {

// Folding a constant that expands into something huge would trade a cheap op
// for memory held for the session's life.
constexpr int64_t kMaxFoldedElements = 1 << 24;

bool AnnotatePass(Graph& g) {
  AnnotateValueTypes(g);
  return false;
}

}  // namespace

bool ConstantFoldingPass(Graph& g) {
  const OpRegistry& reg = OpRegistry::Get();
  ThreadPool pool(1);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  const auto consumers = g.Consumers();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const OpFactory* f = reg.Find(n.domain, n.op_type);
    if (!f) continue;
    // Quantized weights stay integers behind their DequantizeLinear (fold-qdq reads them).
    if (n.op_type == "DequantizeLinear" || n.op_type == "QuantizeLinear") continue;
    // So does the Clip that states their width (codes -> Clip -> DQ, the QCDQ form under 8 bits).
    if (n.op_type == "Clip" && n.domain.empty() && !n.inputs.empty() && n.inputs[0] >= 0 && n.outputs.size() == 1 &&
        n.outputs[0] >= 0 && (g.values[n.inputs[0]].dtype == DType::kInt8 || g.values[n.inputs[0]].dtype == DType::kUInt8)) {
      bool all_dq = !consumers[n.outputs[0]].empty();
      for (int c : consumers[n.outputs[0]]) all_dq &= g.nodes[c].op_type == "DequantizeLinear";
      if (all_dq) continue;
    }
    bool all_const = !n.inputs.empty();
    for (int v : n.inputs) all_const &= v < 0 || g.values[v].is_constant();
    if (!all_const) continue;
    OpEnv env{g, n, g.opset};
    auto kernel = reg.Create(env);
    std::vector<ValueInfo> infos;
    infos.reserve(n.inputs.size());
    std::vector<const ValueInfo*> in;
    std::vector<const Tensor*> tin;
    for (int v : n.inputs) {
      if (v < 0) {
        in.push_back(nullptr);
        tin.push_back(nullptr);
        continue;
      }
      const Tensor& c = g.values[v].constant;
      infos.push_back({c.dtype(), c.shape(), &c});
      in.push_back(&infos.back());
      tin.push_back(&c);
    }
    InferContext ctx(g, n, in, g.opset);
    kernel->Infer(ctx);
    std::vector<Tensor> outs(n.outputs.size());
    std::vector<Tensor*> pout;
    bool too_big = false;
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      if (n.outputs[o] < 0) {
        pout.push_back(nullptr);
        continue;
      }
      too_big |= ShapeNumel(ctx.output(o).shape) > kMaxFoldedElements;
      if (Tensor* known = ctx.output_value(o)) outs[o] = *known;
      else if (!too_big) outs[o] = Tensor(ctx.output(o).dtype, ctx.output(o).shape);
      pout.push_back(&outs[o]);
    }
    if (too_big) continue;
    RunContext rc(tin, pout, &pool);
    kernel->Run(rc);
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      int v = n.outputs[o];
      if (v < 0) continue;
      Value& val = g.values[v];
      val.dtype = outs[o].dtype();
      val.has_shape = true;
      val.shape = outs[o].shape();
      val.dim_params.assign(val.shape.size(), "");
      val.constant = std::move(outs[o]);
    }
    remove[i] = true;
    changed = true;
  }
  if (changed) {
    // The folded nodes' outputs are now constants without a producer.
    g.RemoveNodes(remove);
  }
  return changed;
}

void AnnotateValueTypes(Graph& g) {
  const OpRegistry& reg = OpRegistry::Get();
  std::vector<std::unique_ptr<OpKernel>> kernels;
  std::vector<Tensor> dummies;
  std::vector<bool> dynamic(g.values.size(), false);
  try {
    for (const Node& n : g.nodes) {
      const OpFactory* f = reg.Find(n.domain, n.op_type);
      if (!f) return;
      OpEnv env{g, n, g.opset};
      kernels.push_back(reg.Create(env));
    }
    for (int v : g.inputs) {
      const Value& val = g.values[v];
      if (!val.has_shape) return;
      Shape s = val.shape;
      for (int64_t& d : s)
        if (d < 0) {
          d = 1;
          dynamic[v] = true;
        }
      if (ShapeNumel(s) * static_cast<int64_t>(DTypeSize(val.dtype)) > (int64_t{1} << 30)) return;
      dummies.emplace_back(val.dtype, s);
    }
    std::vector<const Tensor*> ins;
    for (const Tensor& t : dummies) ins.push_back(&t);
    ThreadPool pool(1);
    ExecutionPlan plan = BuildPlan(g, kernels, ins, false, &pool);
    // A value's shape is static when no dynamic input reaches it.
    for (const Node& n : g.nodes) {
      bool dyn = false;
      for (int v : n.inputs) dyn |= v >= 0 && dynamic[v];
      for (int v : n.outputs)
        if (v >= 0) dynamic[v] = dyn;
    }
    for (size_t v = 0; v < g.values.size(); ++v) {
      Value& val = g.values[v];
      if (val.is_constant() || !plan.info[v].known()) continue;
      val.dtype = plan.info[v].dtype;
      if (!dynamic[v]) {
        val.has_shape = true;
        val.shape = plan.info[v].shape;
        val.dim_params.assign(val.shape.size(), "");
      }
    }
  } catch (const Error&) {
    // Best effort only: the real plan at run time reports real problems.
  }
}

const std::vector<PassInfo>& OptimizationPasses() {
  static const std::vector<PassInfo> passes = {
      {"lower-qoperator", [](Graph& g) { return LowerQOperatorPass(g); }},
      {"lower-qonnx", LowerQonnxPass},
      {"eliminate-identity", EliminateIdentityPass},
      {"constant-folding", ConstantFoldingPass},
      {"annotate-types", AnnotatePass},
      {"fold-batchnorm", FoldBatchNormPass},
      {"fold-qdq", FoldQdqPass},
      {"fuse-activation", FuseActivationPass},
      {"dead-node-elimination", DeadNodeEliminationPass},
      {kChannelsLastPass, nullptr},
  };
  return passes;
}

void OptimizeGraph(Graph& g, const std::vector<std::string>& disabled) {
  for (const std::string& d : disabled) {
    bool known = false;
    std::string names;
    for (const PassInfo& p : OptimizationPasses()) {
      known |= d == p.name;
      names += std::string(names.empty() ? "" : ", ") + p.name;
    }
    NIBBLE_CHECK(known, "unknown pass '", d, "' (passes: ", names, ")");
  }
  for (const PassInfo& p : OptimizationPasses()) {
    if (!p.run || std::find(disabled.begin(), disabled.end(), p.name) != disabled.end()) continue;
    p.run(g);
  }
}

}  // namespace nibble
