// lower-qonnx: QONNX quantizers (Quant, BipolarQuant; domain
// qonnx.custom_op.general, finn.custom_op.general or onnx.brevitas), as
// Brevitas and qonnx write them, become the QDQ form fold-qdq understands:
//
//   Quant(x, s, z, b)            ->  DequantizeLinear(Clip(QuantizeLinear(x, s, z), qmin, qmax), s, z)
//   Quant(W, s, z, b), W const   ->  DequantizeLinear(Clip(codes, qmin, qmax), s, z)   (codes computed here)
//   BipolarQuant(W, s), W const  ->  DequantizeLinear(Clip(codes in {-1, +1}, -1, 1), s)
//
// (the Clip only under 8 bits; it is how a width is stated at rest, see
// fold-qdq). A Quant is lowered when scale, zero point and bit-width are
// constant, the bit-width is an integer in 1..8 (signed 1-bit only on
// constants: bipolar), rounding_mode is ROUND (half to even, which is what
// QuantizeLinear does), the zero point is integer-valued and fits the code
// type, and scale/zero point are per tensor or vary along one axis. For
// integer zero points, QONNX's round(clip(x/s + z)) equals QuantizeLinear's
// saturate(round(x/s) + z) followed by the Clip. Everything else (and every
// Trunc) stays, runs as the float reference kernel, and is listed in the
// graph's metadata as "nibble.qonnx-float.<node>" with the reason, for
// `nibble inspect`.
#include <cmath>

#include "base/qonnx_quant.h"
#include "graph/passes.h"

namespace nibble {
namespace {

bool ConstInput(const Graph& g, const Node& n, size_t i) {
  return i < n.inputs.size() && n.inputs[i] >= 0 && g.values[n.inputs[i]].is_constant();
}

// Per-tensor or along one axis: the axis (counted from the back when the
// rank of x is unknown) and length of the parameter tensors, or a reason.
struct ParamLayout {
  int64_t axis = -1;  // -1: per tensor; otherwise the axis of x (negative: from the back)
  int64_t channels = 1;
  std::string why;
};

ParamLayout LayoutOf(const std::vector<const Tensor*>& params, int64_t x_rank, bool x_rank_known) {
  ParamLayout l;
  int64_t axis_from_back = 0;  // >0 once found: the axis is -axis_from_back
  for (const Tensor* t : params) {
    if (t->numel() == 1) continue;
    int64_t found = 0;
    for (int64_t d = 0; d < t->rank(); ++d) {
      if (t->dim(d) == 1) continue;
      if (found) {
        l.why = "scale or zero point varies along more than one axis";
        return l;
      }
      found = t->rank() - d;
      if (l.channels > 1 && l.channels != t->dim(d)) {
        l.why = "scale and zero point have different channel counts";
        return l;
      }
      l.channels = t->dim(d);
    }
    if (axis_from_back && axis_from_back != found) {
      l.why = "scale and zero point vary along different axes";
      return l;
    }
    axis_from_back = found;
    if (x_rank_known && t->rank() > x_rank) {
      l.why = "scale or zero point has a higher rank than x";
      return l;
    }
  }
  if (axis_from_back) l.axis = x_rank_known ? x_rank - axis_from_back : -axis_from_back;
  return l;
}

// Element k of a per-tensor or per-channel parameter tensor.
float At(const Tensor& t, int64_t c) { return static_cast<float>(t.AsDouble(t.numel() == 1 ? 0 : c)); }

struct Lowerer {
  Graph& g;
  std::vector<Node> added;
  std::vector<bool> remove;

  void Note(const Node& n, const std::string& why) {
    const std::string key = "nibble.qonnx-float." + n.name;
    for (const auto& kv : g.metadata)
      if (kv.first == key) return;
    g.metadata.emplace_back(key, why);
  }

  int Const(const std::string& base, Tensor t) { return g.AddConstant(base, std::move(t)); }

  // codes -> [Clip(lo, hi)] -> DQ(scale, zp, axis) -> y
  void EmitDq(const Node& src, int codes, DType ct, const std::vector<float>& scale, const std::vector<int32_t>& zp,
              int64_t axis, int32_t lo, int32_t hi, int y) {
    const bool per_channel = scale.size() > 1;
    Shape ps = per_channel ? Shape{static_cast<int64_t>(scale.size())} : Shape{};
    Tensor st(DType::kFloat32, ps), zt(ct, ps);
    for (size_t c = 0; c < scale.size(); ++c) {
      st.data<float>()[c] = scale[c];
      if (ct == DType::kInt8) zt.data<int8_t>()[c] = static_cast<int8_t>(zp[c]);
      else zt.data<uint8_t>()[c] = static_cast<uint8_t>(zp[c]);
    }
    const int s = Const(src.name + "_scale", std::move(st));
    const int z = Const(src.name + "_zero_point", std::move(zt));
    int in = codes;
    const int32_t full_lo = ct == DType::kInt8 ? -128 : 0, full_hi = ct == DType::kInt8 ? 127 : 255;
    if (lo != full_lo || hi != full_hi) {
      Tensor lt(ct, {}), ht(ct, {});
      if (ct == DType::kInt8) {
        *lt.data<int8_t>() = static_cast<int8_t>(lo);
        *ht.data<int8_t>() = static_cast<int8_t>(hi);
      } else {
        *lt.data<uint8_t>() = static_cast<uint8_t>(lo);
        *ht.data<uint8_t>() = static_cast<uint8_t>(hi);
      }
      Node clip;
      clip.name = g.UniqueName(src.name + "_clip");
      clip.op_type = "Clip";
      clip.inputs = {codes, Const(src.name + "_qmin", std::move(lt)), Const(src.name + "_qmax", std::move(ht))};
      in = g.AddValue(g.UniqueName(src.name + "_clipped"));
      g.values[in].dtype = ct;
      clip.outputs = {in};
      added.push_back(std::move(clip));
    }
    Node dq;
    dq.name = g.UniqueName(src.name + "_dq");
    dq.op_type = "DequantizeLinear";
    dq.inputs = {in, s, z};
    if (per_channel) dq.attrs.SetInt("axis", axis);
    dq.outputs = {y};
    added.push_back(std::move(dq));
  }

  // Returns "" when lowered.
  std::string LowerQuant(size_t ni) {
    const Node n = g.nodes[ni];
    if (n.inputs.size() != 4 || n.outputs.size() != 1 || n.outputs[0] < 0) return "Quant needs 4 inputs and 1 output";
    for (size_t i = 1; i < 4; ++i)
      if (!ConstInput(g, n, i)) return "scale, zero point and bit-width must be constants";
    const Tensor& st = g.values[n.inputs[1]].constant;
    const Tensor& zt = g.values[n.inputs[2]].constant;
    const Tensor& bt = g.values[n.inputs[3]].constant;
    if (bt.numel() != 1) return "the bit-width is not a scalar";
    const double bits = bt.AsDouble(0);
    if (bits != std::floor(bits) || bits < 1) return Cat("bit-width ", bits, " is not a positive integer");
    if (bits > 8) return Cat("bit-width ", bits, " is over 8: no int8/uint8 codes hold it");
    const std::string mode = n.attrs.GetString("rounding_mode", "ROUND");
    auto rounding = qonnx::ParseRounding(mode);
    if (!rounding) return Cat("unknown rounding_mode '", mode, "'");
    const bool is_signed = n.attrs.GetInt("signed", 1) != 0, narrow = n.attrs.GetInt("narrow", 0) != 0;
    const int x = n.inputs[0];
    const bool x_const = g.values[x].is_constant() && g.values[x].constant.dtype() == DType::kFloat32;
    const bool bipolar = bits == 1 && is_signed;
    if (*rounding != qonnx::Rounding::kHalfEven && !bipolar)
      return Cat("rounding_mode ", mode, ": QuantizeLinear rounds half to even (ROUND) only");
    if (bipolar && !x_const) return "signed 1-bit (bipolar) activations have no QuantizeLinear form";
    for (int64_t k = 0; k < st.numel(); ++k)
      if (!(std::isfinite(st.AsDouble(k)) && st.AsDouble(k) > 0)) return "a scale is not a finite positive number";
    for (int64_t k = 0; k < zt.numel(); ++k)
      if (zt.AsDouble(k) != std::nearbyint(zt.AsDouble(k))) return "the zero point is not an integer";
    const Value& xv = g.values[x];
    const bool rank_known = x_const || xv.has_shape;
    const int64_t x_rank = x_const ? xv.constant.rank() : static_cast<int64_t>(xv.shape.size());
    ParamLayout l = LayoutOf({&st, &zt}, x_rank, rank_known);
    if (!l.why.empty()) return l.why;
    const DType ct = is_signed ? DType::kInt8 : DType::kUInt8;
    const int32_t lo = bipolar ? -1 : static_cast<int32_t>(qonnx::MinInt(is_signed, narrow, static_cast<float>(bits)));
    const int32_t hi = bipolar ? 1 : static_cast<int32_t>(qonnx::MaxInt(is_signed, narrow, static_cast<float>(bits)));
    std::vector<float> scale(l.channels);
    std::vector<int32_t> zp(l.channels);
    for (int64_t c = 0; c < l.channels; ++c) {
      scale[c] = At(st, c);
      const double z = zt.AsDouble(zt.numel() == 1 ? 0 : c);
      if (z < (is_signed ? -128 : 0) || z > (is_signed ? 127 : 255))
        return Cat("zero point ", z, " does not fit ", is_signed ? "int8" : "uint8", " codes");
      if (bipolar && z != 0) return "bipolar weights with a non-zero zero point";
      zp[c] = static_cast<int32_t>(z);
    }
    const int y = n.outputs[0];
    if (x_const) {
      // Weights: the codes, computed exactly as QONNX does (they include the zero point).
      const Tensor& w = xv.constant;
      if (l.axis >= 0 && (l.axis >= w.rank() || w.dim(l.axis) != l.channels))
        return "per-channel scale does not match the weights";
      int64_t inner = 1;
      for (int64_t d = l.axis + 1; l.axis >= 0 && d < w.rank(); ++d) inner *= w.dim(d);
      for (int64_t k = 0; k < w.numel(); ++k)
        if (!std::isfinite(w.data<float>()[k])) return "a weight is not a finite number";
      Tensor codes(ct, w.shape());
      const float fbits = static_cast<float>(bits);
      for (int64_t k = 0; k < w.numel(); ++k) {
        const int64_t c = l.axis >= 0 ? (k / inner) % l.channels : 0;
        const float q = qonnx::QuantInt(w.data<float>()[k], At(st, c), static_cast<float>(zp[c]), fbits, is_signed,
                                        narrow, *rounding);
        if (ct == DType::kInt8) codes.data<int8_t>()[k] = static_cast<int8_t>(q);
        else codes.data<uint8_t>()[k] = static_cast<uint8_t>(q);
      }
      const int cv = Const(n.name + "_codes", std::move(codes));
      EmitDq(n, cv, ct, scale, zp, l.axis, lo, hi, y);
    } else {
      const bool per_channel = l.channels > 1;
      Shape ps = per_channel ? Shape{l.channels} : Shape{};
      Tensor qs(DType::kFloat32, ps), qz(ct, ps);
      for (int64_t c = 0; c < l.channels; ++c) {
        qs.data<float>()[c] = scale[c];
        if (ct == DType::kInt8) qz.data<int8_t>()[c] = static_cast<int8_t>(zp[c]);
        else qz.data<uint8_t>()[c] = static_cast<uint8_t>(zp[c]);
      }
      Node q;
      q.name = g.UniqueName(n.name + "_q");
      q.op_type = "QuantizeLinear";
      q.inputs = {x, Const(n.name + "_q_scale", std::move(qs)), Const(n.name + "_q_zero_point", std::move(qz))};
      if (per_channel) q.attrs.SetInt("axis", l.axis);
      const int codes = g.AddValue(g.UniqueName(g.values[y].name + "_codes"));
      g.values[codes].dtype = ct;
      q.outputs = {codes};
      added.push_back(std::move(q));
      EmitDq(n, codes, ct, scale, zp, l.axis, lo, hi, y);
    }
    return "";
  }

  std::string LowerBipolar(size_t ni) {
    const Node n = g.nodes[ni];
    if (n.inputs.size() != 2 || n.outputs.size() != 1 || n.outputs[0] < 0) return "BipolarQuant needs 2 inputs";
    if (!ConstInput(g, n, 1)) return "the scale is not constant";
    const int x = n.inputs[0];
    if (!g.values[x].is_constant() || g.values[x].constant.dtype() != DType::kFloat32)
      return "BipolarQuant on activations (codes -1/+1, no zero) has no QuantizeLinear form";
    const Tensor& st = g.values[n.inputs[1]].constant;
    const Tensor& w = g.values[x].constant;
    for (int64_t k = 0; k < st.numel(); ++k)
      if (!(std::isfinite(st.AsDouble(k)) && st.AsDouble(k) > 0)) return "a scale is not a finite positive number";
    ParamLayout l = LayoutOf({&st}, w.rank(), true);
    if (!l.why.empty()) return l.why;
    if (l.axis >= 0 && w.dim(l.axis) != l.channels) return "per-channel scale does not match the weights";
    int64_t inner = 1;
    for (int64_t d = l.axis + 1; l.axis >= 0 && d < w.rank(); ++d) inner *= w.dim(d);
    Tensor codes(DType::kInt8, w.shape());
    for (int64_t k = 0; k < w.numel(); ++k) {
      const int64_t c = l.axis >= 0 ? (k / inner) % l.channels : 0;
      codes.data<int8_t>()[k] = w.data<float>()[k] / At(st, c) >= 0.f ? 1 : -1;
    }
    std::vector<float> scale(l.channels);
    for (int64_t c = 0; c < l.channels; ++c) scale[c] = At(st, c);
    const int cv = Const(n.name + "_codes", std::move(codes));
    EmitDq(n, cv, DType::kInt8, scale, std::vector<int32_t>(l.channels, 0), l.axis, -1, 1, n.outputs[0]);
    return "";
  }
};

}  // namespace

bool LowerQonnxPass(Graph& g) {
  Lowerer low{g, {}, std::vector<bool>(g.nodes.size(), false)};
  bool changed = false;
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    const Node& n = g.nodes[i];
    if (!qonnx::IsQonnxDomain(n.domain)) continue;
    std::string why;
    if (n.op_type == "Quant") why = low.LowerQuant(i);
    else if (n.op_type == "BipolarQuant") why = low.LowerBipolar(i);
    else if (n.op_type == "Trunc") why = "Trunc has no QuantizeLinear form";
    else continue;
    if (why.empty()) {
      low.remove[i] = true;
      changed = true;
    } else {
      low.Note(g.nodes[i], why);
    }
  }
  if (!changed) return false;
  // The lowered nodes' outputs are now produced by the new DQs.
  for (size_t i = 0; i < count; ++i)
    if (low.remove[i]) g.nodes[i].outputs.clear();
  for (Node& n : low.added) g.nodes.push_back(std::move(n));
  low.remove.resize(g.nodes.size(), false);
  g.RemoveNodes(low.remove);
  g.TopologicalSort();
  return true;
}

}  // namespace nibble
