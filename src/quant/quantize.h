// Post-training quantization: a float graph plus calibration data in, a QDQ
// graph out — the float graph with QuantizeLinear/DequantizeLinear pairs on
// every value that is to be held in 8 bits, and weights and biases stored as
// integers behind DequantizeLinear. That form is at once what nibble exports
// (standard ONNX that ONNX Runtime runs), what it imports from other
// quantizers, and, once the fold-qdq pass has turned each DQ -> op -> Q into
// an op over quantized values, what it runs integer-only.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "graph/graph.h"
#include "quant/observer.h"

namespace nibble {

struct QuantizeOptions {
  CalibMethod method = CalibMethod::kMinMax;
  double percentile = 99.99;           // for CalibMethod::kPercentile
  bool per_channel = true;             // weights: one scale per output channel
  bool symmetric_activations = false;  // activations: zero point fixed at the middle
  bool signed_activations = false;     // activations int8 instead of uint8
  int64_t calib_size = 256;            // the first N samples of the calibration set
  std::vector<std::string> exclude;    // node names kept in float
  int threads = 1;
};

// What happened to one node, for `nibble quantize` and `nibble inspect`.
struct NodeDecision {
  std::string node, op;
  bool integer = false;
  std::string reason;  // why it stays in float
};

struct QuantizeResult {
  Graph graph;
  std::vector<NodeDecision> decisions;
};

QuantizeResult QuantizeGraph(Graph g, const Dataset& calib, const QuantizeOptions& o);

// The weight quantization used by QuantizeGraph, exposed for tests: symmetric
// int8 in [-127, 127], per channel along `axis` (or per tensor when axis < 0).
Tensor QuantizeWeights(const Tensor& w, int64_t axis, std::vector<float>& scales);

}  // namespace nibble
