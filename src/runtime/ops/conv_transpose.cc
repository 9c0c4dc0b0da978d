// ConvTranspose: float32, 1 to 3 spatial dims, groups, strides, dilations,
// explicit pads, output_padding, output_shape and auto_pad. Runs one GEMM per
// image and group followed by col2im (kernels/blas/conv_transpose_col2im_f32).
#include "kernels/blas/conv_transpose_col2im_f32.h"
#include "runtime/op_registry.h"

namespace nibble {
namespace {

class ConvTransposeKernel : public OpKernel {
 public:
  explicit ConvTransposeKernel(const OpEnv& env) : where_(env.where()) {
    const Attributes& a = env.node.attrs;
    group_ = a.GetInt("group", 1);
    NIBBLE_CHECK(group_ >= 1, where_, ": group must be >= 1, got ", group_);
    kernel_shape_ = a.GetInts("kernel_shape");
    strides_ = a.GetInts("strides");
    dilations_ = a.GetInts("dilations");
    pads_ = a.GetInts("pads");
    output_padding_ = a.GetInts("output_padding");
    output_shape_ = a.GetInts("output_shape");
    auto_pad_ = a.GetString("auto_pad", "NOTSET");
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kFloat32) ctx.Fail("input type ", DTypeName(ctx.dtype(0)), " is not supported (float32)");
    if (ctx.dtype(1) != ctx.dtype(0)) ctx.Fail("weight type differs from input type");
    ConvTransposeParams p;
    try {
      p = Geometry(ctx.shape(0), ctx.shape(1));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    if (ctx.has_input(2) &&
        (ctx.dtype(2) != DType::kFloat32 || ctx.shape(2).size() != 1 || ctx.shape(2)[0] != p.out_channels))
      ctx.Fail("bias must be float32 of shape [", p.out_channels, "], got ", ShapeStr(ctx.shape(2)));
    Shape y = {p.batch, p.out_channels};
    y.insert(y.end(), p.out.begin(), p.out.end());
    ctx.set_output(0, DType::kFloat32, y);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ConvTransposeParams p = Geometry(x.shape(), ctx.input(1).shape());
    const float* bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    ConvTransposeF32Col2im(p, x.data<float>(), ctx.input(1).data<float>(), bias, ctx.output(0).data<float>(),
                           scratch_, ctx.pool());
  }

 private:
  ConvTransposeParams Geometry(const Shape& x, const Shape& w) const {
    if (x.size() < 3 || x.size() > 5) Fail("input must be 3-D to 5-D (N, C, spatial...), got ", ShapeStr(x));
    if (w.size() != x.size()) Fail("weight rank ", w.size(), " does not match input rank ", x.size());
    ConvTransposeParams p;
    p.batch = x[0];
    p.in_channels = x[1];
    p.group = group_;
    if (w[0] != p.in_channels)
      Fail("weight ", ShapeStr(w), " must have the input's ", p.in_channels, " channels first (C, M/group, k...)");
    if (p.in_channels % group_) Fail("input channels ", p.in_channels, " are not divisible by group ", group_);
    p.out_channels = w[1] * group_;
    if (p.out_channels <= 0) Fail("weight ", ShapeStr(w), " gives no output channels");
    p.in.assign(x.begin() + 2, x.end());
    p.kernel.assign(w.begin() + 2, w.end());
    if (!kernel_shape_.empty() && kernel_shape_ != p.kernel)
      Fail("kernel_shape ", ShapeStr(kernel_shape_), " disagrees with the weight's ", ShapeStr(p.kernel));
    p.stride = strides_;
    p.dilation = dilations_;
    ComputeConvTransposeWindow(p, pads_, output_padding_, output_shape_, auto_pad_);
    return p;
  }

  std::string where_;
  int64_t group_;
  std::vector<int64_t> kernel_shape_, strides_, dilations_, pads_, output_padding_, output_shape_;
  std::string auto_pad_;
  std::vector<float> scratch_;
};

}  // namespace

void RegisterConvTransposeOps(OpRegistry& r) { r.Add("ConvTranspose", MakeFactory<ConvTransposeKernel>()); }

}  // namespace nibble
