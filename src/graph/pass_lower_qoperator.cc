// lower-qoperator: QOperator-format nodes (one node holding codes, scales and
// zero points, as ONNX Runtime's quantize_static writes with
// QuantFormat.QOperator) become the equivalent QDQ pattern
//
//   QLinearAdd(a, as, az, b, bs, bz, ys, yz)  ->  Q(Add(DQ(a, as, az), DQ(b, bs, bz)), ys, yz)
//
// so that fold-qdq turns them into the same integer kernels as QDQ models,
// and there is one integer path, not two. Rewritten:
//   ONNX:          QLinearConv, QLinearMatMul (only with standard_ops: their own
//                  kernels follow the ONNX spec exactly, see qlinear_ops.cc)
//   com.microsoft: QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu,
//                  QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat,
//                  QGemm, QuantizeLinear, DequantizeLinear
// A node whose scales are not constant, or that uses channels_last, is left
// alone (and is then reported as unsupported if nibble has no kernel for it).
#include <cmath>

#include "graph/passes.h"

namespace nibble {
namespace {

constexpr const char* kMs = "com.microsoft";

bool Has(const Node& n, size_t i) { return i < n.inputs.size() && n.inputs[i] >= 0; }

bool ConstFloat(const Graph& g, const Node& n, size_t i) {
  return Has(n, i) && g.values[n.inputs[i]].is_constant() && g.values[n.inputs[i]].constant.dtype() == DType::kFloat32;
}

int64_t Numel(const Graph& g, const Node& n, size_t i) { return g.values[n.inputs[i]].constant.numel(); }

// Scale input `s` is constant with 1 value (or, when channels > 0, 1 or
// `channels` values in a vector), and the zero point after it, if given, is
// constant with the same shape. Anything else is left to the node's own
// kernel, whose error names exactly what is wrong.
bool WellFormed(const Graph& g, const Node& n, size_t s, int64_t channels = 0) {
  if (!ConstFloat(g, n, s)) return false;
  const Tensor& scale = g.values[n.inputs[s]].constant;
  const bool ok_len = scale.numel() == 1 ? scale.rank() <= 1 : channels > 0 && scale.rank() == 1 && scale.numel() == channels;
  if (!ok_len) return false;
  for (int64_t i = 0; i < scale.numel(); ++i)
    if (!(std::isfinite(scale.data<float>()[i]) && scale.data<float>()[i] > 0)) return false;
  if (!Has(n, s + 1)) return true;
  const Value& z = g.values[n.inputs[s + 1]];
  return z.is_constant() && z.constant.shape() == scale.shape();
}

// x_scale * w_scale[c] * alpha, the bias's scale, is a finite positive float for every c.
bool BiasScaleFinite(const Graph& g, const Node& n, size_t xs, size_t ws, float alpha) {
  const Tensor& x = g.values[n.inputs[xs]].constant;
  const Tensor& w = g.values[n.inputs[ws]].constant;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float v = alpha * x.data<float>()[0] * w.data<float>()[i];
    if (!(std::isfinite(v) && v > 0)) return false;
  }
  return true;
}

// Static dim d of input i, or 0 when unknown.
int64_t Dim(const Graph& g, const Node& n, size_t i, size_t d) {
  const Value& v = g.values[n.inputs[i]];
  if (v.is_constant()) return d < v.constant.shape().size() ? v.constant.dim(d) : 0;
  return v.has_shape && d < v.shape.size() && v.shape[d] > 0 ? v.shape[d] : 0;
}

struct Lowerer {
  Graph& g;
  std::vector<Node> out;

  int NewValue(const std::string& base) { return g.AddValue(g.UniqueName(base)); }

  // DequantizeLinear(codes, scale, zero_point) -> a fresh float value.
  int Dq(const Node& src, int codes, int scale, int zero_point, int64_t axis = 1) {
    Node dq;
    dq.name = g.UniqueName(src.name + "_dq");
    dq.op_type = "DequantizeLinear";
    dq.inputs = {codes, scale};
    if (zero_point >= 0) dq.inputs.push_back(zero_point);
    if (g.values[scale].is_constant() && g.values[scale].constant.numel() > 1) dq.attrs.SetInt("axis", axis);
    const int y = NewValue(g.values[codes].name + "_dequantized");
    dq.outputs = {y};
    out.push_back(std::move(dq));
    return y;
  }

  // QuantizeLinear(x, scale, zero_point) -> the original output value.
  void Q(const Node& src, int x, int scale, int zero_point, int y) {
    Node q;
    q.name = g.UniqueName(src.name + "_q");
    q.op_type = "QuantizeLinear";
    q.inputs = {x, scale};
    if (zero_point >= 0) q.inputs.push_back(zero_point);
    q.outputs = {y};
    out.push_back(std::move(q));
  }

  // The float op itself, reading `inputs`, writing a fresh float value.
  int FloatOp(const Node& src, const std::string& op, std::vector<int> inputs, Attributes attrs) {
    Node n;
    n.name = src.name;  // keeps the node's name for profiles and error messages
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    const int y = NewValue(g.values[src.outputs[0]].name + "_float");
    n.outputs = {y};
    out.push_back(std::move(n));
    return y;
  }

  int In(const Node& n, size_t i) const { return Has(n, i) ? n.inputs[i] : -1; }

  // int32 bias with scale x_scale * w_scale[m] (* alpha), zero point 0, as a DQ.
  int BiasDq(const Node& src, int bias, int x_scale, int w_scale, float alpha, int64_t axis) {
    const Tensor& xs = g.values[x_scale].constant;
    const Tensor& ws = g.values[w_scale].constant;
    Tensor s(DType::kFloat32, ws.rank() == 0 ? Shape{} : Shape{ws.numel()});
    for (int64_t i = 0; i < ws.numel(); ++i) s.data<float>()[i] = alpha * xs.data<float>()[0] * ws.data<float>()[i];
    const int sv = g.AddConstant(g.UniqueName(src.name + "_bias_scale"), std::move(s));
    return Dq(src, bias, sv, -1, axis);
  }

  // Unary op with (X, X_scale, X_zp, Y_scale, Y_zp).
  bool Unary(const Node& n, const std::string& op, Attributes attrs) {
    if (!WellFormed(g, n, 1) || !WellFormed(g, n, 3)) return false;
    const int x = Dq(n, n.inputs[0], n.inputs[1], In(n, 2));
    Q(n, FloatOp(n, op, {x}, std::move(attrs)), n.inputs[3], In(n, 4), n.outputs[0]);
    return true;
  }

  bool Lower(const Node& n, bool standard_ops) {
    if (n.outputs.empty() || n.outputs[0] < 0) return false;
    const bool ms = n.domain == kMs;
    if (!ms && !n.domain.empty()) return false;
    const std::string& t = n.op_type;
    if (ms && (t == "QuantizeLinear" || t == "DequantizeLinear")) {
      Node copy = n;
      copy.domain.clear();
      out.push_back(std::move(copy));
      return true;
    }
    if (!ms && !standard_ops) return false;
    if (!ms && t == "QLinearConv") {
      // x, xs, xz, w, ws, wz, ys, yz[, B]
      const int64_t m = Dim(g, n, 3, 0);
      if (m == 0 || !WellFormed(g, n, 1) || !WellFormed(g, n, 4, m) || !WellFormed(g, n, 6)) return false;
      if (Has(n, 8) && (!g.values[n.inputs[8]].is_constant() || Numel(g, n, 8) != m)) return false;
      if (Has(n, 8) && !BiasScaleFinite(g, n, 1, 4, 1.f)) return false;
      std::vector<int> in = {Dq(n, n.inputs[0], n.inputs[1], In(n, 2)), Dq(n, n.inputs[3], n.inputs[4], In(n, 5), 0)};
      if (Has(n, 8)) in.push_back(BiasDq(n, n.inputs[8], n.inputs[1], n.inputs[4], 1.f, 0));
      Q(n, FloatOp(n, "Conv", in, n.attrs), n.inputs[6], In(n, 7), n.outputs[0]);
      return true;
    }
    if (!ms && t == "QLinearMatMul") {
      // a, as, az, b, bs, bz, ys, yz; per-row a scales are not a QDQ pattern.
      const Value& b = g.values[n.inputs[3]];
      if (!b.is_constant() || b.constant.rank() != 2) return false;
      if (!WellFormed(g, n, 1) || !WellFormed(g, n, 4, b.constant.dim(1)) || !WellFormed(g, n, 6)) return false;
      std::vector<int> in = {Dq(n, n.inputs[0], n.inputs[1], In(n, 2)), Dq(n, n.inputs[3], n.inputs[4], In(n, 5), 1)};
      Q(n, FloatOp(n, "MatMul", in, {}), n.inputs[6], In(n, 7), n.outputs[0]);
      return true;
    }
    if (!ms) return false;
    if (t == "QLinearAdd" || t == "QLinearMul") {
      // A, As, Az, B, Bs, Bz, Cs, Cz
      if (!WellFormed(g, n, 1) || !WellFormed(g, n, 4) || !WellFormed(g, n, 6)) return false;
      const int a = Dq(n, n.inputs[0], n.inputs[1], In(n, 2));
      const int b = Dq(n, n.inputs[3], n.inputs[4], In(n, 5));
      Q(n, FloatOp(n, t == "QLinearAdd" ? "Add" : "Mul", {a, b}, {}), n.inputs[6], In(n, 7), n.outputs[0]);
      return true;
    }
    if (t == "QLinearSigmoid") return Unary(n, "Sigmoid", {});
    if (t == "QLinearLeakyRelu") {
      Attributes a;
      a.SetFloat("alpha", n.attrs.GetFloat("alpha", 0.01f));
      return Unary(n, "LeakyRelu", a);
    }
    if (t == "QLinearGlobalAveragePool" || t == "QLinearAveragePool") {
      if (n.attrs.GetInt("channels_last", 0) != 0) return false;
      Attributes a = n.attrs;
      a.Erase("channels_last");
      return Unary(n, t == "QLinearGlobalAveragePool" ? "GlobalAveragePool" : "AveragePool", a);
    }
    if (t == "QLinearConcat") {
      // Y_scale, Y_zp, then (X, X_scale, X_zp) per input.
      if (n.inputs.size() < 5 || (n.inputs.size() - 2) % 3 != 0 || !WellFormed(g, n, 0)) return false;
      for (size_t i = 2; i < n.inputs.size(); i += 3)
        if (!WellFormed(g, n, i + 1)) return false;
      std::vector<int> in;
      for (size_t i = 2; i < n.inputs.size(); i += 3) in.push_back(Dq(n, n.inputs[i], n.inputs[i + 1], In(n, i + 2)));
      Attributes a;
      a.SetInt("axis", n.attrs.GetInt("axis", 0));
      Q(n, FloatOp(n, "Concat", in, a), n.inputs[0], In(n, 1), n.outputs[0]);
      return true;
    }
    if (t == "QGemm") {
      // A, as, az, B, bs, bz[, C int32 at alpha*as*bs][, ys, yz]; without ys the output is float.
      const bool tb = n.attrs.GetInt("transB", 0) != 0;
      const int64_t nb = Dim(g, n, 3, tb ? 0 : 1);
      if (nb == 0 || !WellFormed(g, n, 1) || !WellFormed(g, n, 4, nb)) return false;
      if (Has(n, 6) && (!g.values[n.inputs[6]].is_constant() || Numel(g, n, 6) != nb)) return false;
      if (Has(n, 6) && !BiasScaleFinite(g, n, 1, 4, n.attrs.GetFloat("alpha", 1.f))) return false;
      const bool trans_b = n.attrs.GetInt("transB", 0) != 0;
      const float alpha = n.attrs.GetFloat("alpha", 1.f);
      std::vector<int> in = {Dq(n, n.inputs[0], n.inputs[1], In(n, 2)),
                             Dq(n, n.inputs[3], n.inputs[4], In(n, 5), trans_b ? 0 : 1)};
      if (Has(n, 6)) in.push_back(BiasDq(n, n.inputs[6], n.inputs[1], n.inputs[4], alpha, 0));
      Attributes a;
      a.SetFloat("alpha", alpha);
      a.SetInt("transA", n.attrs.GetInt("transA", 0));
      a.SetInt("transB", trans_b);
      if (!Has(n, 7)) {  // float output: the Gemm writes the node's output itself
        Node gemm;
        gemm.name = n.name;
        gemm.op_type = "Gemm";
        gemm.inputs = in;
        gemm.attrs = a;
        gemm.outputs = {n.outputs[0]};
        out.push_back(std::move(gemm));
        return true;
      }
      if (!WellFormed(g, n, 7)) return false;
      Q(n, FloatOp(n, "Gemm", in, a), n.inputs[7], In(n, 8), n.outputs[0]);
      return true;
    }
    return false;
  }
};

}  // namespace

bool LowerQOperatorPass(Graph& g, bool standard_ops) {
  Lowerer l{g, {}};
  std::vector<Node> nodes = std::move(g.nodes);
  g.nodes.clear();
  bool changed = false;
  for (Node& n : nodes) {
    const size_t before = l.out.size();
    if (l.Lower(n, standard_ops)) {
      changed = true;
    } else {
      l.out.resize(before);  // drop anything a half-done rewrite emitted
      l.out.push_back(std::move(n));
    }
  }
  g.nodes = std::move(l.out);
  g.RebuildIndex();
  return changed;
}

bool LowerQOperatorPass(Graph& g) { return LowerQOperatorPass(g, true); }

}  // namespace nibble
