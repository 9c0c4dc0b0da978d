#include "onnx/qonnx_export.h"

#include <cmath>

#include "base/qonnx_quant.h"
#include "base/quant_params.h"
#include "graph/passes.h"

namespace nibble {
namespace {

bool IsConstValue(const Graph& g, int v) { return v >= 0 && g.values[v].is_constant(); }

struct Width {
  int bits = 8;
  bool is_signed = true, narrow = false;
};

// The width stated by codes of type `t` clamped to [lo, hi]; bits 0 when it is no standard range.
Width WidthOf(DType t, int64_t lo, int64_t hi) {
  const CodeWidth cw = WidthOfBounds(t == DType::kInt8, lo, hi);
  return Width{cw.bits, t == DType::kInt8, cw.narrow};
}

// A float parameter tensor of `n` entries shaped to broadcast over rank `rank` along `axis`.
Tensor ParamTensor(const std::vector<float>& v, int64_t rank, int64_t axis) {
  if (v.size() == 1) {
    Tensor t(DType::kFloat32, {});
    *t.data<float>() = v[0];
    return t;
  }
  Shape s(rank, 1);
  s[axis] = static_cast<int64_t>(v.size());
  Tensor t(DType::kFloat32, s);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

Tensor Scalar(float x) {
  Tensor t(DType::kFloat32, {});
  *t.data<float>() = x;
  return t;
}

}  // namespace

int ConvertQdqToQonnx(Graph& g) {
  auto consumers = g.Consumers();
  std::vector<bool> remove(g.nodes.size(), false);
  std::vector<Node> added;
  int written = 0;
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    const Node dq = g.nodes[i];
    if (dq.op_type != "DequantizeLinear" || !dq.domain.empty() || dq.outputs.size() != 1 || dq.outputs[0] < 0) continue;
    if (dq.inputs.size() < 2 || !IsConstValue(g, dq.inputs[1]) || dq.attrs.GetInt("block_size", 0) != 0) continue;
    const bool has_zp = dq.inputs.size() > 2 && dq.inputs[2] >= 0;
    if (has_zp && !IsConstValue(g, dq.inputs[2])) continue;
    const Tensor scale_t = g.values[dq.inputs[1]].constant;
    if (scale_t.dtype() != DType::kFloat32 || scale_t.rank() > 1) continue;
    const int64_t nch = scale_t.numel();
    std::vector<float> scale(scale_t.data<float>(), scale_t.data<float>() + nch);
    std::vector<float> zp(nch, 0.f);
    if (has_zp) {
      const Tensor& z = g.values[dq.inputs[2]].constant;
      if (z.numel() != nch) continue;
      for (int64_t c = 0; c < nch; ++c) zp[c] = static_cast<float>(z.AsDouble(c));
    }
    // Codes, through an optional Clip with constant bounds.
    int codes = dq.inputs[0];
    int clip_node = -1;
    int64_t lo = 0, hi = 0;
    bool clipped = false;
    if (g.values[codes].producer >= 0) {
      const Node& c = g.nodes[g.values[codes].producer];
      if (c.op_type == "Clip" && c.domain.empty() && c.inputs.size() == 3 && IsConstValue(g, c.inputs[1]) &&
          IsConstValue(g, c.inputs[2]) && consumers[codes].size() == 1 && !g.IsGraphOutput(codes)) {
        clip_node = g.values[codes].producer;
        lo = g.values[c.inputs[1]].constant.AsInt64(0);
        hi = g.values[c.inputs[2]].constant.AsInt64(0);
        clipped = true;
        codes = c.inputs[0];
      }
    }
    const DType ct = IsConstValue(g, codes) ? g.values[codes].constant.dtype() : g.values[codes].dtype;
    const int y = dq.outputs[0];
    int64_t axis = dq.attrs.GetInt("axis", 1);

    if (IsConstValue(g, codes)) {
      const Tensor q = g.values[codes].constant;
      if (axis < 0) axis += q.rank();
      if (nch > 1 && (axis < 0 || axis >= q.rank() || q.dim(axis) != nch)) continue;
      int64_t inner = 1;
      for (int64_t d = axis + 1; nch > 1 && d < q.rank(); ++d) inner *= q.dim(d);
      Tensor f(DType::kFloat32, q.shape());
      bool pm1 = true;
      for (int64_t k = 0; k < q.numel(); ++k) {
        const int64_t c = nch > 1 ? (k / inner) % nch : 0;
        const int64_t code = q.AsInt64(k);
        pm1 &= code == 1 || code == -1;
        f.data<float>()[k] = static_cast<float>(code - static_cast<int64_t>(zp[c])) * scale[c];
      }
      if (ct == DType::kInt32) {
        // A bias: QONNX keeps it in float.
        g.values[y].constant = f;
        g.values[y].dtype = DType::kFloat32;
        g.values[y].has_shape = true;
        g.values[y].shape = f.shape();
        g.values[y].dim_params.assign(f.rank(), "");
        g.values[y].producer = -1;
        remove[i] = true;
        if (clip_node >= 0) remove[clip_node] = true;
        continue;
      }
      if (ct != DType::kInt8 && ct != DType::kUInt8) continue;
      Width w = clipped ? WidthOf(ct, lo, hi) : Width{8, ct == DType::kInt8, false};
      if (w.bits == 0) continue;
      bool bipolar = clipped && ct == DType::kInt8 && lo == -1 && hi == 1 && pm1 && q.numel() > 0;
      if (!clipped && ct == DType::kInt8) {
        // No Clip (INT4 or packed weights read back): the width is what the codes need.
        const CodeWidth cw = WidthOfSignedCodes(q.data<int8_t>(), q.numel());
        if (cw.bits < 8) w = Width{cw.bits, true, cw.narrow};
        bipolar = cw.bits == 1;
      }
      const int fv = g.AddConstant(g.values[codes].name + "_float", f);
      Node n;
      n.name = g.UniqueName(dq.name + "_quant");
      n.domain = qonnx::kDomain;
      n.outputs = {y};
      const int sv = g.AddConstant(dq.name + "_qonnx_scale", ParamTensor(scale, q.rank(), axis));
      if (bipolar) {
        n.op_type = "BipolarQuant";
        n.inputs = {fv, sv};
      } else {
        n.op_type = "Quant";
        n.inputs = {fv, sv, g.AddConstant(dq.name + "_qonnx_zeropt", ParamTensor(zp, q.rank(), axis)),
                    g.AddConstant(dq.name + "_qonnx_bitwidth", Scalar(static_cast<float>(w.bits)))};
        n.attrs.SetInt("signed", w.is_signed);
        n.attrs.SetInt("narrow", w.narrow);
        n.attrs.SetString("rounding_mode", "ROUND");
      }
      added.push_back(std::move(n));
      remove[i] = true;
      if (clip_node >= 0) remove[clip_node] = true;
      ++written;
      continue;
    }

    // Activations: QuantizeLinear with the same parameters, read only on this path.
    const int qn = g.values[codes].producer;
    if (qn < 0 || (ct != DType::kInt8 && ct != DType::kUInt8)) continue;
    const Node& qnode = g.nodes[qn];
    if (qnode.op_type != "QuantizeLinear" || !qnode.domain.empty() || consumers[codes].size() != 1 ||
        g.IsGraphOutput(codes) || qnode.inputs.size() < 2 || !IsConstValue(g, qnode.inputs[1]))
      continue;
    if (nch > 1) continue;  // per-channel activations: the rank of x is not known here
    const Tensor& qs = g.values[qnode.inputs[1]].constant;
    if (qs.numel() != 1 || qs.AsDouble(0) != scale[0]) continue;
    float qz = 0;
    if (qnode.inputs.size() > 2 && qnode.inputs[2] >= 0) {
      if (!IsConstValue(g, qnode.inputs[2])) continue;
      qz = static_cast<float>(g.values[qnode.inputs[2]].constant.AsDouble(0));
    }
    if (qz != zp[0]) continue;
    Width w = clipped ? WidthOf(ct, lo, hi) : Width{8, ct == DType::kInt8, false};
    if (w.bits == 0 || (w.bits == 1 && w.is_signed)) continue;
    Node n;
    n.name = g.UniqueName(qnode.name + "_quant");
    n.domain = qonnx::kDomain;
    n.op_type = "Quant";
    n.inputs = {qnode.inputs[0], g.AddConstant(dq.name + "_qonnx_scale", Scalar(scale[0])),
                g.AddConstant(dq.name + "_qonnx_zeropt", Scalar(zp[0])),
                g.AddConstant(dq.name + "_qonnx_bitwidth", Scalar(static_cast<float>(w.bits)))};
    n.outputs = {y};
    n.attrs.SetInt("signed", w.is_signed);
    n.attrs.SetInt("narrow", w.narrow);
    n.attrs.SetString("rounding_mode", "ROUND");
    added.push_back(std::move(n));
    remove[i] = true;
    remove[qn] = true;
    if (clip_node >= 0) remove[clip_node] = true;
    ++written;
  }
  for (size_t i = 0; i < count; ++i)
    if (remove[i]) g.nodes[i].outputs.clear();
  for (Node& n : added) g.nodes.push_back(std::move(n));
  remove.resize(g.nodes.size(), false);
  g.RemoveNodes(remove);
  g.TopologicalSort();  // the dead-node sweep relies on topological order
  DeadNodeEliminationPass(g);
  return written;
}

}  // namespace nibble
