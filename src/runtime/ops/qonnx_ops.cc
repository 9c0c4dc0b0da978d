// Float reference kernels for QONNX's Quant, BipolarQuant and Trunc (domain
// qonnx.custom_op.general, or the older finn.custom_op.general): exact
// float32 emulations of qonnx's numpy implementation (base/qonnx_quant.h).
// Quant nodes that the lower-qonnx pass can express as QuantizeLinear ->
// Clip -> DequantizeLinear never get here; these run everything else.
// Parameters (scale, zero point, bit-widths) broadcast against x, numpy style.
#include <cmath>

#include "base/qonnx_quant.h"
#include "kernels/reference/broadcast.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {

bool IsParamType(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kInt32 || t == DType::kInt64 ||
         t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16;
}

class QonnxKernel : public OpKernel {
 public:
  enum class Kind { kQuant, kBipolar, kTrunc };

  QonnxKernel(const OpEnv& env, Kind kind) : kind_(kind), where_(env.where()) {
    const Node& n = env.node;
    if (kind == Kind::kQuant) {
      tensor_ops::CheckArity(env, 4, 4);
    } else if (kind == Kind::kBipolar) {
      tensor_ops::CheckArity(env, 2, 2);
    } else {
      NIBBLE_CHECK(n.inputs.size() == 5 || n.inputs.size() == 6, where_,
                   ": Trunc takes 5 inputs (opset 1: x, scale, zeropt, in_bitwidth, out_bitwidth) or 6 (opset 2: x, "
                   "scale, zeropt, in_bitwidth, out_scale, out_bitwidth), not ",
                   n.inputs.size());
      tensor_ops::CheckArity(env, static_cast<int>(n.inputs.size()), static_cast<int>(n.inputs.size()));
    }
    for (int v : n.inputs) NIBBLE_CHECK(v >= 0, where_, ": every input is required");
    is_signed_ = n.attrs.GetInt("signed", 1) != 0;
    narrow_ = n.attrs.GetInt("narrow", 0) != 0;
    const std::string mode = n.attrs.GetString("rounding_mode", kind == Kind::kTrunc ? "FLOOR" : "ROUND");
    auto r = qonnx::ParseRounding(mode);
    NIBBLE_CHECK(r.has_value(), where_, ": rounding_mode '", mode,
                 "' is not one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, DOWN, ROUND_TO_ZERO, HALF_UP, HALF_DOWN");
    rounding_ = *r;
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kFloat32) ctx.Fail("x has type ", DTypeName(ctx.dtype(0)), "; expected float32");
    std::vector<Shape> shapes;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      if (i > 0 && !IsParamType(ctx.dtype(i)))
        ctx.Fail("input ", i, " has type ", DTypeName(ctx.dtype(i)), "; expected a float or integer tensor");
      shapes.push_back(ctx.shape(i));
    }
    Shape y = BroadcastShapes(shapes);
    if (y != ctx.shape(0))
      ctx.Fail("parameters of shape ", ShapeStr(y), " do not broadcast to x of shape ", ShapeStr(ctx.shape(0)));
    ctx.set_output(0, DType::kFloat32, y);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int n = ctx.num_inputs();
    // Parameters as float32 (qonnx computes in the input's float32).
    std::vector<std::vector<float>> p(7);
    for (int i = 1; i < n; ++i) {
      const Tensor& t = ctx.input(i);
      p[i].resize(t.numel());
      for (int64_t k = 0; k < t.numel(); ++k) p[i][k] = static_cast<float>(t.AsDouble(k));
    }
    const float* px = x.data<float>();
    float* py = y.data<float>();
    const Shape& out = y.shape();
    // Seven broadcast indices whatever the arity: missing inputs read a zero at stride 0.
    std::vector<int64_t> st[7];
    for (int i = 0; i < 7; ++i) {
      if (i < n) {
        st[i] = BroadcastStrides(ctx.input(i).shape(), out);
      } else {
        st[i].assign(out.size(), 0);
        p[i].assign(1, 0.f);
      }
    }
    auto run = [&](auto&& f) {
      ForEachBroadcast(out, st, [&](int64_t o, const int64_t* idx) { py[o] = f(idx); });
    };
    switch (kind_) {
      case Kind::kQuant:
        run([&](const int64_t* i) {
          return qonnx::Quant(px[i[0]], p[1][i[1]], p[2][i[2]], p[3][i[3]], is_signed_, narrow_, rounding_);
        });
        break;
      case Kind::kBipolar:
        run([&](const int64_t* i) { return qonnx::BipolarQuant(px[i[0]], p[1][i[1]]); });
        break;
      case Kind::kTrunc:
        if (n == 5)
          run([&](const int64_t* i) {
            return qonnx::TruncV1(px[i[0]], p[1][i[1]], p[2][i[2]], p[3][i[3]], p[4][i[4]], rounding_);
          });
        else
          run([&](const int64_t* i) {
            return qonnx::TruncV2(px[i[0]], p[1][i[1]], p[2][i[2]], p[4][i[4]], p[5][i[5]], is_signed_, narrow_,
                                  rounding_);
          });
        break;
    }
  }

 private:
  Kind kind_;
  std::string where_;
  bool is_signed_ = true, narrow_ = false;
  qonnx::Rounding rounding_ = qonnx::Rounding::kHalfEven;
};

template <QonnxKernel::Kind K>
OpFactory Qonnx() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<QonnxKernel>(env, K); };
}

}  // namespace

void RegisterQonnxOps(OpRegistry& r) {
  r.AddInDomain(qonnx::kDomain, "Quant", Qonnx<QonnxKernel::Kind::kQuant>());
  r.AddInDomain(qonnx::kDomain, "BipolarQuant", Qonnx<QonnxKernel::Kind::kBipolar>());
  r.AddInDomain(qonnx::kDomain, "Trunc", Qonnx<QonnxKernel::Kind::kTrunc>());
}

}  // namespace nibble
