// QONNX's MultiThreshold (FINN's streamlined activations):
//   y = out_scale * (number of thresholds t in row c with x >= t) + out_bias
// for x of channel c, thresholds [C or 1, T] (each row ascending, as FINN
// writes them; the count does not depend on it). data_layout NCHW (channel
// axis 1) or NHWC (channel axis last); float32 in and out, as qonnx runs it.
// (fold-qdq's own thresholds for binarized layers need no such node: see
// pass_fold_bipolar_threshold.cc.)
#include "base/qonnx_quant.h"
#include "runtime/op_registry.h"

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
  }

  void Infer(InferContext& ctx) override {
    const Shape& x = ctx.shape(0);
    const Shape& t = ctx.shape(1);
    if (ctx.dtype(0) != DType::kFloat32) ctx.Fail("input type ", DTypeName(ctx.dtype(0)), " is not float32");
    if (ctx.dtype(1) != DType::kFloat32) ctx.Fail("thresholds must be float32");
    if (x.size() < 2) ctx.Fail("input must have a channel axis, got ", ShapeStr(x));
    if (t.size() != 2) ctx.Fail("thresholds must be 2-D [channels, thresholds], got ", ShapeStr(t));
    const int64_t c = channels_last_ ? x.back() : x[1];
    if (t[0] != c && t[0] != 1) ctx.Fail("thresholds ", ShapeStr(t), " do not match the input's ", c, " channels");
    ctx.set_output(0, DType::kFloat32, x);
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
    const float* px = x.data<float>();
    float* py = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t c = (i / inner) % channels;
      const float* row = pt + (rows == 1 ? 0 : c) * nt;
      int64_t k = 0;
      for (int64_t j = 0; j < nt; ++j) k += px[i] >= row[j];
      py[i] = out_scale_ * static_cast<float>(k) + out_bias_;
    }
  }

 private:
  std::string where_;
  float out_scale_ = 1.f, out_bias_ = 0.f;
  bool channels_last_ = false;
};

}  // namespace

void RegisterMultiThreshold(OpRegistry& r) {
  r.AddInDomain(qonnx::kDomain, "MultiThreshold",
                [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<MultiThresholdKernel>(env); });
}

}  // namespace nibble
