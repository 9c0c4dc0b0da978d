// Measuring a model on data: classifier accuracy, and per-layer signal to
// quantization noise of a quantized model against its float original.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "nibble/session.h"

namespace nibble {

struct Accuracy {
  int64_t samples = 0, top1 = 0, top5 = 0;
  double ms_per_sample = 0;
  double top1_pct() const { return samples ? 100.0 * top1 / samples : 0; }
  double top5_pct() const { return samples ? 100.0 * top5 / samples : 0; }
};

// Runs the session on each sample; the first output is taken as class scores.
Accuracy EvaluateClassifier(Session& s, const Dataset& data, const std::vector<int64_t>& indices,
                            const std::string& label);

struct LayerError {
  std::string value, op;
  double sqnr_db = 0;  // 10 log10(sum x^2 / sum (x - x_hat)^2) over the samples
};

// Pairs each quantized value of `quant` with the float value of `fp` it
// approximates (by name, ignoring the _quantized/_prequant suffixes the
// quantizer adds) and returns their SQNR, worst first.
std::vector<LayerError> CompareLayers(Session& fp, Session& quant, const Dataset& data,
                                      const std::vector<int64_t>& indices);

}  // namespace nibble
