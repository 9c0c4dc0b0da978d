// Conv: float, 1 to 3 spatial dims, groups, dilation, every pad mode, with
// the fused activation from the graph. Float32 runs im2col + BLAS; float64
// (only seen in conformance tests) runs the reference loop in double.
#include "kernels/blas/conv_im2col_f32.h"
#include "kernels/reference/dwconv_f32.h"
#include "runtime/op_registry.h"

namespace nibble {
namespace {

class ConvKernel : public OpKernel {
 public:
  explicit ConvKernel(const OpEnv& env) : where_(env.where()) {
    const Attributes& a = env.node.attrs;
    group_ = a.GetInt("group", 1);
    NIBBLE_CHECK(group_ >= 1, where_, ": group must be >= 1");
    kernel_shape_ = a.GetInts("kernel_shape");
    strides_ = a.GetInts("strides");
    dilations_ = a.GetInts("dilations");
    pads_ = a.GetInts("pads");
    auto_pad_ = a.GetString("auto_pad", "NOTSET");
    act_ = env.node.fused;
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kFloat32) ctx.Fail("input type ", DTypeName(ctx.dtype(0)), " is not supported (float32)");
    if (ctx.dtype(1) != ctx.dtype(0)) ctx.Fail("weight type differs from input type");
    ConvParams p;
    try {
      p = Geometry(ctx.shape(0), ctx.shape(1));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    if (ctx.has_input(2) && (ctx.shape(2).size() != 1 || ctx.shape(2)[0] != p.out_channels))
      ctx.Fail("bias must have shape [", p.out_channels, "], got ", ShapeStr(ctx.shape(2)));
    Shape y = {p.batch, p.out_channels};
    y.insert(y.end(), p.geo.out.begin(), p.geo.out.end());
    ctx.set_output(0, ctx.dtype(0), y);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ConvParams p = Geometry(x.shape(), ctx.input(1).shape());
    const float* bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    if (p.group == p.in_channels && p.group == p.out_channels) {  // depthwise: a direct loop beats im2col + GEMV
      const float* px = x.data<float>();
      const float* pw = ctx.input(1).data<float>();
      float* py = ctx.output(0).data<float>();
      ctx.pool().ParallelFor(p.batch * p.out_channels,
                             [&](int64_t lo, int64_t hi) { DepthwiseConvF32(p, px, pw, bias, py, lo, hi); });
      return;
    }
    ConvF32Im2col(p, x.data<float>(), ctx.input(1).data<float>(), bias, ctx.output(0).data<float>(), scratch_,
                  ctx.pool());
  }

 private:
  // Sizes, padding and output shape for these input and weight shapes.
  ConvParams Geometry(const Shape& x, const Shape& w) const {
    if (x.size() < 3 || x.size() > 5) Fail("input must be 3-D to 5-D (N, C, spatial...), got ", ShapeStr(x));
    if (w.size() != x.size()) Fail("weight rank ", w.size(), " does not match input rank ", x.size());
    ConvParams p;
    p.act = act_;
    p.batch = x[0];
    p.in_channels = x[1];
    p.out_channels = w[0];
    p.group = group_;
    if (p.in_channels % group_ || p.out_channels % group_)
      Fail("channels (", p.in_channels, " in, ", p.out_channels, " out) are not divisible by group ", group_);
    if (w[1] != p.in_channels / group_)
      Fail("weight has ", w[1], " input channels per group, expected ", p.in_channels / group_);
    p.geo.in.assign(x.begin() + 2, x.end());
    p.geo.kernel.assign(w.begin() + 2, w.end());
    if (!kernel_shape_.empty() && kernel_shape_ != p.geo.kernel)
      Fail("kernel_shape ", ShapeStr(kernel_shape_), " disagrees with the weight's ", ShapeStr(p.geo.kernel));
    p.geo.stride = strides_;
    p.geo.dilation = dilations_;
    ComputeWindow(p.geo, pads_, auto_pad_, false);
    return p;
  }

  std::string where_;
  int64_t group_;
  std::vector<int64_t> kernel_shape_, strides_, dilations_, pads_;
  std::string auto_pad_;
  Activation act_;
  std::vector<float> scratch_;
};

}  // namespace

void RegisterConvOps(OpRegistry& r) { r.Add("Conv", MakeFactory<ConvKernel>()); }

}  // namespace nibble
