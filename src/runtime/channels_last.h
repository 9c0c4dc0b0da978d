// Channels-last activations between the kernels that work on them.
//
// nibble's tensors are NCHW. The AMX convs compute on cells of channels (one
// output position's channels in a tile row), and the lanes-are-channels convs
// on tiles of positions x channels, so on NCHW they transpose their input
// and their results; a value that goes from one such
// conv to another (or through same-shape elementwise ops such as ResNet's
// residual Add) can stay channels-last instead and skip both transposes.
// Which values do is decided per plan, from the kernels' roles
// (OpKernel::ChannelsLast) for the planned shapes:
//   a value is channels-last when it is 8-bit codes of rank 3 or more, not a
//   graph input or output, produced as output 0 of an endpoint, elementwise
//   or producer kernel, and every consumer can read it so: an endpoint as its
//   input 0, an elementwise kernel when all its inputs and its output are
//   channels-last (a producer reads NCHW only).
// Starting from every candidate, values that break a rule are dropped until
// none does (dropping one can break the rule for its neighbours).
#pragma once
#include <memory>
#include <vector>

#include "runtime/op.h"
#include "runtime/planner.h"

namespace nibble {

// Per value id: true when it is kept channels-last. Tells each endpoint kernel
// its choice (OpKernel::SetChannelsLast); with `enabled` false, none is.
std::vector<char> AssignChannelsLast(const Graph& g, const std::vector<std::unique_ptr<OpKernel>>& kernels,
                                     const ExecutionPlan& plan, bool enabled);

// A channels-last tensor of 8-bit codes [N, C, *spatial] as NCHW (a copy).
Tensor ChannelsLastToNchw(const Tensor& t);

}  // namespace nibble
