// The optimization pipeline: named passes run in a fixed order. Constant
// folding lives here, not in graph/, because it evaluates ops with kernels.
#pragma once
#include <string>
#include <vector>

#include "graph/graph.h"

namespace nibble {

// Evaluates nodes whose inputs are all constants, replacing them by constants.
bool ConstantFoldingPass(Graph& g);

// Fills Value::dtype/shape by running shape inference with dynamic dims set
// to 1 (shapes are only recorded for values that depend on no dynamic dim).
// Best effort: leaves values unknown where inference cannot proceed.
void AnnotateValueTypes(Graph& g);

struct PassInfo {
  const char* name;
  bool (*run)(Graph&);  // null: not a graph rewrite but a session choice made when planning
};
// The session's channels-last activations (runtime/channels_last.h), which
// `disabled_passes` turns off like a pass.
constexpr const char* kChannelsLastPass = "channels-last";
// The passes in the order OptimizeGraph runs them.
const std::vector<PassInfo>& OptimizationPasses();
void OptimizeGraph(Graph& g, const std::vector<std::string>& disabled = {});

}  // namespace nibble
