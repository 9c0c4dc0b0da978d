// Planning a run: infer every value's type and shape for the given inputs,
// evaluate what is already known (shape arithmetic, constants), order the
// remaining nodes into steps and give each intermediate value an offset in one
// arena, reusing memory of values whose last reader has run.
#pragma once
#include <memory>
#include <vector>

#include "runtime/op.h"

namespace nibble {

struct ExecutionPlan {
  std::vector<ValueInfo> info;       // per value id
  std::vector<Tensor> known;         // per value id: contents known at plan time
  std::vector<int> steps;            // node indices to run, in order
  std::vector<int64_t> arena_offset; // per value id; -1 when not in the arena
  int64_t arena_bytes = 0;           // what the planner reserved
  int64_t naive_bytes = 0;           // what one buffer per value would need
  bool value_dependent = false;      // planned with input contents: re-plan each run
};

// `inputs` holds one tensor per graph input (same order). When
// `use_input_values` is set the inputs' contents are treated as known.
ExecutionPlan BuildPlan(const Graph& g, const std::vector<std::unique_ptr<OpKernel>>& kernels,
                        const std::vector<const Tensor*>& inputs, bool use_input_values, ThreadPool* pool);

// Checks a user tensor against the graph input's declared type and shape.
void CheckInput(const Graph& g, int input_index, const Tensor& t);

}  // namespace nibble
