// Post-training quantization: a float graph plus calibration data in, a QDQ
// graph out — the float graph with QuantizeLinear/DequantizeLinear pairs on
// every value that is to be held in 8 bits, and weights and biases stored as
// integers behind DequantizeLinear. That form is at once what nibble exports
// (standard ONNX that ONNX Runtime runs), what it imports from other
// quantizers, and, once the fold-qdq pass has turned each DQ -> op -> Q into
// an op over quantized values, what it runs integer-only.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "graph/graph.h"
#include "quant/observer.h"

namespace nibble {

// The precision of one compute layer: W bits for its weights, A bits for the
// activations it reads (both 1..8), written "w4a8".
struct LayerBits {
  int w = 8, a = 8;
  bool operator==(const LayerBits& o) const { return w == o.w && a == o.a; }
};
// Parses "wNaM" (N, M in 1..8); fails with a message naming `what`.
LayerBits ParseLayerBits(const std::string& s, const std::string& what);
std::string LayerBitsName(const LayerBits& b);

struct QuantizeOptions {
  CalibMethod method = CalibMethod::kMinMax;
  // Activations of this many bits or fewer are calibrated with kMse whatever
  // `method` says (0: never). Min/max ranges spend most of 2 or 3 bits on
  // outliers: the Fashion CNN at W2A2 scores 53% with minmax, 84% with mse.
  int mse_at_or_below_bits = 0;
  double percentile = 99.99;           // for CalibMethod::kPercentile
  bool per_channel = true;             // weights: one scale per output channel
  bool symmetric_activations = false;  // activations: zero point fixed at the middle
  bool signed_activations = false;     // activations int8 instead of uint8
  int64_t calib_size = 256;            // the first N samples of the calibration set
  std::vector<std::string> exclude;    // node names kept in float
  int threads = 1;
  // Widths. Weight layers (Conv, Gemm, MatMul) get `bits` unless listed in
  // `layer_bits` (by node name); with first_last_8bit the first and last weight
  // layers not listed there stay w8a8. A value is held at the widest A of the
  // layers that read it (through pass-through ops), 8 bits when no layer does.
  LayerBits bits;
  std::map<std::string, LayerBits> layer_bits;
  bool first_last_8bit = true;
};

// What happened to one node, for `nibble quantize` and `nibble inspect`.
struct NodeDecision {
  std::string node, op;
  bool integer = false;
  std::string reason;  // why it stays in float
  std::string precision;  // "w4a8" for weight layers that become integer, else ""
};

struct QuantizeResult {
  Graph graph;
  std::vector<NodeDecision> decisions;
};

QuantizeResult QuantizeGraph(Graph g, const Dataset& calib, const QuantizeOptions& o);

// The weight quantization used by QuantizeGraph, exposed for tests: symmetric
// int8 in [-127, 127], per channel along `axis` (or per tensor when axis < 0).
Tensor QuantizeWeights(const Tensor& w, int64_t axis, std::vector<float>& scales);
// Weights at `bits` (1..8) as int8 codes, symmetric, per channel along `axis`
// (per tensor when axis < 0). 8 bits: as QuantizeWeights. 2..7 bits: narrow
// range [-(2^(b-1)-1), 2^(b-1)-1], the clipping per channel chosen on a grid
// to minimize ||w - s*q||^2, then the scale refit by least squares (a few
// alternating rounds). 1 bit: bipolar codes sign(w) in {-1, +1} with scale
// mean|w| per channel (the least-squares optimum, as BipolarQuant).
Tensor QuantizeWeightsBits(const Tensor& w, int64_t axis, int bits, std::vector<float>& scales);

}  // namespace nibble
