// fold-qdq: turns a QDQ graph (float ops between DequantizeLinear and
// QuantizeLinear, as nibble's quantizer and ONNX Runtime's write them) into
// ops over quantized values, which the runtime then runs with integer kernels.
//
//   DQ(xq) -> Conv(., DQ(wq), DQ(bq)) [-> Relu|Clip] -> Q -> yq
//   becomes  Conv(xq, wq, bq) -> yq  with the activation as the requantization clamp.
//
// Step 0 absorbs the integer Clip of the QCDQ form (Q -> Clip(lo, hi) -> DQ,
// or int8 codes -> Clip -> DQ for weights), which is how widths under 8 bits
// are written at rest: the Clip's bounds give the value's bits and narrow
// range (QuantParams::qmin/qmax), and every integer kernel's output clamp is
// then [qmin, qmax] (narrowed further by a fused Relu/Clip).
// Step 1 attaches each Q/DQ's constant (scale, zero point, axis) to the
// quantized value it reads or writes. Step 2 rewrites every op whose inputs
// all come from DQs and whose output goes only to a Q, where nibble has an
// integer kernel for the op and the parameters fit it. Everything else is left
// as float between the remaining Q/DQ nodes, which run as conversions.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "graph/passes.h"

namespace nibble {
namespace {

const std::set<std::string> kPassThrough = {"Reshape", "Flatten", "Transpose", "Squeeze",
                                            "Unsqueeze", "MaxPool", "Identity", "Slice", "Resize"};
const std::set<std::string> kUnary = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh",
                                      "HardSwish", "HardSigmoid", "Gelu", "Erf"};

bool IsConst(const Graph& g, int v) { return v >= 0 && g.values[v].is_constant(); }

// The parameters a QuantizeLinear/DequantizeLinear node states, when constant.
std::optional<QuantParams> NodeParams(const Graph& g, const Node& n) {
  if (n.inputs.size() < 2 || !IsConst(g, n.inputs[1])) return std::nullopt;
  if (n.attrs.GetInt("block_size", 0) != 0) return std::nullopt;
  const Tensor& s = g.values[n.inputs[1]].constant;
  if (s.dtype() != DType::kFloat32 || s.rank() > 1 || s.numel() < 1) return std::nullopt;
  QuantParams p;
  p.scale.assign(s.data<float>(), s.data<float>() + s.numel());
  DType zt = DType::kUInt8;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    if (!IsConst(g, n.inputs[2])) return std::nullopt;
    const Tensor& z = g.values[n.inputs[2]].constant;
    if (z.numel() != s.numel()) return std::nullopt;
    zt = z.dtype();
    for (int64_t i = 0; i < z.numel(); ++i) p.zero_point.push_back(static_cast<int32_t>(z.AsInt64(i)));
  } else {
    p.zero_point.assign(s.numel(), 0);
    if (n.op_type == "DequantizeLinear" && n.inputs[0] >= 0) zt = g.values[n.inputs[0]].dtype;
  }
  if (zt == DType::kUInt8) p.is_signed = false;
  else if (zt == DType::kInt8) p.is_signed = true;
  else if (zt == DType::kInt32) {
    p.bits = 32;
    p.is_signed = true;
  } else {
    return std::nullopt;
  }
  if (s.rank() == 1) p.axis = n.attrs.GetInt("axis", 1);
  for (float v : p.scale)
    if (!(std::isfinite(v) && v > 0)) return std::nullopt;  // the kernels reject these with a clear error
  return p;
}

// Codes held in int8/uint8 (any width 1..8), one scale.
bool PerTensor8(const std::optional<QuantParams>& p) { return p && p->bits <= 8 && !p->per_channel(); }

using Width = CodeWidth;

// Step 0 (see the top of the file). Returns the widths to set on values once
// step 1 has attached their parameters.
std::map<std::string, Width> AbsorbQcdqClips(Graph& g) {
  std::map<std::string, Width> widths;  // by name: RemoveNodes renumbers values
  auto consumers = g.Consumers();
  std::vector<bool> remove(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& c = g.nodes[i];
    if (c.op_type != "Clip" || !c.domain.empty() || c.inputs.size() != 3 || c.outputs.size() != 1) continue;
    const int x = c.inputs[0], y = c.outputs[0];
    if (x < 0 || y < 0 || !IsConst(g, c.inputs[1]) || !IsConst(g, c.inputs[2]) || g.IsGraphOutput(y)) continue;
    const DType t = g.values[x].is_constant() ? g.values[x].constant.dtype() : g.values[x].dtype;
    if (t != DType::kInt8 && t != DType::kUInt8) continue;
    const Tensor& lo_t = g.values[c.inputs[1]].constant;
    const Tensor& hi_t = g.values[c.inputs[2]].constant;
    if (lo_t.numel() != 1 || hi_t.numel() != 1 || lo_t.dtype() != t || hi_t.dtype() != t) continue;
    const int64_t lo = lo_t.AsInt64(0), hi = hi_t.AsInt64(0);
    auto [bits, narrow] = WidthOfBounds(t == DType::kInt8, lo, hi);
    if (bits == 0) continue;
    // Every reader a DQ with parameters this pass understands.
    bool ok = !consumers[y].empty();
    for (int r : consumers[y]) {
      const Node& d = g.nodes[r];
      ok &= d.op_type == "DequantizeLinear" && d.domain.empty() && d.inputs[0] == y && NodeParams(g, d).has_value();
    }
    if (!ok) continue;
    int src = x;
    if (g.values[x].is_constant()) {
      // Weights: the codes, clamped (they normally already are), as their own constant.
      const Tensor& codes = g.values[x].constant;
      Tensor clamped(t, codes.shape());
      for (int64_t k = 0; k < codes.numel(); ++k) {
        const int64_t v = std::clamp(codes.AsInt64(k), lo, hi);
        if (t == DType::kInt8) clamped.data<int8_t>()[k] = static_cast<int8_t>(v);
        else clamped.data<uint8_t>()[k] = static_cast<uint8_t>(v);
      }
      // Ternary bounds holding only -1 and +1: bipolar weights.
      if (bits == 2 && narrow && t == DType::kInt8 &&
          WidthOfSignedCodes(clamped.data<int8_t>(), clamped.numel()).bits == 1)
        bits = 1, narrow = false;
      src = g.AddConstant(g.values[x].name + "_codes", std::move(clamped));
    } else {
      // Activations: Q -> Clip -> DQ; the Q (or the op folded into it) clamps instead.
      const int q = g.values[x].producer;
      if (q < 0 || g.nodes[q].op_type != "QuantizeLinear" || !g.nodes[q].domain.empty() || g.IsGraphOutput(x) ||
          consumers[x].size() != 1 || !NodeParams(g, g.nodes[q]).has_value())
        continue;
    }
    for (int r : consumers[y]) g.nodes[r].inputs[0] = src;
    widths[g.values[src].name] = {bits, narrow};
    remove[i] = true;
  }
  // Weight codes read straight by a DQ (INT4 initializers, nibble's packed
  // codes, or plain int8): their width is the narrowest one holding them. The
  // integer products are exact whatever width is declared, so this only
  // decides which kernels may serve the layer.
  for (const Node& d : g.nodes) {
    if (d.op_type != "DequantizeLinear" || !d.domain.empty() || d.inputs.empty() || !IsConst(g, d.inputs[0]) ||
        d.outputs.empty() || d.outputs[0] < 0 || consumers[d.outputs[0]].empty())
      continue;
    bool weights = true;  // only weight operands: constant Add/Mul operands keep their container width
    for (int r : consumers[d.outputs[0]]) {
      const Node& l = g.nodes[r];
      weights &= (l.op_type == "Conv" || l.op_type == "Gemm" || l.op_type == "MatMul") && l.domain.empty() &&
                 l.inputs.size() > 1 && l.inputs[1] == d.outputs[0] && l.inputs[0] != d.outputs[0];
    }
    if (!weights) continue;
    const Value& w = g.values[d.inputs[0]];
    if (w.constant.dtype() != DType::kInt8 || widths.count(w.name)) continue;
    const CodeWidth cw = WidthOfSignedCodes(w.constant.data<int8_t>(), w.constant.numel());
    if (cw.bits < 8) widths[w.name] = {cw.bits, cw.narrow};
  }
  if (std::find(remove.begin(), remove.end(), true) != remove.end()) g.RemoveNodes(remove);
  return widths;
}

// Step 0c: DQ(constant codes) -> Transpose becomes DQ(transposed codes).
// Brevitas and torch export a Linear layer as MatMul(x, Transpose(W)); the
// Transpose of the dequantized weights would otherwise run (in float) on
// every inference, and keep the MatMul from reading codes. Returns whether it
// changed the graph.
bool TransposeConstantCodes(Graph& g, std::map<std::string, Width>& widths) {
  auto consumers = g.Consumers();
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& t = g.nodes[i];
    if (t.op_type != "Transpose" || !t.domain.empty() || t.inputs.size() != 1 || t.outputs.size() != 1 ||
        t.inputs[0] < 0 || t.outputs[0] < 0)
      continue;
    const int x = t.inputs[0];
    if (g.values[x].producer < 0 || consumers[x].size() != 1 || g.IsGraphOutput(x)) continue;
    const Node d = g.nodes[g.values[x].producer];
    if (d.op_type != "DequantizeLinear" || !d.domain.empty() || !IsConst(g, d.inputs[0])) continue;
    const Tensor codes = g.values[d.inputs[0]].constant;  // a handle
    if (codes.rank() != 2 || (codes.dtype() != DType::kInt8 && codes.dtype() != DType::kUInt8)) continue;
    if (t.attrs.GetInts("perm", {1, 0}) != std::vector<int64_t>{1, 0}) continue;
    auto p = NodeParams(g, d);
    if (!p) continue;
    Node dq = d;
    if (p->per_channel()) {
      const int64_t axis = p->axis < 0 ? p->axis + 2 : p->axis;
      if (axis < 0 || axis > 1) continue;
      dq.attrs.SetInt("axis", 1 - axis);
    }
    const int64_t rows = codes.dim(0), cols = codes.dim(1);
    Tensor tr(codes.dtype(), {cols, rows});
    const auto* src = static_cast<const uint8_t*>(codes.raw());
    auto* dst = static_cast<uint8_t*>(tr.raw());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
    const std::string old_name = g.values[d.inputs[0]].name;
    const int cv = g.AddConstant(g.UniqueName(old_name + "_transposed"), std::move(tr));
    if (widths.count(old_name)) widths[g.values[cv].name] = widths[old_name];
    dq.name = g.UniqueName(t.name + "_dq");
    dq.inputs[0] = cv;
    dq.outputs = {t.outputs[0]};
    g.nodes[i] = std::move(dq);  // in place of the Transpose: its output keeps one producer
    changed = true;
  }
  if (!changed) return false;
  g.RebuildIndex();
  DeadNodeEliminationPass(g);  // the DQ before the Transpose
  g.TopologicalSort();
  return true;
}

struct Folder {
  Graph& g;
  std::vector<std::vector<int>> consumers;
  std::vector<bool> remove;
  bool changed = false;

  // The quantized value behind input `v` when it is the output of a DQ with known params.
  int QuantizedSource(int v) const {
    if (v < 0 || g.values[v].producer < 0) return -1;
    const Node& p = g.nodes[g.values[v].producer];
    if (p.op_type != "DequantizeLinear" || !p.domain.empty() || remove[g.values[v].producer]) return -1;
    int q = p.inputs[0];
    return g.values[q].quant ? q : -1;
  }

  // The Q node that is the only reader of `v` (and not removed), or -1.
  int SoleQuantizeReader(int v) const {
    if (v < 0 || g.IsGraphOutput(v) || consumers[v].size() != 1) return -1;
    int c = consumers[v][0];
    const Node& n = g.nodes[c];
    if (remove[c] || n.op_type != "QuantizeLinear" || !n.domain.empty() || n.inputs[0] != v) return -1;
    return g.values[n.outputs[0]].quant ? c : -1;
  }

  bool SameParams(int a, int b) const { return g.values[a].quant && g.values[b].quant && *g.values[a].quant == *g.values[b].quant; }

  void Fold(int ni) {
    Node& n = g.nodes[ni];
    if (!n.domain.empty() || n.outputs.size() != 1 || n.outputs[0] < 0 || n.fused.kind != Activation::Kind::kNone) return;
    const std::string& op = n.op_type;
    const bool compute = op == "Conv" || op == "Gemm" || op == "MatMul" || op == "Add" || op == "Mul" ||
                         op == "AveragePool" || op == "GlobalAveragePool" || op == "Concat";
    if (!compute && !kPassThrough.count(op) && !kUnary.count(op)) return;

    // Output: Q directly, or through a Relu/Clip that becomes the clamp.
    int y = n.outputs[0];
    int act_node = -1;
    int qn = SoleQuantizeReader(y);
    if (qn < 0 && (op == "Conv" || op == "Gemm" || op == "MatMul" || op == "Add") && !g.IsGraphOutput(y) &&
        consumers[y].size() == 1) {
      const Node& a = g.nodes[consumers[y][0]];
      bool clip_const = a.op_type == "Clip" && (a.inputs.size() < 2 || a.inputs[1] < 0 || IsConst(g, a.inputs[1])) &&
                        (a.inputs.size() < 3 || a.inputs[2] < 0 || IsConst(g, a.inputs[2]));
      if ((a.op_type == "Relu" || clip_const) && a.domain.empty()) {
        act_node = consumers[y][0];
        qn = SoleQuantizeReader(a.outputs[0]);
      }
    }
    // A Gemm/MatMul whose float output no Q reads (a model's last layer, as
    // Brevitas and QONNX export it) still runs on codes: it writes its int32
    // accumulators (+ int32 bias), and a DequantizeLinear at x_scale * w_scale
    // gives the float output exactly as the float graph computes it.
    const bool int32_out = qn < 0;
    if (int32_out) {
      // The DQ's axis is the output's last dim: Gemm's is 1, MatMul's needs a known rank.
      if (op != "Gemm" && (op != "MatMul" || !g.values[y].has_shape || g.values[y].shape.empty())) return;
      act_node = -1;  // any Relu/Clip after it stays float
    }
    const int yq = int32_out ? -1 : g.nodes[qn].outputs[0];
    if (!int32_out && !PerTensor8(g.values[yq].quant)) return;

    // Inputs: which come from DQs, and does this op accept that.
    std::vector<int> src(n.inputs.size(), -1);
    for (size_t i = 0; i < n.inputs.size(); ++i) src[i] = QuantizedSource(n.inputs[i]);
    auto q = [&](int i) -> const std::optional<QuantParams>& { return g.values[src[i]].quant; };
    if (src.empty() || src[0] < 0 || !PerTensor8(q(0))) return;
    if (op == "Conv" || op == "Gemm" || op == "MatMul") {
      if (src.size() < 2 || src[1] < 0 || !IsConst(g, src[1]) || q(1)->bits > 8 || !q(1)->is_signed) return;
      const Tensor w = g.values[src[1]].constant;  // a handle: g.values may grow below
      int64_t axis = op == "Conv" ? 0 : (op == "Gemm" && n.attrs.GetInt("transB", 0) ? 0 : 1);
      if (op == "MatMul" && w.rank() != 2) return;
      if (op == "Gemm" && (n.attrs.GetInt("transA", 0) || n.attrs.GetFloat("alpha", 1.f) != 1.f)) return;
      if (q(1)->per_channel() && (q(1)->axis != axis || static_cast<int64_t>(q(1)->scale.size()) != w.dim(axis))) return;
      for (int32_t z : q(1)->zero_point)
        if (z != 0) return;  // integer kernels take symmetric weights
      if (src.size() > 2 && n.inputs[2] >= 0 && src[2] < 0 && IsConst(g, n.inputs[2]) &&
          g.values[n.inputs[2]].constant.dtype() == DType::kFloat32 && !(op == "Gemm" && n.attrs.GetFloat("beta", 1.f) != 1.f)) {
        // A float bias (QONNX models leave it unquantized, or hold it as a 32-bit
        // Quant folded to float): int32 at x_scale * w_scale, as quantizers write it.
        const Tensor& b = g.values[n.inputs[2]].constant;
        const int64_t channels = w.dim(axis);
        if (b.numel() != channels && b.numel() != 1) return;
        QuantParams bp;
        bp.bits = 32;
        bp.axis = 0;
        Tensor bq(DType::kInt32, {channels});
        // Rounding it there moves the output by up to s/2. The layer folds when the
        // bias already lies on that grid (a Brevitas Int32Bias), or when s/2 is at
        // most 1/16 of an output step (Brevitas's MLP has s = 2.3 output steps:
        // rounded, 43 of its 80 outputs were one step off); else it stays float.
        // An int32 output has no step to hide a rounding in: on the grid only.
        const double y_step = int32_out ? 0.0 : g.values[yq].quant->scale[0];
        for (int64_t c = 0; c < channels; ++c) {
          const double s = static_cast<double>(q(0)->scale[0]) * q(1)->scale[q(1)->scale.size() == 1 ? 0 : c];
          const double exact = b.data<float>()[b.numel() == 1 ? 0 : c] / s;
          const double v = std::nearbyint(exact);
          const bool on_grid = std::fabs(exact - v) <= 1e-3;
          if (!on_grid && s > y_step / 8) {
            KeptFloat(n, int32_out ? "its float bias is not on the int32 accumulator grid (x_scale * w_scale) and "
                                     "its output has no quantization step to absorb the rounding"
                                   : Cat("its float bias would round at x_scale * w_scale = ", s, ", more than 1/8 of "
                                         "the output step ", y_step));
            return;
          }
          if (!(std::fabs(v) < 2147483647.0)) return;
          bq.data<int32_t>()[c] = static_cast<int32_t>(v);
          bp.scale.push_back(static_cast<float>(s));
          bp.zero_point.push_back(0);
        }
        const int bv = g.AddConstant(g.values[n.inputs[2]].name + "_int32", std::move(bq));
        g.values[bv].quant = bp;
        src[2] = bv;
      }
      if (src.size() > 2 && n.inputs[2] >= 0) {
        // Bias: an int32 constant at scale x_scale * w_scale (what quantizers write).
        if (src[2] < 0 || !IsConst(g, src[2]) || q(2)->bits != 32) return;
        if (op == "Gemm" && n.attrs.GetFloat("beta", 1.f) != 1.f) return;
        const int64_t channels = w.dim(axis);
        if (g.values[src[2]].constant.numel() != channels) return;
        for (int64_t c = 0; c < channels; ++c) {
          double want = static_cast<double>(q(0)->scale[0]) * q(1)->scale[q(1)->scale.size() == 1 ? 0 : c];
          double have = q(2)->scale[q(2)->scale.size() == 1 ? 0 : c];
          if (std::fabs(have - want) > 1e-6 * want) return;
          if (q(2)->zero_point[q(2)->zero_point.size() == 1 ? 0 : c] != 0) return;
        }
      }
    } else if (op == "Add" || op == "Mul") {
      // Both inputs of one code type; Mul writes that type too, Add may write the other
      // (a Brevitas QuantReLU after a signed sum).
      if (src.size() != 2 || src[1] < 0 || !PerTensor8(q(1)) || q(1)->is_signed != q(0)->is_signed ||
          (op == "Mul" && g.values[yq].quant->is_signed != q(0)->is_signed))
        return;
    } else if (op == "AveragePool" || op == "GlobalAveragePool") {
      // The pooling kernels read and write one code type.
      if (g.values[yq].quant->is_signed != q(0)->is_signed) return;
    } else if (op == "Concat") {
      for (size_t i = 0; i < src.size(); ++i)
        if (src[i] < 0 || !PerTensor8(q(i)) || q(i)->is_signed != q(0)->is_signed) return;
      // The Concat kernel requantizes into the full code range; under 8 bits only equal parameters fold.
      if (g.values[yq].quant->bits < 8)
        for (size_t i = 0; i < src.size(); ++i)
          if (!SameParams(src[i], yq)) return;
    } else if (kPassThrough.count(op)) {
      if (!SameParams(src[0], yq)) return;  // codes pass through unchanged only at equal parameters
      if (op == "Resize" && !ResizeRunsOnCodes(g, n)) return;
      if (op == "MaxPool" && n.outputs.size() > 1) return;
    }
    // Rewrite.
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (src[i] >= 0) n.inputs[i] = src[i];
    if (act_node >= 0) {
      const Node& a = g.nodes[act_node];
      Activation act;
      if (a.op_type == "Relu") {
        act.kind = Activation::Kind::kRelu;
      } else {
        act.kind = Activation::Kind::kClip;
        act.lo = -INFINITY;
        act.hi = INFINITY;
        if (a.inputs.size() > 1 && a.inputs[1] >= 0) act.lo = g.values[a.inputs[1]].constant.AsDouble(0);
        if (a.inputs.size() > 2 && a.inputs[2] >= 0) act.hi = g.values[a.inputs[2]].constant.AsDouble(0);
      }
      n.fused = act;
      remove[act_node] = true;
    }
    if (int32_out) {
      AccumulatorOutput(ni, src);
    } else {
      n.outputs[0] = yq;
      remove[qn] = true;
    }
    changed = true;
  }

  // Gemm/MatMul ni (its inputs already codes) writes int32 accumulators to a
  // new value, and a DequantizeLinear along the output's last dim writes its
  // float output from them.
  void AccumulatorOutput(int ni, const std::vector<int>& src) {
    const int y = g.nodes[ni].outputs[0];
    const int64_t rank = g.nodes[ni].op_type == "Gemm" ? 2 : static_cast<int64_t>(g.values[y].shape.size());
    const QuantParams& xq = *g.values[src[0]].quant;
    const QuantParams& wq = *g.values[src[1]].quant;
    QuantParams acc;
    acc.bits = 32;
    acc.axis = rank - 1;
    Tensor scale(DType::kFloat32, {static_cast<int64_t>(wq.scale.size())});
    for (size_t c = 0; c < wq.scale.size(); ++c) {
      const float sc = static_cast<float>(static_cast<double>(xq.scale[0]) * wq.scale[c]);
      acc.scale.push_back(sc);
      acc.zero_point.push_back(0);
      scale.data<float>()[c] = sc;
    }
    if (acc.scale.size() == 1) acc.axis = -1;
    const std::string base = g.nodes[ni].name;
    const int av = g.AddValue(g.UniqueName(base + "_accumulators"));
    g.values[av].dtype = DType::kInt32;
    g.values[av].quant = acc;
    Tensor zero(DType::kInt32, scale.shape());  // zeros
    Node dq;
    dq.op_type = "DequantizeLinear";
    dq.name = g.UniqueName(base + "_DequantizeLinear");
    dq.inputs = {av, g.AddConstant(g.UniqueName(base + "_acc_scale"), std::move(scale)),
                 g.AddConstant(g.UniqueName(base + "_acc_zero_point"), std::move(zero))};
    dq.outputs = {y};
    if (acc.axis >= 0) dq.attrs.SetInt("axis", acc.axis);
    g.nodes[ni].outputs[0] = av;
    added.push_back(std::move(dq));
  }

  std::vector<Node> added;  // appended after the fold loop (nodes must not move while it runs)

  // Records why a node whose inputs are codes stays float, for `nibble inspect`.
  void KeptFloat(const Node& n, const std::string& why) {
    const std::string key = "nibble.fold-float." + n.name;
    for (const auto& kv : g.metadata)
      if (kv.first == key) return;
    g.metadata.push_back({key, why});
  }
};

// Step 0b: a per-tensor DQ of activation codes read by a pass-through op
// (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, MaxPool, Identity) moves
// behind it: the op runs on the codes (scale > 0 keeps MaxPool's order), as
// in QONNX models, where a quantized Relu's output reaches the next layer
// through MaxPool/Flatten with no quantizer of its own.
// `moved` gets (input, output) names of the ops that now run on codes; the
// output gets the input's parameters once step 1 has attached them.
bool CommuteDequantize(Graph& g, std::vector<std::pair<std::string, std::string>>& moved) {
  static const std::set<std::string> kOps = {"Reshape", "Flatten", "Transpose", "Squeeze",
                                             "Unsqueeze", "MaxPool", "Identity"};
  bool changed = false;
  auto consumers = g.Consumers();
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    if (!kOps.count(g.nodes[i].op_type) || !g.nodes[i].domain.empty() || g.nodes[i].outputs.size() != 1 ||
        g.nodes[i].inputs.empty())
      continue;
    const int x = g.nodes[i].inputs[0], y = g.nodes[i].outputs[0];
    if (x < 0 || y < 0 || g.values[x].producer < 0) continue;
    const int di = g.values[x].producer;
    const Node d = g.nodes[di];
    if (d.op_type != "DequantizeLinear" || !d.domain.empty() || IsConst(g, d.inputs[0])) continue;
    auto p = NodeParams(g, d);
    if (!p || p->per_channel() || p->bits > 8) continue;
    bool other_inputs_const = true;
    for (size_t k = 1; k < g.nodes[i].inputs.size(); ++k)
      other_inputs_const &= g.nodes[i].inputs[k] < 0 || IsConst(g, g.nodes[i].inputs[k]);
    if (!other_inputs_const) continue;
    // Already followed by a Q: the usual DQ -> op -> Q folding applies.
    bool q_reader = false;
    if (y < static_cast<int>(consumers.size()))
      for (int c : consumers[y]) q_reader |= g.nodes[c].op_type == "QuantizeLinear";
    if (q_reader) continue;
    const int codes = g.AddValue(g.UniqueName(g.values[y].name + "_codes"));
    g.values[codes].dtype = g.values[d.inputs[0]].dtype;
    g.nodes[i].inputs[0] = d.inputs[0];
    g.nodes[i].outputs[0] = codes;
    g.values[codes].producer = static_cast<int>(i);
    moved.emplace_back(g.values[d.inputs[0]].name, g.values[codes].name);
    Node dq = d;
    dq.name = g.UniqueName(g.nodes[i].name + "_dq");
    dq.inputs[0] = codes;
    dq.outputs = {y};
    g.values[y].producer = static_cast<int>(g.nodes.size());
    g.nodes.push_back(std::move(dq));
    changed = true;
  }
  if (changed) {
    g.RebuildIndex();
    g.TopologicalSort();  // the dead-node sweep relies on topological order
    DeadNodeEliminationPass(g);
  }
  return changed;
}

}  // namespace

bool ResizeRunsOnCodes(const Graph& g, const Node& n) {
  if (n.op_type != "Resize" || n.attrs.GetInt("antialias", 0) != 0) return false;
  const std::string mode = n.attrs.GetString("mode", "nearest");
  if (mode == "nearest") return true;
  if (mode != "linear" || !n.attrs.GetInts("axes").empty()) return false;
  // scales (input 2) constant with leading ones; sizes would need the input shape.
  if (n.inputs.size() < 3 || !IsConst(g, n.inputs[2]) || (n.inputs.size() > 3 && n.inputs[3] >= 0)) return false;
  const Tensor& s = g.values[n.inputs[2]].constant;
  if (s.dtype() != DType::kFloat32 || s.rank() != 1 || s.numel() < 2) return false;
  for (int64_t d = 0; d + 2 < s.numel(); ++d)
    if (s.data<float>()[d] != 1.f) return false;
  return true;
}

bool FoldQdqPass(Graph& g) {
  // Step 0: QCDQ clips become widths.
  std::map<std::string, Width> widths = AbsorbQcdqClips(g);
  bool any = !widths.empty();
  any |= TransposeConstantCodes(g, widths);
  std::vector<std::pair<std::string, std::string>> moved;
  any |= CommuteDequantize(g, moved);
  // Step 1: parameters onto quantized values (again after each rewrite below).
  auto attach_params = [&] {
    for (const Node& n : g.nodes) {
      if (!n.domain.empty() || (n.op_type != "QuantizeLinear" && n.op_type != "DequantizeLinear")) continue;
      auto p = NodeParams(g, n);
      if (!p) continue;
      int v = n.op_type == "DequantizeLinear" ? n.inputs[0] : n.outputs[0];
      if (v < 0) continue;
      Value& val = g.values[v];
      if (!val.quant) {
        val.quant = *p;
        any = true;
      }
    }
    for (const auto& [name, w] : widths) {
      const int v = g.FindValue(name);
      if (v < 0 || !g.values[v].quant) continue;
      g.values[v].quant->bits = w.bits;
      g.values[v].quant->narrow = w.narrow;
    }
    for (const auto& [in, out] : moved) {
      const int a = g.FindValue(in), b = g.FindValue(out);
      if (a >= 0 && b >= 0 && g.values[a].quant) g.values[b].quant = g.values[a].quant;  // incl. the width
    }
  };
  attach_params();
  // Step 1b: binarized layers (Conv [-> BatchNormalization] -> BipolarQuant)
  // become thresholds on the accumulator, one layer deeper each round: the
  // next layer's codes reach it once their DQ has moved behind MaxPool & co.
  for (int round = 0; round < 1000 && FoldBipolarThresholds(g); ++round) {
    any = true;
    CommuteDequantize(g, moved);
    attach_params();
  }
  if (!any) return false;
  // Step 2: fold, in topological order so chains fold one op at a time.
  Folder f{g, g.Consumers(), std::vector<bool>(g.nodes.size(), false), false, {}};
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (f.remove[i]) continue;
    f.Fold(static_cast<int>(i));
    if (f.changed) f.consumers = g.Consumers();  // readers changed
  }
  if (f.changed) {
    for (Node& n : f.added) g.AddNode(std::move(n));
    f.remove.resize(g.nodes.size(), false);
    g.RemoveNodes(f.remove);
    DeadNodeEliminationPass(g);
    g.TopologicalSort();
  }
  return true;
}

}  // namespace nibble
