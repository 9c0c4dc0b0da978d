#include "nibble/session.h"

#include <chrono>
#include <cstring>
#include <map>

#include "kernels/blas/blas_threads.h"
#include "graph/passes.h"
#include "onnx/import.h"
#include "runtime/op_registry.h"
#include "runtime/optimize.h"
#include "runtime/planner.h"

namespace nibble {

struct Session::Impl {
  Graph graph;
  std::vector<std::unique_ptr<OpKernel>> kernels;
  std::unique_ptr<ThreadPool> pool;
  std::vector<IoInfo> inputs, outputs;
  std::unique_ptr<ExecutionPlan> plan;
  std::vector<Shape> plan_shapes;  // input shapes the cached plan is for
  std::vector<uint8_t> arena;
  std::function<void(int, const Tensor&)> observer;
  int threads = 1;
  bool profiling = false;
  std::vector<NodeProfile> profile;  // per node index
};

namespace {

// Every node nibble cannot run, listed at once, before any work is done.
void CheckSupported(const Graph& g) {
  const OpRegistry& reg = OpRegistry::Get();
  std::vector<std::string> missing;
  for (const Node& n : g.nodes)
    if (!reg.Find(n.domain, n.op_type))
      missing.push_back(Cat("'", n.name, "' (", n.domain.empty() ? "" : n.domain + ".", n.op_type, ")"));
  if (missing.empty()) return;
  std::string list;
  for (size_t i = 0; i < missing.size(); ++i) list += (i ? ", " : "") + missing[i];
  Fail(g.path, ": ", missing.size(), " node(s) use operators nibble does not support: ", list);
}

IoInfo InfoOf(const Value& v) {
  IoInfo io{v.name, v.dtype, v.shape};
  if (!v.has_shape) io.shape.clear();
  return io;
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

std::unique_ptr<Session> Session::Load(const std::string& model_path, const SessionOptions& opts) {
  return FromGraph(ImportOnnxFile(model_path), opts);
}

std::unique_ptr<Session> Session::FromGraph(Graph graph, const SessionOptions& opts) {
  auto impl = std::make_unique<Impl>();
  // ONNX Runtime's contrib QOperator nodes have no kernels of their own: they
  // always become QDQ patterns (pass_lower_qoperator.cc).
  LowerQOperatorPass(graph, /*standard_ops=*/false);
  CheckSupported(graph);
  graph.TopologicalSort();
  if (opts.optimize) OptimizeGraph(graph, opts.disabled_passes);
  impl->graph = std::move(graph);
  Graph& g = impl->graph;
  for (const Node& n : g.nodes) {
    OpEnv env{g, n, g.opset};
    WithNodeContext(g, n, [&] { impl->kernels.push_back(OpRegistry::Get().Create(env)); });
  }
  int threads = opts.threads <= 0 ? DefaultThreadCount() : opts.threads;
  impl->pool = std::make_unique<ThreadPool>(threads);
  impl->profiling = opts.profile;
  for (const Node& n : g.nodes) impl->profile.push_back({n.name, n.op_type, 0, 0});
  impl->threads = threads;
  for (int v : g.inputs) impl->inputs.push_back(InfoOf(g.values[v]));
  for (int v : g.outputs) impl->outputs.push_back(InfoOf(g.values[v]));
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

const std::vector<IoInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<IoInfo>& Session::outputs() const { return impl_->outputs; }
void Session::SetValueObserver(std::function<void(int, const Tensor&)> fn) { impl_->observer = std::move(fn); }

std::vector<std::string> Session::kernel_names() const {
  std::vector<std::string> names;
  for (const auto& k : impl_->kernels) names.push_back(k->KernelName());
  return names;
}

std::vector<NodeProfile> Session::profile() const {
  std::vector<NodeProfile> r;
  for (const auto& p : impl_->profile)
    if (p.calls) r.push_back(p);
  return r;
}

const Graph& Session::graph() const { return impl_->graph; }
int64_t Session::arena_bytes() const { return impl_->plan ? impl_->plan->arena_bytes : 0; }
int64_t Session::naive_bytes() const { return impl_->plan ? impl_->plan->naive_bytes : 0; }

std::vector<Tensor> Session::Run(const std::vector<std::pair<std::string, Tensor>>& named) {
  Impl& s = *impl_;
  const Graph& g = s.graph;
  SetBlasThreads(s.threads);
  std::vector<const Tensor*> ins(g.inputs.size(), nullptr);
  for (const auto& [name, t] : named) {
    size_t i = 0;
    while (i < g.inputs.size() && g.values[g.inputs[i]].name != name) ++i;
    NIBBLE_CHECK(i < g.inputs.size(), g.path, ": the model has no input named '", name, "'");
    NIBBLE_CHECK(!ins[i], g.path, ": input '", name, "' is given twice");
    ins[i] = &t;
  }
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ins.size(); ++i) {
    NIBBLE_CHECK(ins[i], g.path, ": input '", g.values[g.inputs[i]].name, "' is missing");
    CheckInput(g, static_cast<int>(i), *ins[i]);
    shapes.push_back(ins[i]->shape());
  }

  if (!s.plan || s.plan->value_dependent || shapes != s.plan_shapes) {
    try {
      s.plan = std::make_unique<ExecutionPlan>(BuildPlan(g, s.kernels, ins, false, s.pool.get()));
    } catch (const ValueRequired&) {
      // A shape depends on an input's contents: plan with them, every run.
      s.plan = std::make_unique<ExecutionPlan>(BuildPlan(g, s.kernels, ins, true, s.pool.get()));
    }
    s.plan_shapes = shapes;
    if (s.arena.size() < static_cast<size_t>(s.plan->arena_bytes) + 64) s.arena.resize(s.plan->arena_bytes + 64);
  }
  ExecutionPlan& plan = *s.plan;
  uint8_t* base = s.arena.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;

  // Where each value lives during this run.
  std::vector<Tensor> live(g.values.size());
  for (size_t i = 0; i < ins.size(); ++i) live[g.inputs[i]] = *ins[i];
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!plan.known[v].empty()) live[v] = plan.known[v];
    else if (plan.arena_offset[v] >= 0)
      live[v] = Tensor::Borrow(plan.info[v].dtype, plan.info[v].shape, base + plan.arena_offset[v]);
  }
  for (int v : g.outputs)
    if (live[v].empty()) live[v] = Tensor(plan.info[v].dtype, plan.info[v].shape);

  if (s.observer)
    for (size_t i = 0; i < ins.size(); ++i) s.observer(g.inputs[i], *ins[i]);
  for (int n : plan.steps) {
    const Node& node = g.nodes[n];
    std::vector<const Tensor*> in;
    for (int v : node.inputs) in.push_back(v < 0 ? nullptr : &live[v]);
    std::vector<Tensor*> out;
    for (int v : node.outputs) {
      if (v >= 0 && live[v].empty()) live[v] = Tensor(plan.info[v].dtype, plan.info[v].shape);
      out.push_back(v < 0 ? nullptr : &live[v]);
    }
    RunContext rc(std::move(in), std::move(out), s.pool.get());
    auto t0 = s.profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    WithNodeContext(g, node, [&] { s.kernels[n]->Run(rc); });
    if (s.profiling) {
      s.profile[n].total_ms +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      s.profile[n].calls++;
    }
    if (s.observer)
      for (int v : node.outputs)
        if (v >= 0) s.observer(v, live[v]);
  }

  std::vector<Tensor> result;
  for (int v : g.outputs) {
    // Outputs that alias inputs or plan-time constants are copied, so callers own what they get.
    bool owned = plan.arena_offset[v] < 0 && plan.known[v].empty() &&
                 std::find(g.inputs.begin(), g.inputs.end(), v) == g.inputs.end();
    result.push_back(owned ? live[v] : live[v].Clone());
  }
  return result;
}

}  // namespace nibble
