// Conv: float, 1 to 3 spatial dims, groups, dilation, every pad mode, with
// the fused activation from the graph. Float32 runs im2col + BLAS; float64
// (only seen in conformance tests) runs the reference loop in double.
#include "kernels/blas/conv_im2col_f32.h"
#include "kernels/reference/dwconv_f32.h"
#include "kernels/reference/conv_q8_im2col.h"
#include "kernels/x86/conv_q8_fast.h"
#include "kernels/x86/bitserial_gemm.h"
#include "kernels/x86/dwconv_q8.h"
#include "kernels/x86/lowbit_select.h"
#include "runtime/op_registry.h"
#include "runtime/ops/quant_util.h"

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

 protected:
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


// Conv over quantized codes (after fold-qdq): uint8/int8 activations, int8
// weights (per output channel or per tensor, zero point 0), int32 bias at scale
// x_scale * w_scale, requantized per output channel with the fused Relu/Clip
// as the clamp.
class QConvKernel : public ConvKernel {
 public:
  explicit QConvKernel(const OpEnv& env) : ConvKernel(env), where_q_(env.where()) {
    const Node& n = env.node;
    NIBBLE_CHECK(n.inputs.size() >= 2 && env.constant_input(1), where_q_, ": quantized Conv needs constant weights");
    w_ = env.constant_input(1);
    NIBBLE_CHECK(w_->dtype() == DType::kInt8 && w_->rank() >= 3, where_q_, ": quantized weights must be int8");
    x_ = QuantOf(env, n.inputs[0], "input");
    w_params_ = QuantOf(env, n.inputs[1], "weights", w_->dim(0));
    y_ = QuantOf(env, n.outputs[0], "output");
    if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
      bias_ = env.constant_input(2);
      NIBBLE_CHECK(bias_ && bias_->dtype() == DType::kInt32 && bias_->numel() == w_->dim(0), where_q_,
                   ": quantized bias must be a constant int32 vector of ", w_->dim(0), " values");
    }
    multipliers_ = ChannelMultipliers(env, x_, w_params_, y_);
    clamp_ = OutputClamp(env, y_);
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != CodeType(x_)) ctx.Fail("quantized input must be ", DTypeName(CodeType(x_)));
    ConvParams p;
    try {
      p = Geometry(ctx.shape(0), ctx.shape(1));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    Shape y = {p.batch, p.out_channels};
    y.insert(y.end(), p.geo.out.begin(), p.geo.out.end());
    ctx.set_output(0, CodeType(y_), y);
  }

  // AMX and lanes-are-channels convs of one group read and write
  // channels-last (ConvQ8FastChannelsLast); the
  // kernel is chosen here for the planned input shape, as the first run would.
  ChannelsLastRole ChannelsLast(const std::vector<Shape>& inputs) override {
    if (inputs.empty() || inputs[0].size() < 3 ||
        std::any_of(inputs[0].begin(), inputs[0].end(), [](int64_t d) { return d < 0; }))
      return ChannelsLastRole::kNone;
    const ConvQ8Params& p = ParamsFor(inputs[0]);
    if (x_.is_signed) Prepare<int8_t>(p, w_->data<int8_t>(), bias_ ? bias_->data<int32_t>() : nullptr);
    else Prepare<uint8_t>(p, w_->data<int8_t>(), bias_ ? bias_->data<int32_t>() : nullptr);
    return path_ == Path::kGemm && ConvQ8FastChannelsLast(gemm_) ? ChannelsLastRole::kEndpoint
                                                                  : ChannelsLastRole::kNone;
  }
  void SetChannelsLast(bool input, bool output) override {
    layout_.x_channels_last = input;
    layout_.y_channels_last = output;
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const ConvQ8Params& p = ParamsFor(x.shape());
    const int32_t* b = bias_ ? bias_->data<int32_t>() : nullptr;
    Tensor& y = ctx.output(0);
    const int8_t* w = w_->data<int8_t>();
    DispatchCode(x.dtype(), [&](auto xtag) {
      using TX = decltype(xtag);
      DispatchCode(y.dtype(), [&](auto ytag) {
        using TY = decltype(ytag);
        const TX* px = x.data<TX>();
        TY* py = y.data<TY>();
        Prepare<TX>(p, w, b);
        NIBBLE_CHECK(path_ == Path::kGemm || !(layout_.x_channels_last || layout_.y_channels_last), where_q_,
                     ": planned channels-last, but the conv runs on another kernel");
        if (path_ == Path::kLowBit) {
          LowBitConv(lowbit_, p, px, py, lowbit_in_, &ctx.pool());
        } else if (path_ == Path::kDepthwise) {
          ctx.pool().ParallelForTasks(p.batch * p.out_channels,
                                      [&](int64_t lo, int64_t hi) { DwConvQ8Run(dw_, p, px, py, lo, hi); },
                                      p.geo.planes_per_task());
        } else if (path_ == Path::kGemm) {
          const uint64_t run = ConvQ8FastNewRun();
          ctx.pool().ParallelForTasks(ConvQ8FastTaskCount(gemm_, p), [&](int64_t lo, int64_t hi) {
            ConvQ8FastRun(gemm_, p, px, py, lo, hi, run, layout_);
          });
        } else {
          ConvQ8Im2col(p, px, w, b, py, Scratch<TX>(), acc_);
        }
      });
    });
  }

  // Which kernel runs this node, for `nibble inspect` (after the first run).
  std::string KernelName() const override {
    switch (path_) {
      case Path::kLowBit:
        return std::string(lowbit_.binary ? "binary_xnor_popcount_" : "bitserial_and_popcount_") +
               IsaName(ActiveIsa()) + " (" + lowbit_choice_ + ")";
      case Path::kDepthwise: return std::string("dwconv_q8_") + (dw_.fast ? IsaName(dw_.isa) : "generic");
      case Path::kGemm:
        return std::string("conv_q8_gemm_") + IsaName(gemm_.isa) +
               ChannelsLastNote(layout_.x_channels_last, layout_.y_channels_last) +
               (lowbit_choice_.empty() ? "" : " (" + lowbit_choice_ + ")");
      case Path::kReference: return "conv_q8_im2col_reference";
      case Path::kUnprepared: break;
    }
    return "";
  }

 private:
  enum class Path { kUnprepared, kLowBit, kDepthwise, kGemm, kReference };

  // The parameters depend only on the input shape: built once per shape, not
  // per run (a dozen vectors allocated and freed per node and run were about
  // 4% of the Fashion-MNIST CNN's 22 us).
  const ConvQ8Params& ParamsFor(const Shape& x_shape) {
    if (x_shape != params_shape_) {
      ConvParams g = Geometry(x_shape, w_->shape());
      ConvQ8Params& p = params_;
      p.batch = g.batch;
      p.in_channels = g.in_channels;
      p.out_channels = g.out_channels;
      p.group = g.group;
      p.geo = g.geo;
      p.x_zero_point = ZeroPoint(x_);
      p.multiplier = multipliers_;
      p.y_zero_point = ZeroPoint(y_);
      p.y_min = clamp_.lo;
      p.y_max = clamp_.hi;
      params_shape_ = x_shape;
    }
    return params_;
  }

  template <class TX>
  std::vector<TX>& Scratch() {
    if constexpr (std::is_same_v<TX, uint8_t>) return col_u8_;
    else return col_s8_;
  }

  // Packs the weights for the kernel this geometry takes, once: the packing
  // depends on the node's constants, the ISA and (for depthwise) the window,
  // so it is redone only if a new input size changes the window's padding.
  template <class TX>
  void Prepare(const ConvQ8Params& p, const int8_t* w, const int32_t* b) {
    // Compared in place: this runs on every inference, and allocating a key there is waste.
    if (path_ != Path::kUnprepared && p.geo.in == packed_in_ && p.geo.pad_begin == packed_pad_begin_ &&
        p.geo.pad_end == packed_pad_end_)
      return;
    packed_in_ = p.geo.in;
    packed_pad_begin_ = p.geo.pad_begin;
    packed_pad_end_ = p.geo.pad_end;
    const Isa isa = ActiveIsa();
    const bool x_signed = std::is_same_v<TX, int8_t>;
    if (PrepareLowBit(p, w, b)) return;
    if (DwConvQ8Supports(p) && p.group > 1) {
      dw_ = PackDwConvQ8<TX, int8_t>(p, w, b, isa);
      path_ = Path::kDepthwise;
    } else if (ConvQ8FastSupports(p, w, b, x_signed)) {
      gemm_ = PackConvQ8(p, w, b, isa);
      path_ = Path::kGemm;
    } else {
      path_ = Path::kReference;
    }
  }

  // Sub-8-bit layers: the bit-serial (AND + popcount over bit planes) or
  // binary (XNOR + popcount) kernel when the selector measured it faster on
  // this CPU than the int8 kernels for this shape (lowbit_select.h).
  bool PrepareLowBit(const ConvQ8Params& p, const int8_t* w, const int32_t* b) {
    const bool low = x_.bits <= 4 && w_params_.bits <= 4;
    if (!low || p.group != 1) return false;
    LowBitProblem prob;
    prob.m = p.batch * p.geo.spatial_size_out();
    prob.n = p.out_channels;
    prob.k = p.in_channels * p.geo.kernel_size();
    prob.w_bits = SerialBits(w_params_);
    prob.a_bits = SerialBits(x_);
    prob.w_signed = w_params_.is_signed;
    prob.a_signed = x_.is_signed;
    prob.bipolar = w_params_.bipolar() && x_.bipolar();
    const LowBitKernel kind = SelectLowBitConvKernel(p, prob);
    lowbit_choice_ = DescribeLowBitConvChoice(p, prob);
    std::string why;
    if (kind == LowBitKernel::kBinary && BinaryConvSupports(p, w, b, &why)) {
      lowbit_ = PackBinaryConv(p, w, b);
    } else if (kind == LowBitKernel::kBitSerial &&
               BitSerialConvSupports(p, w, b, {SerialBits(x_), SerialBits(w_params_), x_.is_signed, w_params_.is_signed}, &why)) {
      lowbit_ = PackBitSerialConv(p, w, b, {SerialBits(x_), SerialBits(w_params_), x_.is_signed, w_params_.is_signed});
    } else {
      if (!why.empty()) lowbit_choice_ += "; not used here: " + why;
      return false;
    }
    path_ = Path::kLowBit;
    return true;
  }


 private:
  std::string where_q_;
  const Tensor* w_ = nullptr;
  const Tensor* bias_ = nullptr;
  QuantParams x_, w_params_, y_;
  std::vector<FixedPointMultiplier> multipliers_;
  ClampRange clamp_;
  std::vector<uint8_t> col_u8_;
  std::vector<int8_t> col_s8_;
  std::vector<int32_t> acc_;
  Path path_ = Path::kUnprepared;
  std::vector<int64_t> packed_in_, packed_pad_begin_, packed_pad_end_;  // the window the packing is for
  Shape params_shape_;  // the input shape params_ was built for (empty, which no conv input is, before the first run)
  ConvQ8Params params_;
  DwConvQ8Packed dw_;
  ConvQ8Packed gemm_;
  ConvQ8Layout layout_;  // set by the session (SetChannelsLast)
  LowBitPacked lowbit_;
  LowBitConvInput lowbit_in_;
  std::string lowbit_choice_;
};

}  // namespace

void RegisterConvOps(OpRegistry& r) {
  r.Add("Conv", MakeFactory<ConvKernel>());
  r.AddQuantized("Conv", MakeFactory<QConvKernel>());
}

}  // namespace nibble
