#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "graph/passes.h"
#include "quant/calibrate.h"
#include "runtime/optimize.h"

namespace nibble {
namespace {

enum class Role { kFloat, kCompute, kPassThrough, kUnary };

const std::set<std::string> kPassThroughOps = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
                                               "MaxPool", "Identity", "Slice", "Resize"};
const std::set<std::string> kUnaryOps = {"Relu",        "Clip", "LeakyRelu", "Sigmoid", "Tanh",
                                         "HardSwish",   "HardSigmoid", "Gelu", "Erf"};

bool IsFloatConst(const Graph& g, int v) {
  return v >= 0 && g.values[v].is_constant() && g.values[v].constant.dtype() == DType::kFloat32;
}
bool IsFloatActivation(const Graph& g, int v) {
  return v >= 0 && !g.values[v].is_constant() && g.values[v].dtype == DType::kFloat32;
}

// Why `n` cannot be an integer compute op ("" when it can).
std::string ComputeBlocker(const Graph& g, const Node& n) {
  auto in = [&](int i) { return i < static_cast<int>(n.inputs.size()) ? n.inputs[i] : -1; };
  if (n.op_type == "Conv") {
    if (!IsFloatActivation(g, in(0))) return "input is not a float activation";
    if (!IsFloatConst(g, in(1))) return "weights are not constant";
    if (in(2) >= 0 && !IsFloatConst(g, in(2))) return "bias is not constant";
    return "";
  }
  if (n.op_type == "Gemm") {
    if (n.attrs.GetInt("transA", 0)) return "transA=1 is not supported in integer";
    if (!IsFloatActivation(g, in(0))) return "input is not a float activation";
    if (!IsFloatConst(g, in(1))) return "weights are not constant";
    if (in(2) >= 0) {
      if (!IsFloatConst(g, in(2))) return "C is not constant";
      const Tensor& c = g.values[in(2)].constant;
      const Tensor& b = g.values[in(1)].constant;
      int64_t nout = n.attrs.GetInt("transB", 0) ? b.dim(0) : b.dim(1);
      if (c.numel() != 1 && !(c.numel() == nout && (c.rank() == 1 || c.dim(0) == 1)))
        return "C is not a per-output bias";
    }
    return "";
  }
  if (n.op_type == "MatMul") {
    if (!IsFloatActivation(g, in(0))) return "input is not a float activation";
    if (!IsFloatConst(g, in(1)) || g.values[in(1)].constant.rank() != 2)
      return "the second operand is not a constant matrix";
    return "";
  }
  if (n.op_type == "Add" || n.op_type == "Mul") {
    for (int i = 0; i < 2; ++i)
      if (!IsFloatActivation(g, in(i)) && !IsFloatConst(g, in(i))) return "inputs are not float";
    if (!IsFloatActivation(g, in(0)) && !IsFloatActivation(g, in(1))) return "both inputs are constants";
    return "";
  }
  if (n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool")
    return IsFloatActivation(g, in(0)) ? "" : "input is not a float activation";
  if (n.op_type == "Concat") {
    for (int v : n.inputs)
      if (!IsFloatActivation(g, v)) return "an input is not a float activation";
    return "";
  }
  return "no integer kernel for " + n.op_type;
}

// Adds QuantizeLinear/DequantizeLinear constants for params `p` and returns (scale, zero point) ids.
std::pair<int, int> ParamConstants(Graph& g, const std::string& base, const QuantParams& p, DType zp_type) {
  Tensor s(DType::kFloat32, p.per_channel() ? Shape{static_cast<int64_t>(p.scale.size())} : Shape{});
  std::copy(p.scale.begin(), p.scale.end(), s.data<float>());
  Tensor z(zp_type, s.shape());
  for (size_t i = 0; i < p.scale.size(); ++i) {
    int32_t zp = p.zero_point.empty() ? 0 : p.zero_point[i];
    if (zp_type == DType::kUInt8) z.data<uint8_t>()[i] = static_cast<uint8_t>(zp);
    else if (zp_type == DType::kInt8) z.data<int8_t>()[i] = static_cast<int8_t>(zp);
    else z.data<int32_t>()[i] = zp;
  }
  return {g.AddConstant(base + "_scale", std::move(s)), g.AddConstant(base + "_zero_point", std::move(z))};
}

Node MakeNode(const std::string& op, const std::string& name, std::vector<int> ins, std::vector<int> outs) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(ins);
  n.outputs = std::move(outs);
  return n;
}

// Under 8 bits, codes `q` go through Clip(qmin, qmax) before their DQ (the
// QCDQ form, as Brevitas writes it; fold-qdq reads the width back from the
// bounds). Returns the value the DQ reads.
int ClipToWidth(Graph& g, int q, const std::string& base, const QuantParams& p, DType qtype, std::vector<Node>& added) {
  if (p.bits >= 8) return q;
  Tensor lo(qtype, {}), hi(qtype, {});
  if (qtype == DType::kInt8) {
    *lo.data<int8_t>() = static_cast<int8_t>(p.qmin());
    *hi.data<int8_t>() = static_cast<int8_t>(p.qmax());
  } else {
    *lo.data<uint8_t>() = static_cast<uint8_t>(p.qmin());
    *hi.data<uint8_t>() = static_cast<uint8_t>(p.qmax());
  }
  const int lo_v = g.AddConstant(base + "_qmin", std::move(lo));
  const int hi_v = g.AddConstant(base + "_qmax", std::move(hi));
  const int c = g.AddValue(g.UniqueName(base + "_clipped"));
  g.values[c].dtype = qtype;
  added.push_back(MakeNode("Clip", base + "_Clip", {q, lo_v, hi_v}, {c}));
  return c;
}

// Inserts Q -> DQ after activation `v`; its readers (but the new Q) then read the DQ output.
void InsertQdq(Graph& g, int v, const QuantParams& p, DType qtype, std::vector<Node>& added) {
  std::string name = g.values[v].name;
  auto [s, z] = ParamConstants(g, name, p, qtype);
  int q = g.AddValue(g.UniqueName(name + "_quantized"));
  g.values[q].dtype = qtype;
  int dq;
  if (g.IsGraphOutput(v)) {
    // The graph output keeps its name: the float producer's value is renamed.
    g.values[v].name = g.UniqueName(name + "_prequant");
    g.RebuildIndex();
    dq = g.AddValue(name);
    for (int& o : g.outputs)
      if (o == v) o = dq;
  } else {
    dq = g.AddValue(g.UniqueName(name + "_dequantized"));
  }
  g.values[dq].dtype = DType::kFloat32;
  g.values[dq].has_shape = g.values[v].has_shape;
  g.values[dq].shape = g.values[v].shape;
  g.values[dq].dim_params = g.values[v].dim_params;
  for (Node& n : g.nodes)
    for (int& i : n.inputs)
      if (i == v) i = dq;
  Node qn = MakeNode("QuantizeLinear", name + "_QuantizeLinear", {v, s, z}, {q});
  const int codes = ClipToWidth(g, q, name, p, qtype, added);
  Node dn = MakeNode("DequantizeLinear", name + "_DequantizeLinear", {codes, s, z}, {dq});
  added.push_back(std::move(qn));
  added.push_back(std::move(dn));
}

// Replaces constant input `slot` of node `ni` by DQ(q) of an integer constant.
void ReplaceByDequantized(Graph& g, int ni, int slot, Tensor q, const QuantParams& p, std::vector<Node>& added) {
  std::string base = g.values[g.nodes[ni].inputs[slot]].name;
  DType zt = q.dtype();
  int qv = g.AddConstant(base + "_quantized", std::move(q));
  auto [s, z] = ParamConstants(g, base + "_quantized", p, zt);
  int dq = g.AddValue(g.UniqueName(base + "_dequantized"));
  g.values[dq].dtype = DType::kFloat32;
  if (p.bits < 8) qv = ClipToWidth(g, qv, base, p, zt, added);
  Node dn = MakeNode("DequantizeLinear", base + "_DequantizeLinear", {qv, s, z}, {dq});
  if (p.per_channel()) dn.attrs.SetInt("axis", p.axis);
  added.push_back(std::move(dn));
  g.nodes[ni].inputs[slot] = dq;
}

Tensor QuantizeBias(const Tensor& b, int64_t n, const std::vector<float>& scales, QuantParams& p) {
  Tensor q(DType::kInt32, {n});
  p = QuantParams{};
  p.bits = 32;
  p.axis = 0;
  p.scale = scales;
  p.zero_point.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    double v = b.numel() == 1 ? b.data<float>()[0] : b.data<float>()[i];
    double r = std::nearbyint(v / scales[i]);
    q.data<int32_t>()[i] = static_cast<int32_t>(std::clamp(r, -2147483647.0, 2147483647.0));
  }
  return q;
}

// w as [outer, channels, inner] around the channel axis (one channel when axis < 0).
struct ChannelLayout {
  int64_t outer = 1, channels = 1, inner = 1;
  ChannelLayout(const Tensor& w, int64_t axis) {
    if (axis < 0) {
      inner = w.numel();
      return;
    }
    for (int64_t d = 0; d < axis; ++d) outer *= w.dim(d);
    channels = w.dim(axis);
    for (int64_t d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
};

}  // namespace

Tensor QuantizeWeights(const Tensor& w, int64_t axis, std::vector<float>& scales) {
  const float* pw = w.data<float>();
  const ChannelLayout layout(w, axis);
  const int64_t outer = layout.outer, channels = layout.channels, inner = layout.inner;
  std::vector<float> amax(channels, 0.f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i)
        amax[c] = std::max(amax[c], std::fabs(pw[(o * channels + c) * inner + i]));
  scales.resize(channels);
  for (int64_t c = 0; c < channels; ++c) scales[c] = amax[c] > 0 ? amax[c] / 127.f : 1.f;
  Tensor q(DType::kInt8, w.shape());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = (o * channels + c) * inner + i;
        q.data<int8_t>()[k] = static_cast<int8_t>(std::clamp(std::nearbyint(pw[k] / scales[c]), -127.f, 127.f));
      }
  return q;
}

LayerBits ParseLayerBits(const std::string& s, const std::string& what) {
  LayerBits b;
  NIBBLE_CHECK(s.size() == 4 && (s[0] == 'w' || s[0] == 'W') && (s[2] == 'a' || s[2] == 'A') && s[1] >= '1' &&
                   s[1] <= '8' && s[3] >= '1' && s[3] <= '8',
               what, ": precision '", s, "' is not of the form wNaM with N and M in 1..8 (e.g. w4a8)");
  b.w = s[1] - '0';
  b.a = s[3] - '0';
  return b;
}

std::string LayerBitsName(const LayerBits& b) { return Cat("w", b.w, "a", b.a); }

Tensor QuantizeWeightsBits(const Tensor& w, int64_t axis, int bits, std::vector<float>& scales) {
  NIBBLE_CHECK(bits >= 1 && bits <= 8, "weight bit-width ", bits, " is outside 1..8");
  if (bits == 8) return QuantizeWeights(w, axis, scales);
  const float* pw = w.data<float>();
  const ChannelLayout layout(w, axis);
  const int64_t outer = layout.outer, channels = layout.channels, inner = layout.inner;
  auto index = [&](int64_t o, int64_t c, int64_t i) { return (o * channels + c) * inner + i; };
  const double qmax = bits == 1 ? 1.0 : static_cast<double>((1 << (bits - 1)) - 1);
  auto code = [&](double x, double s) {
    if (bits == 1) return x >= 0 ? 1.0 : -1.0;
    return std::clamp(std::nearbyint(x / s), -qmax, qmax);
  };
  scales.assign(channels, 1.f);
  Tensor q(DType::kInt8, w.shape());
  std::vector<double> vals;
  for (int64_t c = 0; c < channels; ++c) {
    vals.clear();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) vals.push_back(pw[index(o, c, i)]);
    double amax = 0, mean_abs = 0;
    for (double v : vals) {
      amax = std::max(amax, std::fabs(v));
      mean_abs += std::fabs(v);
    }
    mean_abs /= std::max<size_t>(1, vals.size());
    auto error = [&](double s) {
      double e = 0;
      for (double v : vals) {
        const double d = v - s * code(v, s);
        e += d * d;
      }
      return e;
    };
    double s = 1.0;
    if (amax > 0 && bits == 1) {
      s = mean_abs;  // argmin_s ||w - s*sign(w)||^2
    } else if (amax > 0) {
      // Clipping: the ratio of amax on a grid minimizing the squared error.
      double best = INFINITY;
      for (int k = 5; k <= 100; ++k) {
        const double cand = amax * k / 100.0 / qmax;
        const double e = error(cand);
        if (e < best) best = e, s = cand;
      }
      // Then least squares for the scale at fixed codes, while it helps.
      for (int it = 0; it < 8; ++it) {
        double wq = 0, qq = 0;
        for (double v : vals) {
          const double c2 = code(v, s);
          wq += v * c2;
          qq += c2 * c2;
        }
        if (!(qq > 0) || !(wq > 0)) break;
        const double refit = wq / qq;
        const double e = error(refit);
        if (!(e < best)) break;
        best = e;
        s = refit;
      }
    }
    if (!(s > 0) || !std::isfinite(s)) s = 1.0;
    scales[c] = static_cast<float>(s);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = index(o, c, i);
        // Codes from the stored float scale, so that DQ(codes) is what was optimized.
        q.data<int8_t>()[k] = static_cast<int8_t>(amax > 0 ? code(pw[k], scales[c]) : 0.0);
      }
  }
  return q;
}

QuantizeResult QuantizeGraph(Graph g, const Dataset& calib, const QuantizeOptions& o) {
  g.TopologicalSort();
  // Activations are fused after quantization (into clamps), so they stay separate here.
  OptimizeGraph(g, {"fuse-activation"});
  if (o.per_channel)
    NIBBLE_CHECK(g.opset >= 13, g.path, ": per-channel quantization needs opset 13 or later (the model has ", g.opset,
                 "); use --per-tensor or convert the model");
  // Histograms too when some activation may take the mse rule below (a second pass over the data).
  bool low_bit_mse = o.bits.a <= o.mse_at_or_below_bits;
  for (const auto& [name, b] : o.layer_bits) low_bit_mse |= b.a <= o.mse_at_or_below_bits;
  const CalibMethod collect = low_bit_mse && o.method == CalibMethod::kMinMax ? CalibMethod::kMse : o.method;
  auto obs = Calibrate(g, calib, FirstIndices(calib.size(), o.calib_size), collect, o.threads);

  QuantSpec act;
  act.bits = 8;
  act.is_signed = o.signed_activations;
  act.symmetric = o.symmetric_activations;
  const DType act_type = o.signed_activations ? DType::kInt8 : DType::kUInt8;

  // Pass 1: which nodes become integer and which values are held as codes
  // (`want`; a pass-through op's output shares its input's parameters).
  const auto consumers = g.Consumers();
  const size_t nv = g.values.size();
  std::vector<char> want(nv, 0), fused(nv, 0);  // fused: compute outputs whose activation becomes a clamp
  std::vector<int> same_as(nv, -1);
  std::vector<Role> role(g.nodes.size(), Role::kFloat);
  QuantizeResult result;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    NodeDecision d{n.name, n.op_type, false, "", ""};
    bool excluded = std::find(o.exclude.begin(), o.exclude.end(), n.name) != o.exclude.end();
    int x = n.inputs.empty() ? -1 : n.inputs[0];
    int y = n.outputs.empty() ? -1 : n.outputs[0];
    if (excluded) {
      d.reason = "excluded by --exclude";
    } else if (kPassThroughOps.count(n.op_type) && n.outputs.size() == 1) {
      if (n.op_type == "Resize" && !ResizeRunsOnCodes(g, n)) {
        d.reason = "Resize other than nearest, or linear over more than the last two axes, has no integer kernel";
      } else if (x >= 0 && want[x]) {
        role[i] = Role::kPassThrough;
        want[y] = 1;
        same_as[y] = x;
      } else {
        d.reason = "its input stays in float";
      }
    } else if (kUnaryOps.count(n.op_type)) {
      if (x >= 0 && (want[x] || fused[x])) {
        role[i] = Role::kUnary;
        want[y] = 1;
      } else {
        d.reason = "its input stays in float";
      }
    } else if (std::string why = ComputeBlocker(g, n); why.empty()) {
      role[i] = Role::kCompute;
      for (int v : n.inputs)
        if (IsFloatActivation(g, v)) want[v] = 1;
      // A lone Relu/Clip reader becomes the clamp of this op's requantization.
      bool fuse = consumers[y].size() == 1 && !g.IsGraphOutput(y) &&
                  (g.nodes[consumers[y][0]].op_type == "Relu" || g.nodes[consumers[y][0]].op_type == "Clip") &&
                  std::find(o.exclude.begin(), o.exclude.end(), g.nodes[consumers[y][0]].name) == o.exclude.end();
      if (fuse) fused[y] = 1;
      else want[y] = 1;
    } else {
      d.reason = why;
    }
    d.integer = role[i] != Role::kFloat;
    result.decisions.push_back(d);
  }

  // Widths of the weight layers: --bits, first/last at 8, per-layer settings.
  auto is_weight_layer = [&](size_t i) {
    const std::string& op = g.nodes[i].op_type;
    return role[i] == Role::kCompute && (op == "Conv" || op == "Gemm" || op == "MatMul");
  };
  std::vector<LayerBits> lbits(g.nodes.size());
  std::vector<size_t> layers;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (is_weight_layer(i)) layers.push_back(i);
  for (size_t k = 0; k < layers.size(); ++k) {
    const size_t i = layers[k];
    lbits[i] = o.bits;
    if (o.first_last_8bit && (k == 0 || k + 1 == layers.size())) lbits[i] = LayerBits{8, 8};
    auto it = o.layer_bits.find(g.nodes[i].name);
    if (it != o.layer_bits.end()) lbits[i] = it->second;
  }
  for (const auto& [name, b] : o.layer_bits) {
    bool found = false;
    for (size_t i : layers) found |= g.nodes[i].name == name;
    NIBBLE_CHECK(found, g.path, ": per-layer precision for '", name,
                 "': no Conv, Gemm or MatMul node of that name is quantized");
  }
  // A value is held at the widest width its readers need: A bits for a weight
  // layer, its own outputs' width through other integer ops, 8 bits for a
  // float reader or a graph output.
  std::vector<int> vbits(nv, 0);
  for (int v : g.outputs) vbits[v] = 8;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    int out_bits = 0;
    for (int v : n.outputs)
      if (v >= 0) out_bits = std::max(out_bits, vbits[v]);
    if (out_bits == 0) out_bits = 8;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int v = n.inputs[k];
      if (v < 0 || g.values[v].is_constant()) continue;
      int need = role[i] == Role::kFloat ? 8 : out_bits;
      if (is_weight_layer(i)) need = k == 0 ? lbits[i].a : 8;
      vbits[v] = std::max(vbits[v], need);
    }
  }
  for (size_t i : layers) {
    const int x = g.nodes[i].inputs[0];
    result.decisions[i].precision = LayerBitsName({lbits[i].w, vbits[x] ? vbits[x] : 8});
  }

  // Below 8 bits a value's code type follows its range (unsigned when never
  // negative), but an integer Add/Mul keeps one code type from its inputs to
  // its output. So values joined by Add/Mul/pools (and by pass-through ops) form a
  // group, signed when any member can be negative; with a zero point either
  // type spans the same 2^b levels, so nothing is lost (a residual Add's Relu'd
  // sum would otherwise be unsigned beside its signed inputs and stay float).
  std::vector<int> group(nv);
  for (size_t v = 0; v < nv; ++v) group[v] = static_cast<int>(v);
  auto find = [&](int v) {
    while (group[v] != v) v = group[v] = group[group[v]];
    return v;
  };
  auto unite = [&](int a, int b) { group[find(a)] = find(b); };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    // The same holds for the average pools' kernels.
    const bool one_type = n.op_type == "Add" || n.op_type == "Mul" || n.op_type == "AveragePool" ||
                          n.op_type == "GlobalAveragePool";
    if (role[i] != Role::kCompute || !one_type || n.outputs.empty()) continue;
    int out = n.outputs[0];
    if (out >= 0 && fused[out]) out = g.nodes[consumers[out][0]].outputs[0];  // the Relu/Clip that becomes the clamp
    if (out < 0) continue;
    for (int v : n.inputs)
      if (v >= 0 && want[v]) unite(v, out);
  }
  for (size_t v = 0; v < nv; ++v)
    if (same_as[v] >= 0) unite(static_cast<int>(v), same_as[v]);
  std::vector<char> group_negative(nv, 0);
  for (size_t v = 0; v < nv; ++v)
    if (want[v] && obs[v].has_data() && obs[v].minmax().lo < 0) group_negative[find(static_cast<int>(v))] = 1;

  // Pass 2: calibrated parameters at those widths.
  std::vector<std::optional<QuantParams>> vq(nv);
  std::vector<DType> vtype(nv, act_type);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::vector<int> vals = n.inputs;
    vals.insert(vals.end(), n.outputs.begin(), n.outputs.end());
    for (int v : vals) {
      if (v < 0 || !want[v] || vq[v]) continue;
      if (same_as[v] >= 0) {
        vq[v] = vq[same_as[v]];
        vtype[v] = vtype[same_as[v]];
        continue;
      }
      NIBBLE_CHECK(obs[v].has_data(), g.path, ": value '", g.values[v].name, "' was never seen during calibration");
      QuantSpec spec = act;
      const int b = vbits[v] ? vbits[v] : 8;
      if (b < 8) {
        // Under 8 bits: unsigned when the value (its Add/Mul group) is never negative, signed
        // otherwise; 1 bit is always unsigned ({0, 1} with a zero point).
        spec.bits = b;
        spec.is_signed = b > 1 && group_negative[find(v)];
        vtype[v] = spec.is_signed ? DType::kInt8 : DType::kUInt8;
      }
      // Model inputs keep their full range: preprocessing fixes it, and clipping
      // the image itself (which entropy does on bimodal pixel histograms) costs
      // more than any resolution it gains.
      bool is_input = std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end();
      const CalibMethod m = is_input ? CalibMethod::kMinMax : b <= o.mse_at_or_below_bits ? CalibMethod::kMse : o.method;
      vq[v] = ParamsFromRange(obs[v].Choose(m, spec, o.percentile), spec);
    }
  }

  // Weights, biases and constant operands become integer constants behind DQ.
  std::vector<Node> added;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (role[i] != Role::kCompute) continue;
    Node& n = g.nodes[i];
    const QuantParams* xp = n.inputs.empty() || n.inputs[0] < 0 ? nullptr : (vq[n.inputs[0]] ? &*vq[n.inputs[0]] : nullptr);
    if (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") {
      Tensor w = g.values[n.inputs[1]].constant;
      int64_t axis = 0;
      if (n.op_type == "Gemm") {
        axis = n.attrs.GetInt("transB", 0) ? 0 : 1;
        float alpha = n.attrs.GetFloat("alpha", 1.f);
        if (alpha != 1.f) {
          w = w.Clone();
          for (int64_t k = 0; k < w.numel(); ++k) w.data<float>()[k] *= alpha;
          n.attrs.SetFloat("alpha", 1.f);
        }
      } else if (n.op_type == "MatMul") {
        axis = 1;
      }
      const int64_t channels = w.dim(axis);
      std::vector<float> ws;
      Tensor wq = QuantizeWeightsBits(w, o.per_channel ? axis : -1, lbits[i].w, ws);
      QuantParams wp;
      wp.bits = lbits[i].w;
      wp.is_signed = true;
      wp.narrow = lbits[i].w > 1;
      wp.scale = ws;
      wp.zero_point.assign(ws.size(), 0);
      wp.axis = o.per_channel ? axis : -1;
      ReplaceByDequantized(g, static_cast<int>(i), 1, std::move(wq), wp, added);
      int bias_slot = 2;
      if (static_cast<int>(n.inputs.size()) > bias_slot && n.inputs[bias_slot] >= 0) {
        Tensor b = g.values[n.inputs[bias_slot]].constant;
        if (n.op_type == "Gemm") {
          float beta = n.attrs.GetFloat("beta", 1.f);
          if (beta != 1.f) {
            b = b.Clone();
            for (int64_t k = 0; k < b.numel(); ++k) b.data<float>()[k] *= beta;
            n.attrs.SetFloat("beta", 1.f);
          }
        }
        std::vector<float> bs(channels);
        for (int64_t c = 0; c < channels; ++c) bs[c] = xp->scale[0] * ws[ws.size() == 1 ? 0 : c];
        QuantParams bp;
        Tensor bq = QuantizeBias(b, channels, bs, bp);
        ReplaceByDequantized(g, static_cast<int>(i), bias_slot, std::move(bq), bp, added);
      }
    } else if (n.op_type == "Add" || n.op_type == "Mul") {
      for (int slot = 0; slot < 2; ++slot) {
        int v = n.inputs[slot];
        if (!IsFloatConst(g, v)) continue;
        const Tensor& c = g.values[v].constant;
        ValueObserver ob;
        ob.ObserveMinMax(c.data<float>(), c.numel());
        QuantParams cp = ParamsFromRange(ob.minmax(), act);
        Tensor cq(act_type, c.shape());
        for (int64_t k = 0; k < c.numel(); ++k) {
          double q = std::clamp<double>(std::nearbyint(c.data<float>()[k] / cp.scale[0]) + cp.zero_point[0], cp.qmin(),
                                        cp.qmax());
          if (act_type == DType::kUInt8) cq.data<uint8_t>()[k] = static_cast<uint8_t>(q);
          else cq.data<int8_t>()[k] = static_cast<int8_t>(q);
        }
        ReplaceByDequantized(g, static_cast<int>(i), slot, std::move(cq), cp, added);
      }
    }
  }
  // Activations: Q -> DQ after every value held as codes (Q -> Clip -> DQ under 8 bits).
  const size_t original_values = vq.size();
  for (size_t v = 0; v < original_values; ++v)
    if (vq[v]) InsertQdq(g, static_cast<int>(v), *vq[v], vtype[v], added);
  for (Node& n : added) g.nodes.push_back(std::move(n));
  g.TopologicalSort();
  result.graph = std::move(g);
  return result;
}

}  // namespace nibble
