#include "nibble/session.h"

#include <chrono>
#include <cstring>
#include <map>

#include "kernels/blas/blas_threads.h"
#include "runtime/channels_last.h"
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
  uint64_t plan_version = 0;       // counts plans built
  std::vector<uint8_t> arena;
  // Where each value lives during a run, and each step's input and output
  // pointers into that, kept from one run of a plan to the next: setting
  // them up allocated a shape per value and two vectors per node on every
  // run (a tenth of the Fashion-MNIST CNN's 20 us). Built for plan
  // live_version at arena address live_base.
  std::vector<Tensor> live;
  std::vector<RunContext> contexts;  // per plan step
  uint64_t live_version = 0;
  uint8_t* live_base = nullptr;
  std::function<void(int, const Tensor&)> observer;
  int threads = 1;
  bool profiling = false;
  bool channels_last = true;     // SessionOptions: not in disabled_passes
  std::vector<char> cl_values;   // per value id, for the plan: kept channels-last (channels_last.h)
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
  impl->channels_last = opts.optimize && std::find(opts.disabled_passes.begin(), opts.disabled_passes.end(),
                                                   std::string(kChannelsLastPass)) == opts.disabled_passes.end();
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
  bool same_shapes = s.plan_shapes.size() == ins.size();
  for (size_t i = 0; i < ins.size(); ++i) {
    NIBBLE_CHECK(ins[i], g.path, ": input '", g.values[g.inputs[i]].name, "' is missing");
    CheckInput(g, static_cast<int>(i), *ins[i]);
    same_shapes = same_shapes && ins[i]->shape() == s.plan_shapes[i];
  }

  if (!s.plan || s.plan->value_dependent || !same_shapes) {
    std::vector<Shape> shapes;
    for (const Tensor* t : ins) shapes.push_back(t->shape());
    ++s.plan_version;
    try {
      s.plan = std::make_unique<ExecutionPlan>(BuildPlan(g, s.kernels, ins, false, s.pool.get()));
    } catch (const ValueRequired&) {
      // A shape depends on an input's contents: plan with them, every run.
      s.plan = std::make_unique<ExecutionPlan>(BuildPlan(g, s.kernels, ins, true, s.pool.get()));
    }
    s.plan_shapes = shapes;
    s.cl_values = AssignChannelsLast(g, s.kernels, *s.plan, s.channels_last);
    if (s.arena.size() < static_cast<size_t>(s.plan->arena_bytes) + 64) s.arena.resize(s.plan->arena_bytes + 64);
  }
  ExecutionPlan& plan = *s.plan;
  uint8_t* base = s.arena.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;

  // Where each value lives during this run: the plan's constants, views of
  // the arena, and empty slots for the rest. A kernel may have replaced its
  // output tensor last run (with a view of its input, say): such slots are
  // put back, so every run starts as if the slots were new.
  std::vector<Tensor>& live = s.live;
  const bool rebuild = s.live_version != s.plan_version || s.live_base != base;
  if (rebuild) live.assign(g.values.size(), Tensor());
  for (size_t v = 0; v < g.values.size(); ++v) {
    Tensor& t = live[v];
    if (!plan.known[v].empty()) {
      if (t.raw() != plan.known[v].raw() || t.dtype() != plan.known[v].dtype() || t.shape() != plan.known[v].shape())
        t = plan.known[v];
    } else if (plan.arena_offset[v] >= 0) {
      void* at = base + plan.arena_offset[v];
      if (t.raw() != at || t.dtype() != plan.info[v].dtype || t.shape() != plan.info[v].shape)
        t = Tensor::Borrow(plan.info[v].dtype, plan.info[v].shape, at);
    } else if (!t.empty()) {
      t = Tensor();
    }
  }
  if (rebuild) {
    s.contexts.clear();
    for (int n : plan.steps) {
      const Node& node = g.nodes[n];
      std::vector<const Tensor*> in;
      for (int v : node.inputs) in.push_back(v < 0 ? nullptr : &live[v]);
      std::vector<Tensor*> out;
      for (int v : node.outputs) out.push_back(v < 0 ? nullptr : &live[v]);
      s.contexts.emplace_back(std::move(in), std::move(out), s.pool.get());
    }
    s.live_version = s.plan_version;
    s.live_base = base;
  }
  // The caller's inputs and the returned outputs are not held past this run.
  struct Release {
    std::vector<Tensor>& live;
    const Graph& g;
    ~Release() {
      for (int v : g.inputs) live[v] = Tensor();
      for (int v : g.outputs) live[v] = Tensor();
    }
  } release{live, g};
  for (size_t i = 0; i < ins.size(); ++i) live[g.inputs[i]] = *ins[i];
  for (int v : g.outputs)
    if (live[v].empty()) live[v] = Tensor(plan.info[v].dtype, plan.info[v].shape);

  if (s.observer)
    for (size_t i = 0; i < ins.size(); ++i) s.observer(g.inputs[i], *ins[i]);
  for (size_t step = 0; step < plan.steps.size(); ++step) {
    const int n = plan.steps[step];
    const Node& node = g.nodes[n];
    for (int v : node.outputs)
      if (v >= 0 && live[v].empty()) live[v] = Tensor(plan.info[v].dtype, plan.info[v].shape);
    RunContext& rc = s.contexts[step];
    auto t0 = s.profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    WithNodeContext(g, node, [&] { s.kernels[n]->Run(rc); });
    if (s.profiling) {
      s.profile[n].total_ms +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      s.profile[n].calls++;
    }
    if (s.observer) {
      for (int v : node.outputs) {
        if (v >= 0 && s.cl_values[v]) s.observer(v, ChannelsLastToNchw(live[v]));  // observers see NCHW
        else if (v >= 0) s.observer(v, live[v]);
      }
    }
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
