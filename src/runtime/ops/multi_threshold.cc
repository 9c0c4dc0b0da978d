// QONNX's MultiThreshold (FINN's streamlined activations):
//   y = out_scale * (number of thresholds t in row c with x >= t) + out_bias
// for x of channel c, thresholds [C or 1, T] (each row ascending, as FINN
// writes them; the count does not depend on it). data_layout NCHW (channel
// axis 1) or NHWC (channel axis last); the input is float32 or int32.
// The output is float32 as in qonnx, or, when fold-qdq made the node (its
// output holds codes: the bipolar step's -1/+1 with out_scale 2, out_bias -1),
// those integers in the output's code type.
#include <algorithm>
#include <cmath>
#include <optional>

#include "base/qonnx_quant.h"
#include "runtime/op_registry.h"
#include "runtime/ops/quant_util.h"

namespace nibble {
namespace {

class MultiThresholdKernel : public OpKernel {
 public:
  explicit MultiThresholdKernel(const OpEnv& env) : where_(env.where()) {
    const Node& n = env.node;
    NIBBLE_CHECK(n.inputs.size() == 2 && n.outputs.size() == 1, where_, ": MultiThreshold takes 2 inputs, 1 output");
    out_scale_ = n.attrs.GetFloat("out_scale", 1.f);
    out_bias_ = n.attrs.GetFloat("out_bias", 0.f);
    const std::string layout = n.attrs.GetString("data_layout", "NCHW");
    NIBBLE_CHECK(layout == "NCHW" || layout == "NHWC" || layout == "NC", where_, ": data_layout '", layout,
                 "' is not NCHW, NHWC or NC");
    channels_last_ = layout == "NHWC";
    const int y = n.outputs[0];
    if (y >= 0 && env.graph.values[y].quant) {
      codes_ = QuantOf(env, y, "output");
      // Every count 0..T must give a code in range; checked again once T is known.
      NIBBLE_CHECK(out_scale_ == std::nearbyint(out_scale_) && out_bias_ == std::nearbyint(out_bias_), where_,
                   ": an integer MultiThreshold needs integer out_scale and out_bias");
    }
  }

  void Infer(InferContext& ctx) override {
    const Shape& x = ctx.shape(0);
    const Shape& t = ctx.shape(1);
    if (ctx.dtype(0) != DType::kFloat32 && ctx.dtype(0) != DType::kInt32)
      ctx.Fail("input type ", DTypeName(ctx.dtype(0)), " is not float32 or int32");
    if (ctx.dtype(1) != DType::kFloat32) ctx.Fail("thresholds must be float32");
    if (x.size() < 2) ctx.Fail("input must have a channel axis, got ", ShapeStr(x));
    if (t.size() != 2) ctx.Fail("thresholds must be 2-D [channels, thresholds], got ", ShapeStr(t));
    const int64_t c = channels_last_ ? x.back() : x[1];
    if (t[0] != c && t[0] != 1) ctx.Fail("thresholds ", ShapeStr(t), " do not match the input's ", c, " channels");
    if (codes_) {
      const int64_t lo = static_cast<int64_t>(out_bias_), hi = static_cast<int64_t>(out_scale_) * t[1] + lo;
      if (std::min(lo, hi) < codes_->qmin() || std::max(lo, hi) > codes_->qmax())
        ctx.Fail("outputs ", lo, "..", hi, " leave the output codes' range ", codes_->qmin(), "..", codes_->qmax());
    }
    ctx.set_output(0, codes_ ? CodeType(*codes_) : DType::kFloat32, x);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& t = ctx.input(1);
    Tensor& y = ctx.output(0);
    const Shape& s = x.shape();
    if (x.numel() == 0) return;
    const int64_t channels = channels_last_ ? s.back() : s[1];
    const int64_t inner = channels_last_ ? 1 : x.numel() / (s[0] * channels);
    const int64_t rows = t.dim(0), nt = t.dim(1);
    const float* pt = t.data<float>();
    auto count = [&](int64_t i, double v) {
      const int64_t c = (i / inner) % channels;
      const float* row = pt + (rows == 1 ? 0 : c) * nt;
      int64_t k = 0;
      for (int64_t j = 0; j < nt; ++j) k += v >= row[j];
      return k;
    };
    auto value = [&](int64_t i) {
      return x.dtype() == DType::kInt32 ? static_cast<double>(x.data<int32_t>()[i]) : x.data<float>()[i];
    };
    const int64_t n = x.numel();
    if (!codes_) {
      float* py = y.data<float>();
      for (int64_t i = 0; i < n; ++i) py[i] = out_scale_ * static_cast<float>(count(i, value(i))) + out_bias_;
      return;
    }
    const int64_t scale = static_cast<int64_t>(out_scale_), bias = static_cast<int64_t>(out_bias_);
    DispatchCode(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* py = y.data<T>();
      for (int64_t i = 0; i < n; ++i) py[i] = static_cast<T>(scale * count(i, value(i)) + bias);
    });
  }

  std::string KernelName() const override { return codes_ ? "multi_threshold_codes_reference" : ""; }

 private:
  std::string where_;
  float out_scale_ = 1.f, out_bias_ = 0.f;
  bool channels_last_ = false;
  std::optional<QuantParams> codes_;
};

}  // namespace

void RegisterMultiThreshold(OpRegistry& r) {
  r.AddInDomain(qonnx::kDomain, "MultiThreshold",
                [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<MultiThresholdKernel>(env); });
}

}  // namespace nibble
