#include "runtime/planner.h"

#include <algorithm>

namespace nibble {
namespace {

constexpr int64_t kAlign = 64;
// Nodes whose inputs are all known and whose outputs are this small are
// evaluated while planning (shape arithmetic); bigger ones run as steps.
constexpr int64_t kFoldMaxElements = 1 << 16;

struct Interval {
  int value;
  int64_t bytes;
  int start, end;
};

// Greedy best-offset placement, largest first: a value goes at the lowest
// offset that does not collide with any placed value alive at the same time.
int64_t AssignOffsets(std::vector<Interval>& items, std::vector<int64_t>& offset) {
  std::sort(items.begin(), items.end(), [](const Interval& a, const Interval& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.start < b.start;
  });
  std::vector<const Interval*> placed;
  int64_t total = 0;
  for (Interval& it : items) {
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (const Interval* p : placed)
      if (p->start <= it.end && it.start <= p->end) busy.push_back({offset[p->value], offset[p->value] + p->bytes});
    std::sort(busy.begin(), busy.end());
    int64_t at = 0;
    for (const auto& b : busy) {
      if (at + it.bytes <= b.first) break;
      at = std::max(at, b.second);
    }
    offset[it.value] = at;
    total = std::max(total, at + it.bytes);
    placed.push_back(&it);
  }
  return total;
}

}  // namespace

void CheckInput(const Graph& g, int input_index, const Tensor& t) {
  const Value& v = g.values[g.inputs[input_index]];
  NIBBLE_CHECK(t.dtype() == v.dtype, g.path, ": input '", v.name, "' expects ", DTypeName(v.dtype), ", got ",
               DTypeName(t.dtype()));
  if (!v.has_shape) return;
  bool ok = t.rank() == static_cast<int64_t>(v.shape.size());
  for (size_t i = 0; ok && i < v.shape.size(); ++i) ok = v.shape[i] < 0 || v.shape[i] == t.shape()[i];
  if (!ok) {
    std::string want = "[";
    for (size_t i = 0; i < v.shape.size(); ++i) {
      if (i) want += ",";
      want += v.shape[i] >= 0 ? std::to_string(v.shape[i]) : (v.dim_params[i].empty() ? "?" : v.dim_params[i]);
    }
    Fail(g.path, ": input '", v.name, "' expects shape ", want, "], got ", ShapeStr(t.shape()));
  }
}

ExecutionPlan BuildPlan(const Graph& g, const std::vector<std::unique_ptr<OpKernel>>& kernels,
                        const std::vector<const Tensor*>& inputs, bool use_input_values, ThreadPool* pool) {
  ExecutionPlan plan;
  plan.value_dependent = use_input_values;
  const size_t nv = g.values.size();
  plan.info.resize(nv);
  plan.known.resize(nv);
  plan.arena_offset.assign(nv, -1);

  for (size_t v = 0; v < nv; ++v) {
    if (!g.values[v].is_constant()) continue;
    plan.known[v] = g.values[v].constant;
    plan.info[v] = {g.values[v].constant.dtype(), g.values[v].constant.shape(), &plan.known[v]};
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    int v = g.inputs[i];
    plan.info[v].dtype = inputs[i]->dtype();
    plan.info[v].shape = inputs[i]->shape();
    if (use_input_values) {
      plan.known[v] = *inputs[i];
      plan.info[v].value = &plan.known[v];
    }
  }

  std::vector<int> step_of(nv, -1);  // for values produced by a step
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    std::vector<const ValueInfo*> in;
    bool all_known = true;
    for (int v : node.inputs) {
      if (v < 0) {
        in.push_back(nullptr);
        continue;
      }
      NIBBLE_CHECK(plan.info[v].known(), g.Where(node), ": input '", g.values[v].name, "' has no inferred type");
      in.push_back(&plan.info[v]);
      all_known &= plan.info[v].value != nullptr;
    }
    InferContext ctx(g, node, std::move(in), g.opset);
    WithNodeContext(g, node, [&] { kernels[n]->Infer(ctx); });
    int64_t out_elems = 0;
    bool outputs_known = true;
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      int v = node.outputs[o];
      if (v < 0) continue;
      NIBBLE_CHECK(ctx.output(o).known(), g.Where(node), ": output ", o, " was not inferred");
      plan.info[v] = ctx.output(o);
      out_elems += ShapeNumel(plan.info[v].shape);
      if (Tensor* t = ctx.output_value(o)) {
        plan.known[v] = std::move(*t);
        plan.info[v].value = &plan.known[v];
      } else {
        outputs_known = false;
      }
    }
    if (outputs_known) continue;
    if (all_known && out_elems <= kFoldMaxElements) {
      // Evaluate now: the result is the same for every run with these input shapes.
      std::vector<const Tensor*> ins;
      for (int v : node.inputs) ins.push_back(v < 0 ? nullptr : &plan.known[v]);
      std::vector<Tensor*> outs;
      for (int v : node.outputs) {
        if (v < 0) {
          outs.push_back(nullptr);
          continue;
        }
        WithNodeContext(g, node, [&] { plan.known[v] = Tensor(plan.info[v].dtype, plan.info[v].shape); });
        outs.push_back(&plan.known[v]);
      }
      RunContext rc(std::move(ins), std::move(outs), pool);
      WithNodeContext(g, node, [&] { kernels[n]->Run(rc); });
      for (int v : node.outputs)
        if (v >= 0) plan.info[v].value = &plan.known[v];
      continue;
    }
    int step = static_cast<int>(plan.steps.size());
    plan.steps.push_back(static_cast<int>(n));
    for (int v : node.outputs)
      if (v >= 0) step_of[v] = step;
  }

  // Liveness of step-produced values that are not graph outputs.
  std::vector<int> last_use(nv, -1);
  for (size_t s = 0; s < plan.steps.size(); ++s)
    for (int v : g.nodes[plan.steps[s]].inputs)
      if (v >= 0) last_use[v] = static_cast<int>(s);
  std::vector<Interval> items;
  for (size_t v = 0; v < nv; ++v) {
    if (step_of[v] < 0 || g.IsGraphOutput(static_cast<int>(v))) continue;
    int64_t bytes = ShapeNumel(plan.info[v].shape) * static_cast<int64_t>(DTypeSize(plan.info[v].dtype));
    bytes = (bytes + kAlign - 1) / kAlign * kAlign;
    plan.naive_bytes += bytes;
    items.push_back({static_cast<int>(v), bytes, step_of[v], std::max(step_of[v], last_use[v])});
  }
  plan.arena_bytes = AssignOffsets(items, plan.arena_offset);
  return plan;
}

}  // namespace nibble
