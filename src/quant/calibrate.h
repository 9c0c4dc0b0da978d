// Runs the float graph over calibration samples and collects, for every
// float value, the statistics the calibration methods choose ranges from.
#pragma once
#include <vector>

#include "data/dataset.h"
#include "graph/graph.h"
#include "quant/observer.h"

namespace nibble {

// One observer per value id of `g` (the graph is run as given: no passes).
// Histograms are collected (a second pass) only when `method` needs them.
std::vector<ValueObserver> Calibrate(const Graph& g, const Dataset& data, const std::vector<int64_t>& indices,
                                     CalibMethod method, int threads);

// A dataset sample as named session inputs (an empty name means the single input).
std::vector<std::pair<std::string, Tensor>> SampleInputs(const Graph& g, const Sample& s);

}  // namespace nibble
