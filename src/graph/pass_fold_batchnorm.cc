#include <cmath>

#include "graph/batchnorm_affine.h"
#include "graph/passes.h"

namespace nibble {
namespace {

bool FoldIntoConv(Graph& g, Node& conv, const std::vector<float>& s, const std::vector<float>& t) {
  const Tensor& w = g.values[conv.inputs[1]].constant;
  int64_t m = w.dim(0), per = w.numel() / m;
  Tensor nw = w.Clone();
  for (int64_t o = 0; o < m; ++o)
    for (int64_t j = 0; j < per; ++j) nw.data<float>()[o * per + j] *= s[o];
  Tensor nb(DType::kFloat32, {m});
  bool has_b = conv.inputs.size() > 2 && conv.inputs[2] >= 0;
  for (int64_t o = 0; o < m; ++o) {
    float b = has_b ? g.values[conv.inputs[2]].constant.data<float>()[o] : 0.f;
    nb.data<float>()[o] = b * s[o] + t[o];
  }
  conv.inputs[1] = g.AddConstant(g.values[conv.inputs[1]].name + "_bnfolded", std::move(nw));
  int bid = g.AddConstant(conv.name + "_bias_bnfolded", std::move(nb));
  if (conv.inputs.size() < 3) conv.inputs.resize(3, -1);
  conv.inputs[2] = bid;
  return true;
}

bool FoldIntoGemm(Graph& g, Node& gemm, const std::vector<float>& s, const std::vector<float>& t) {
  const Tensor& w = g.values[gemm.inputs[1]].constant;
  bool trans_b = gemm.attrs.GetInt("transB", 0) != 0;
  int64_t k = trans_b ? w.dim(1) : w.dim(0), n = trans_b ? w.dim(0) : w.dim(1);
  Tensor nw = w.Clone();
  float* pw = nw.data<float>();
  for (int64_t a = 0; a < k; ++a)
    for (int64_t o = 0; o < n; ++o) (trans_b ? pw[o * k + a] : pw[a * n + o]) *= s[o];
  float beta = gemm.attrs.GetFloat("beta", 1.f);
  bool has_c = gemm.inputs.size() > 2 && gemm.inputs[2] >= 0;
  Tensor nc(DType::kFloat32, {n});
  for (int64_t o = 0; o < n; ++o) {
    float c = 0;
    if (has_c) {
      const Tensor& ct = g.values[gemm.inputs[2]].constant;
      c = ct.numel() == 1 ? ct.data<float>()[0] : ct.data<float>()[o];
    }
    nc.data<float>()[o] = beta * c * s[o] + t[o];
  }
  gemm.inputs[1] = g.AddConstant(g.values[gemm.inputs[1]].name + "_bnfolded", std::move(nw));
  if (gemm.inputs.size() < 3) gemm.inputs.resize(3, -1);
  gemm.inputs[2] = g.AddConstant(gemm.name + "_bias_bnfolded", std::move(nc));
  gemm.attrs.SetFloat("beta", 1.f);
  return true;
}

}  // namespace

bool FoldBatchNormPass(Graph& g) {
  auto consumers = g.Consumers();
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& bn = g.nodes[i];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.empty() || bn.inputs[0] < 0) continue;
    int x = bn.inputs[0];
    int p = g.values[x].producer;
    if (p < 0 || consumers[x].size() != 1 || g.IsGraphOutput(x)) continue;
    Node& prod = g.nodes[p];
    if (prod.fused.kind != Activation::Kind::kNone || prod.inputs.size() < 2 || prod.inputs[1] < 0) continue;
    const Value& w = g.values[prod.inputs[1]];
    if (!w.is_constant() || w.constant.dtype() != DType::kFloat32) continue;
    bool has_bias = prod.inputs.size() > 2 && prod.inputs[2] >= 0;
    if (has_bias && !g.values[prod.inputs[2]].is_constant()) continue;
    // The float weights take BN's scale and shift rounded to float.
    std::vector<double> sd, td;
    auto affine = [&](int64_t c, std::vector<float>& s, std::vector<float>& t) {
      if (!BatchNormAffine(g, bn, c, sd, td)) return false;
      s.assign(sd.begin(), sd.end());
      t.assign(td.begin(), td.end());
      return true;
    };
    std::vector<float> s, t;
    bool folded = false;
    if (prod.op_type == "Conv" && w.constant.rank() >= 3) {
      if (affine(w.constant.dim(0), s, t)) folded = FoldIntoConv(g, prod, s, t);
    } else if (prod.op_type == "Gemm" && w.constant.rank() == 2) {
      int64_t n = prod.attrs.GetInt("transB", 0) ? w.constant.dim(0) : w.constant.dim(1);
      bool c_ok = !has_bias || g.values[prod.inputs[2]].constant.numel() == 1 ||
                  (g.values[prod.inputs[2]].constant.numel() == n && g.values[prod.inputs[2]].constant.rank() <= 2);
      if (c_ok && g.values[prod.inputs[2 - !has_bias]].dtype == DType::kFloat32 && affine(n, s, t))
        folded = FoldIntoGemm(g, prod, s, t);
    }
    if (!folded) continue;
    for (int& o : prod.outputs)
      if (o == x) o = bn.outputs[0];
    remove[i] = true;
    changed = true;
  }
  if (changed) {
    g.RemoveNodes(remove);
    g.TopologicalSort();
  }
  return changed;
}

}  // namespace nibble
