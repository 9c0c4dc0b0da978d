// The contract between the runtime and an operator. One OpKernel instance is
// made per node when a session is created (so attributes are parsed and
// checked once, before anything runs); Infer computes output types and shapes
// from input types/shapes (and contents where known); Run computes.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "graph/graph.h"

namespace nibble {

// What the planner knows about a value: its type, shape and, for constants
// and shape-derived values, its contents.
struct ValueInfo {
  DType dtype = DType::kUndefined;
  Shape shape;
  const Tensor* value = nullptr;
  bool known() const { return dtype != DType::kUndefined; }
};

// Thrown by Infer when an output shape depends on the contents of an input
// that is only known at run time; the planner then plans per run.
class ValueRequired : public Error {
 public:
  using Error::Error;
};

class InferContext {
 public:
  InferContext(const Graph& g, const Node& n, std::vector<const ValueInfo*> in, int64_t opset)
      : graph_(g), node_(n), in_(std::move(in)), out_(n.outputs.size()), values_(n.outputs.size()), opset_(opset) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  int num_inputs() const { return static_cast<int>(in_.size()); }
  bool has_input(int i) const { return i < num_inputs() && in_[i] != nullptr; }
  const ValueInfo& input(int i) const;
  DType dtype(int i) const { return input(i).dtype; }
  const Shape& shape(int i) const { return input(i).shape; }
  // The contents of input i; throws ValueRequired if only known at run time.
  const Tensor& value(int i) const;
  bool has_value(int i) const { return has_input(i) && in_[i]->value != nullptr; }

  int num_outputs() const { return static_cast<int>(out_.size()); }
  bool has_output(int i) const { return i < num_outputs() && node_.outputs[i] >= 0; }
  void set_output(int i, DType t, Shape s);
  // For ops like Shape whose result is known while planning.
  void set_output_value(int i, Tensor t);
  const ValueInfo& output(int i) const { return out_[i]; }
  Tensor* output_value(int i) { return values_[i].empty() ? nullptr : &values_[i]; }

  std::string where() const { return graph_.Where(node_); }
  template <class... A>
  [[noreturn]] void Fail(const A&... a) const { ::nibble::Fail(where(), ": ", a...); }

 private:
  const Graph& graph_;
  const Node& node_;
  std::vector<const ValueInfo*> in_;
  std::vector<ValueInfo> out_;
  std::vector<Tensor> values_;
  int64_t opset_;
};

class RunContext {
 public:
  RunContext(std::vector<const Tensor*> in, std::vector<Tensor*> out, ThreadPool* pool)
      : in_(std::move(in)), out_(std::move(out)), pool_(pool) {}
  int num_inputs() const { return static_cast<int>(in_.size()); }
  bool has_input(int i) const { return i < num_inputs() && in_[i] != nullptr; }
  const Tensor& input(int i) const { return *in_[i]; }
  int num_outputs() const { return static_cast<int>(out_.size()); }
  bool has_output(int i) const { return i < num_outputs() && out_[i] != nullptr; }
  Tensor& output(int i) { return *out_[i]; }
  ThreadPool& pool() { return *pool_; }

 private:
  std::vector<const Tensor*> in_;
  std::vector<Tensor*> out_;
  ThreadPool* pool_;
};

// A kernel's part in channels-last activations (runtime/channels_last.h):
// the session keeps a value [N, C, *spatial] in NHWC order (an image's
// positions one after another, each with its C channels contiguous) when its
// producer and every consumer can work on it that way.
enum class ChannelsLastRole {
  kNone,         // NCHW only (the default)
  kEndpoint,     // may read input 0 and write output 0 channels-last, each on its own (AMX and lanes-are-channels convs)
  kElementwise,  // inputs and output of one shape, element by element: any layout, if all share it
  kProducer,     // reads input 0 NCHW only, may write output 0 channels-last (MaxPool, transposing its result)
};

// The suffix `nibble inspect` gives a kernel's name for the layouts it was
// told (SetChannelsLast): " (channels-last in)", " (channels-last out)",
// " (channels-last in and out)", or "" for NCHW.
inline std::string ChannelsLastNote(bool input, bool output) {
  if (input && output) return " (channels-last in and out)";
  if (input) return " (channels-last in)";
  if (output) return " (channels-last out)";
  return "";
}

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  // The kernel's part for these (planned) input shapes.
  virtual ChannelsLastRole ChannelsLast(const std::vector<Shape>& inputs) {
    (void)inputs;
    return ChannelsLastRole::kNone;
  }
  // The session's choice for input 0 and output 0, told every kernel per
  // plan; kEndpoint and kProducer kernels act on it.
  virtual void SetChannelsLast(bool input, bool output) { (void)input, (void)output; }
  virtual void Infer(InferContext& ctx) = 0;
  virtual void Run(RunContext& ctx) = 0;
  // The kernel that runs this node when there is a choice (e.g.
  // "conv_q8_gemm_avx512vnni"), for `nibble inspect`; empty when there is none
  // or it is chosen at the first run and no run happened yet.
  virtual std::string KernelName() const { return ""; }
};

// Everything a kernel's constructor may look at.
struct OpEnv {
  const Graph& graph;
  const Node& node;
  int64_t opset;
  std::string where() const { return graph.Where(node); }
  // Constant contents of input i, or nullptr (weights that a kernel may prepack).
  const Tensor* constant_input(int i) const;
};

// Runs fn; an Error that does not yet say which node it is about gets the
// "file: node 'name' (Op): " prefix. ValueRequired passes through unchanged.
template <class F>
void WithNodeContext(const Graph& g, const Node& n, F&& fn) {
  try {
    fn();
  } catch (const ValueRequired&) {
    throw;
  } catch (const Error& e) {
    std::string where = g.Where(n);
    std::string msg = e.what();
    if (msg.find(where) != std::string::npos) throw;
    throw Error(where + ": " + msg);
  }
}

using OpFactory = std::function<std::unique_ptr<OpKernel>(const OpEnv&)>;

template <class K>
OpFactory MakeFactory() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<K>(env); };
}

}  // namespace nibble
