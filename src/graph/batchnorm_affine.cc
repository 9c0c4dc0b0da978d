#include "graph/batchnorm_affine.h"

#include <cmath>

namespace nibble {

bool BatchNormAffine(const Graph& g, const Node& bn, int64_t c, std::vector<double>& scale, std::vector<double>& shift) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() != 5 || bn.outputs.empty())
    return false;
  for (size_t o = 1; o < bn.outputs.size(); ++o)
    if (bn.outputs[o] >= 0) return false;  // training mode's running statistics are read
  if (bn.attrs.GetInt("training_mode", 0) != 0) return false;
  const Tensor* p[4];
  for (int i = 0; i < 4; ++i) {
    int v = bn.inputs[i + 1];
    if (v < 0 || !g.values[v].is_constant()) return false;
    p[i] = &g.values[v].constant;
    if (p[i]->dtype() != DType::kFloat32 || p[i]->numel() != c) return false;
  }
  const float eps = bn.attrs.GetFloat("epsilon", 1e-5f);
  scale.resize(c);
  shift.resize(c);
  for (int64_t k = 0; k < c; ++k) {
    scale[k] = p[0]->data<float>()[k] / std::sqrt(static_cast<double>(p[3]->data<float>()[k]) + eps);
    shift[k] = p[1]->data<float>()[k] - p[2]->data<float>()[k] * scale[k];
  }
  return true;
}

}  // namespace nibble
