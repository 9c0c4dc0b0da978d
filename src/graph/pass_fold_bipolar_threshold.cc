// fold-qdq's bipolar step: a binarized layer becomes an ordinary integer
// layer, as FINN's streamlining makes it (a threshold on the accumulator).
//
//   DQ(xq) -> Conv(., DQ(wq) [, bias]) [-> BatchNormalization] -> BipolarQuant(., s) -> z
//   becomes
//   Conv(xq, w', b') -> codes (-1/+1) -> DQ(s) -> z
//
// BipolarQuant writes +s where its input is >= 0, else -s. Its input is an
// affine function of the exact integer accumulator per output channel c:
//   A_c * acc + B_c,  A_c = a_c * x_scale * w_scale[c],  B_c = a_c * bias[c] + shift_c,
// with BN's a_c = gamma[c] / sqrt(var[c] + eps), shift_c = beta[c] - mean[c] * a_c
// (no BatchNormalization: a_c = 1, shift_c = 0), so the
// sign is a comparison of acc with one integer threshold t_c:
//   A_c > 0: +1 iff acc >= t_c = ceil(-B_c / A_c);
//   A_c < 0: +1 iff acc <= -B_c / A_c, i.e. iff -acc >= t_c = ceil(B_c / A_c);
//   A_c = 0: a constant.
// An integer conv computes exactly that with doubled weights: w'_c = 2 w_c
// (-2 w_c when A_c < 0, 0 when A_c = 0) and bias b'_c = 1 - 2 t_c (+1 or -1
// for a constant) give acc' + b'_c = 2 (+-acc - t_c) + 1, odd, so never 0 and
// positive exactly when the channel writes +1. With w_scale' = s / x_scale the
// requantization multiplier is 1 and the output clamp of bipolar codes,
// [-1, 1], turns it into the code. No new operator: the layer runs on the
// int8 (or low-bit) conv kernels, and the next layer reads -1/+1 codes.
// The float graph computes the same sign up to float rounding, which can only
// differ where A_c * acc + B_c lies within a few ulps of 0.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "base/qonnx_quant.h"
#include "graph/batchnorm_affine.h"
#include "graph/passes.h"

namespace nibble {
namespace {

bool IsConst(const Graph& g, int v) { return v >= 0 && g.values[v].is_constant(); }

// The quantized value read by the DequantizeLinear that produces `v`, or -1.
int CodesBehind(const Graph& g, int v) {
  if (v < 0 || g.values[v].producer < 0) return -1;
  const Node& d = g.nodes[g.values[v].producer];
  if (d.op_type != "DequantizeLinear" || !d.domain.empty() || d.inputs.empty() || d.inputs[0] < 0) return -1;
  return g.values[d.inputs[0]].quant ? d.inputs[0] : -1;
}

// A constant float vector of n values (or one, broadcast), as doubles: the bias.
bool FloatVector(const Graph& g, int v, int64_t n, std::vector<double>& out) {
  if (!IsConst(g, v)) return false;
  const Tensor& t = g.values[v].constant;
  if (t.dtype() != DType::kFloat32 || (t.numel() != n && t.numel() != 1)) return false;
  out.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = t.data<float>()[t.numel() == 1 ? 0 : i];
  for (double d : out)
    if (!std::isfinite(d)) return false;
  return true;
}

// The conv's bias as float values: a float constant, or int32 codes behind a DQ.
bool BiasValues(const Graph& g, const Node& conv, int64_t channels, std::vector<double>& bias) {
  bias.assign(static_cast<size_t>(channels), 0.0);
  if (conv.inputs.size() < 3 || conv.inputs[2] < 0) return true;
  if (FloatVector(g, conv.inputs[2], channels, bias)) return true;
  const int bq = CodesBehind(g, conv.inputs[2]);
  if (bq < 0 || !IsConst(g, bq)) return false;
  const Tensor& codes = g.values[bq].constant;
  const QuantParams& p = *g.values[bq].quant;
  if (codes.dtype() != DType::kInt32 || codes.numel() != channels) return false;
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = p.scale.size() == 1 ? 0 : static_cast<size_t>(c);
    if (k >= p.scale.size() || k >= p.zero_point.size()) return false;
    bias[c] = (static_cast<double>(codes.data<int32_t>()[c]) - p.zero_point[k]) * p.scale[k];
  }
  return true;
}

struct Match {
  int conv = -1, bn = -1, bq = -1;  // nodes
  int xq = -1, wq = -1;             // codes
  double s = 0;                     // BipolarQuant's scale
};

// Conv [-> BN] -> BipolarQuant, each the only reader of the one before.
bool FindChain(const Graph& g, const std::vector<std::vector<int>>& consumers, int ci, Match& m) {
  const Node& conv = g.nodes[ci];
  if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 || conv.inputs.size() < 2 ||
      conv.fused.kind != Activation::Kind::kNone)
    return false;
  auto sole_reader = [&](int v) {
    return v >= 0 && !g.IsGraphOutput(v) && consumers[v].size() == 1 ? consumers[v][0] : -1;
  };
  m.conv = ci;
  int v = conv.outputs[0];
  int next = sole_reader(v);
  if (next < 0) return false;
  if (g.nodes[next].op_type == "BatchNormalization" && g.nodes[next].domain.empty()) {
    const Node& b = g.nodes[next];  // its parameters: BatchNormAffine, by the caller
    if (b.inputs.empty() || b.inputs[0] != v || b.outputs.empty()) return false;
    m.bn = next;
    v = b.outputs[0];
    next = sole_reader(v);
    if (next < 0) return false;
  }
  const Node& q = g.nodes[next];
  if (q.op_type != "BipolarQuant" || !qonnx::IsQonnxDomain(q.domain) || q.inputs.size() != 2 || q.inputs[0] != v ||
      q.outputs.size() != 1 || q.outputs[0] < 0 || !IsConst(g, q.inputs[1]))
    return false;
  const Tensor& st = g.values[q.inputs[1]].constant;
  if (st.numel() != 1 || !(std::isfinite(st.AsDouble(0)) && st.AsDouble(0) > 0)) return false;
  m.bq = next;
  m.s = st.AsDouble(0);
  m.xq = CodesBehind(g, conv.inputs[0]);
  m.wq = CodesBehind(g, conv.inputs[1]);
  if (m.xq < 0 || m.wq < 0 || !IsConst(g, m.wq)) return false;
  const QuantParams& xp = *g.values[m.xq].quant;
  const QuantParams& wp = *g.values[m.wq].quant;
  const Tensor& w = g.values[m.wq].constant;
  if (xp.bits > 8 || xp.per_channel() || xp.scale.size() != 1) return false;
  if (w.dtype() != DType::kInt8 || w.rank() < 3 || w.numel() == 0 || !wp.is_signed || wp.bits > 8) return false;
  if (xp.zero_point.size() != 1) return false;
  if (wp.per_channel() && (wp.axis != 0 || static_cast<int64_t>(wp.scale.size()) != w.dim(0))) return false;
  for (int32_t z : wp.zero_point)
    if (z != 0) return false;
  return true;
}

}  // namespace

bool FoldBipolarThresholds(Graph& g) {
  const auto consumers = g.Consumers();
  bool changed = false;
  std::vector<bool> remove(g.nodes.size(), false);
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    Match m;
    if (!FindChain(g, consumers, static_cast<int>(i), m)) continue;
    const Tensor w = g.values[m.wq].constant;  // a handle: g.values grows below
    const QuantParams xp = *g.values[m.xq].quant, wp = *g.values[m.wq].quant;
    const int64_t channels = w.dim(0), per = w.numel() / channels;
    // BN (or none: scale 1, shift 0) after the conv's bias.
    std::vector<double> bias, bn_scale(channels, 1.0), bn_shift(channels, 0.0);
    if (!BiasValues(g, g.nodes[i], channels, bias)) continue;
    if (m.bn >= 0 && !BatchNormAffine(g, g.nodes[m.bn], channels, bn_scale, bn_shift)) continue;
    // Every reachable accumulator lies within +-bound; thresholds beyond it
    // are clamped to +-(bound + 1) (the comparison is constant there).
    int64_t x_reach = 0;
    for (int32_t code : {xp.qmin(), xp.qmax()}) x_reach = std::max<int64_t>(x_reach, std::abs(code - xp.zero_point[0]));
    Tensor codes(DType::kInt8, w.shape());
    Tensor bias_codes(DType::kInt32, {channels});
    bool ok = true;
    for (int64_t c = 0; c < channels && ok; ++c) {
      const int8_t* wc = w.data<int8_t>() + c * per;
      int64_t wsum = 0;
      for (int64_t k = 0; k < per; ++k) wsum += std::abs(static_cast<int64_t>(wc[k]));
      const int64_t bound = x_reach * wsum;
      const double scale = static_cast<double>(xp.scale[0]) * wp.scale[wp.scale.size() == 1 ? 0 : c];
      const double A = bn_scale[c] * scale, B = bn_scale[c] * bias[c] + bn_shift[c];
      if (!std::isfinite(A) || !std::isfinite(B) || bound >= (int64_t{1} << 28)) {
        ok = false;
        break;
      }
      const int factor = A > 0 ? 2 : A < 0 ? -2 : 0;
      double t = A > 0 ? std::ceil(-B / A) : A < 0 ? std::ceil(B / A) : 0;
      t = std::clamp(t, -static_cast<double>(bound + 1), static_cast<double>(bound + 1));
      bias_codes.data<int32_t>()[c] = factor == 0 ? (B >= 0 ? 1 : -1) : 1 - 2 * static_cast<int32_t>(t);
      for (int64_t k = 0; k < per; ++k) {
        if (std::abs(static_cast<int>(wc[k])) > 63) ok = false;  // 2 w must fit int8
        codes.data<int8_t>()[c * per + k] = static_cast<int8_t>(factor * wc[k]);
      }
    }
    if (!ok) continue;

    const std::string conv_name = g.nodes[i].name;
    const int z = g.nodes[m.bq].outputs[0];
    const std::string base = conv_name.empty() ? g.values[z].name : conv_name;
    QuantParams wq2;  // multiplier x_scale * w_scale' / s = 1
    const CodeWidth width = WidthOfSignedCodes(codes.data<int8_t>(), codes.numel());
    wq2.bits = std::max(2, width.bits);  // doubled codes are even: never bipolar
    wq2.narrow = width.bits > 1 && width.narrow;
    wq2.scale = {static_cast<float>(m.s / xp.scale[0])};
    wq2.zero_point = {0};
    QuantParams bq2;
    bq2.bits = 32;
    bq2.scale = {static_cast<float>(static_cast<double>(xp.scale[0]) * wq2.scale[0])};
    bq2.zero_point = {0};
    QuantParams bip;
    bip.bits = 1;
    bip.scale = {static_cast<float>(m.s)};
    bip.zero_point = {0};
    const int wv = g.AddConstant(g.UniqueName(base + "_threshold_weights"), std::move(codes));
    g.values[wv].quant = wq2;
    const int bv = g.AddConstant(g.UniqueName(base + "_threshold_bias"), std::move(bias_codes));
    g.values[bv].quant = bq2;
    const int cv = g.AddValue(g.UniqueName(g.values[z].name + "_codes"));
    g.values[cv].dtype = DType::kInt8;
    g.values[cv].quant = bip;
    Tensor s_t(DType::kFloat32, {});
    s_t.data<float>()[0] = static_cast<float>(m.s);
    const int sv = g.AddConstant(g.UniqueName(base + "_threshold_scale"), std::move(s_t));
    const int zv = g.AddConstant(g.UniqueName(base + "_threshold_zero_point"), Tensor(DType::kInt8, {}));

    g.nodes[i].inputs = {m.xq, wv, bv};
    g.nodes[i].outputs = {cv};
    Node dq;
    dq.op_type = "DequantizeLinear";
    dq.name = base + "_threshold_dq";
    dq.inputs = {cv, sv, zv};
    dq.outputs = {z};
    g.nodes[m.bq] = std::move(dq);  // in place: z keeps one producer
    if (m.bn >= 0) remove[m.bn] = true;
    changed = true;
  }
  if (!changed) return false;
  g.RemoveNodes(remove);  // also drops the constants nothing reads now
  g.RebuildIndex();
  g.TopologicalSort();
  return true;
}

}  // namespace nibble
