// BatchNormalization in inference mode as a per-channel affine map,
// y = scale[c] * x + shift[c], for the passes that fold it into what precedes
// it (fold-batchnorm into float weights, fold-qdq's bipolar step into a
// threshold on the accumulator).
#pragma once
#include <cstdint>
#include <vector>

#include "graph/graph.h"

namespace nibble {

// scale = gamma / sqrt(var + eps), shift = beta - mean * scale, in double; false
// when the node is not an inference-mode BatchNormalization whose four
// parameters are constant float vectors of length c.
bool BatchNormAffine(const Graph& g, const Node& bn, int64_t c, std::vector<double>& scale, std::vector<double>& shift);

}  // namespace nibble
