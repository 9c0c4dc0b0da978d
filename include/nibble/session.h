// The public entry point: load a model once, run it many times.
//
//   auto s = nibble::Session::Load("model.onnx", {.threads = 2});
//   std::vector<nibble::Tensor> out = s->Run({{"input", x}});
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nibble/tensor.h"

namespace nibble {

struct SessionOptions {
  int threads = 1;          // worker threads (0: all hardware threads)
  bool optimize = true;     // run the graph passes (folding, fusion, ...)
  std::vector<std::string> disabled_passes{};  // by name, to bisect a problem
  bool profile = false;     // time every step (see Session::profile())
};

// Time spent in one node over all runs since the session was made.
struct NodeProfile {
  std::string name, op_type;
  double total_ms = 0;
  int64_t calls = 0;
};

struct IoInfo {
  std::string name;
  DType dtype;
  Shape shape;  // -1 for dynamic dims
};

class Graph;

class Session {
 public:
  static std::unique_ptr<Session> Load(const std::string& model_path, const SessionOptions& opts = {});
  // Takes ownership of an already imported (and possibly rewritten) graph.
  static std::unique_ptr<Session> FromGraph(Graph graph, const SessionOptions& opts = {});
  ~Session();

  const std::vector<IoInfo>& inputs() const;
  const std::vector<IoInfo>& outputs() const;
  // Runs once; inputs by name, outputs in the model's output order.
  std::vector<Tensor> Run(const std::vector<std::pair<std::string, Tensor>>& inputs);

  // Called during Run with every graph input and every value a step computes
  // (by value id in graph()): how calibration and per-layer error analysis
  // see intermediate tensors. Pass nullptr to stop.
  void SetValueObserver(std::function<void(int value_id, const Tensor& t)> fn);

  // Per-node timings, in execution order (empty unless SessionOptions::profile).
  std::vector<NodeProfile> profile() const;

  // Per node of graph(), the kernel chosen for it (see OpKernel::KernelName).
  std::vector<std::string> kernel_names() const;

  // The optimized graph the session executes.
  const Graph& graph() const;
  // Bytes of the intermediate-value arena of the latest plan (and what it would be without reuse).
  int64_t arena_bytes() const;
  int64_t naive_bytes() const;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nibble
