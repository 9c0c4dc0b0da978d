// Integer kernels for the ops fold-qdq leaves over quantized codes besides
// Conv/Gemm/MatMul: Add and Mul (rescaled, with broadcasting), unary
// activations through a 256-entry lookup table, AveragePool and
// GlobalAveragePool (int32 sums, rescaled), and Concat (each input
// requantized to the output's scale). Shape ops pass codes through their
// ordinary kernels, which move any element type.
#include <cmath>
#include <functional>

#include "kernels/reference/add_mul_q8.h"
#include "kernels/reference/broadcast.h"
#include "kernels/reference/lut_q8.h"
#include "kernels/reference/pool_q8.h"
#include "kernels/reference/requantize_q8.h"
#include "kernels/x86/eltwise_q8.h"
#include "kernels/x86/global_avgpool_q8.h"
#include "runtime/op_registry.h"
#include "runtime/ops/quant_util.h"

namespace nibble {
namespace {

class QAddMulKernel : public OpKernel {
 public:
  explicit QAddMulKernel(const OpEnv& env) : mul_(env.node.op_type == "Mul") {
    const Node& n = env.node;
    a_ = QuantOf(env, n.inputs[0], "input A");
    b_ = QuantOf(env, n.inputs[1], "input B");
    y_ = QuantOf(env, n.outputs[0], "output");
    // Add may write the other code type (its arithmetic does not depend on it); Mul keeps one.
    NIBBLE_CHECK(a_.is_signed == b_.is_signed && (!mul_ || a_.is_signed == y_.is_signed), env.where(),
                 ": quantized ", n.op_type, " needs ", mul_ ? "inputs and output" : "both inputs", " of one code type");
    ClampRange c = OutputClamp(env, y_);
    if (mul_) mul_p_ = MakeMulQ8Params(a_.scale[0], ZeroPoint(a_), b_.scale[0], ZeroPoint(b_), y_.scale[0], ZeroPoint(y_), c.lo, c.hi);
    else add_p_ = MakeAddQ8Params(a_.scale[0], ZeroPoint(a_), b_.scale[0], ZeroPoint(b_), y_.scale[0], ZeroPoint(y_), c.lo, c.hi);
  }
  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != CodeType(a_) || ctx.dtype(1) != CodeType(b_)) ctx.Fail("quantized inputs have the wrong code type");
    try {
      ctx.set_output(0, CodeType(y_), BroadcastShapes({ctx.shape(0), ctx.shape(1)}));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
  }
  // Two inputs of one shape (no broadcasting): element i of the output reads
  // element i of each, whatever the layout.
  ChannelsLastRole ChannelsLast(const std::vector<Shape>& inputs) override {
    return inputs.size() == 2 && inputs[0] == inputs[1] ? ChannelsLastRole::kElementwise : ChannelsLastRole::kNone;
  }
  void Run(RunContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    if (a.dtype() != y.dtype()) {
      // Mixed code types (rare: Brevitas exports) take the reference loop.
      DispatchCode(a.dtype(), [&](auto atag) {
        using TA = decltype(atag);
        DispatchCode(y.dtype(), [&](auto ytag) {
          using TY = decltype(ytag);
          if constexpr (!std::is_same_v<TA, TY>)
            AddQ8Reference(add_p_, a.shape(), a.data<TA>(), b.shape(), b.data<TA>(), y.data<TY>());
        });
      });
      return;
    }
    DispatchCode(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (!EltwiseQ8Vectorizes(a.shape(), b.shape())) {  // general broadcasting: the reference loop
        if (mul_) MulQ8Reference(mul_p_, a.shape(), a.data<T>(), b.shape(), b.data<T>(), y.data<T>());
        else AddQ8Reference(add_p_, a.shape(), a.data<T>(), b.shape(), b.data<T>(), y.data<T>());
        return;
      }
      const bool a1 = a.numel() == 1 && y.numel() != 1, b1 = b.numel() == 1 && y.numel() != 1;
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* py = y.data<T>();
      // Tasks of 64K elements: below that (MobileNetV2's residual Adds, 8K to
      // 75K) a second thread costs more in hand-off and in lines its half
      // pulls from the other core than it saves; with 16K tasks MobileNetV2's
      // ten Adds took 0.071-0.076 ms at 2 threads against 0.054-0.060 now
      // (0.044 at 1 thread), Emerald Rapids, `nibble bench --profile`.
      ctx.pool().ParallelForTasks(y.numel(), [&](int64_t lo, int64_t hi) {
        const T* sa = a1 ? pa : pa + lo;
        const T* sb = b1 ? pb : pb + lo;
        if (mul_) MulQ8Span(mul_p_, sa, a1, sb, b1, py + lo, hi - lo);
        else AddQ8Span(add_p_, sa, a1, sb, b1, py + lo, hi - lo);
      }, 1 << 16);
    });
  }

 private:
  bool mul_;
  QuantParams a_, b_, y_;
  AddQ8Params add_p_;
  MulQ8Params mul_p_;
};

// The real function of a unary op, with its attributes.
std::function<float(float)> UnaryFunction(const OpEnv& env) {
  const Node& n = env.node;
  const std::string& op = n.op_type;
  if (op == "Relu") return [](float x) { return x > 0 ? x : 0.f; };
  if (op == "LeakyRelu") {
    float a = n.attrs.GetFloat("alpha", 0.01f);
    return [a](float x) { return x >= 0 ? x : a * x; };
  }
  if (op == "Sigmoid") return [](float x) { return 1.f / (1.f + std::exp(-x)); };
  if (op == "Tanh") return [](float x) { return std::tanh(x); };
  if (op == "HardSwish") return [](float x) { return x * std::min(std::max(x / 6.f + 0.5f, 0.f), 1.f); };
  if (op == "HardSigmoid") {
    float a = n.attrs.GetFloat("alpha", 0.2f), b = n.attrs.GetFloat("beta", 0.5f);
    return [a, b](float x) { return std::min(std::max(a * x + b, 0.f), 1.f); };
  }
  if (op == "Erf") return [](float x) { return std::erf(x); };
  if (op == "Gelu") {
    if (n.attrs.GetString("approximate", "none") == "tanh")
      return [](float x) {
        return 0.5f * x * (1.f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
      };
    return [](float x) { return 0.5f * x * (1.f + std::erf(x / std::sqrt(2.f))); };
  }
  if (op == "Clip") {
    float lo = -INFINITY, hi = INFINITY;
    if (n.inputs.size() > 1 && n.inputs[1] >= 0) {
      const Tensor* t = env.constant_input(1);
      NIBBLE_CHECK(t, env.where(), ": quantized Clip needs constant bounds");
      lo = static_cast<float>(t->AsDouble(0));
    }
    if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
      const Tensor* t = env.constant_input(2);
      NIBBLE_CHECK(t, env.where(), ": quantized Clip needs constant bounds");
      hi = static_cast<float>(t->AsDouble(0));
    }
    return [lo, hi](float x) { return std::min(std::max(x, lo), hi); };
  }
  Fail(env.where(), ": no lookup table for ", op);
}

class QLutKernel : public OpKernel {
 public:
  explicit QLutKernel(const OpEnv& env) {
    x_ = QuantOf(env, env.node.inputs[0], "input");
    y_ = QuantOf(env, env.node.outputs[0], "output");
    table_ = BuildLutQ8(UnaryFunction(env), x_, y_);
  }
  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != CodeType(x_)) ctx.Fail("quantized input must be ", DTypeName(CodeType(x_)));
    ctx.set_output(0, CodeType(y_), ctx.shape(0));
  }
  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const uint8_t* px = static_cast<const uint8_t*>(x.raw());
    uint8_t* py = static_cast<uint8_t*>(ctx.output(0).raw());
    ctx.pool().ParallelFor(x.numel(), [&](int64_t lo, int64_t hi) { ApplyLutQ8X86(table_, px + lo, py + lo, hi - lo); },
                           1 << 15);
  }

 private:
  QuantParams x_, y_;
  LutQ8 table_;
};

class QAvgPoolKernel : public OpKernel {
 public:
  explicit QAvgPoolKernel(const OpEnv& env) : where_(env.where()), global_(env.node.op_type == "GlobalAveragePool") {
    const Attributes& a = env.node.attrs;
    x_ = QuantOf(env, env.node.inputs[0], "input");
    y_ = QuantOf(env, env.node.outputs[0], "output");
    clamp_ = OutputClamp(env, y_);
    if (!global_) {
      kernel_ = a.GetInts("kernel_shape");
      NIBBLE_CHECK(!kernel_.empty(), where_, ": kernel_shape is required");
      strides_ = a.GetInts("strides");
      dilations_ = a.GetInts("dilations");
      pads_ = a.GetInts("pads");
      auto_pad_ = a.GetString("auto_pad", "NOTSET");
      ceil_ = a.GetInt("ceil_mode", 0) != 0;
      include_pad_ = a.GetInt("count_include_pad", 0) != 0;
    }
  }
  void Infer(InferContext& ctx) override {
    const Shape& x = ctx.shape(0);
    if (ctx.dtype(0) != CodeType(x_)) ctx.Fail("quantized input must be ", DTypeName(CodeType(x_)));
    if (x.size() < 3) ctx.Fail("input must be at least 3-D, got ", ShapeStr(x));
    Shape y = {x[0], x[1]};
    if (global_) {
      y.resize(x.size(), 1);
    } else {
      try {
        WindowGeometry g = Geometry(x);
        y.insert(y.end(), g.out.begin(), g.out.end());
      } catch (const Error& e) {
        ctx.Fail(e.what());
      }
    }
    ctx.set_output(0, CodeType(y_), y);
  }
  // GlobalAveragePool reads channels-last input; its output [N, C, 1, ...]
  // is the same bytes in either layout.
  ChannelsLastRole ChannelsLast(const std::vector<Shape>& inputs) override {
    return global_ && !inputs.empty() && inputs[0].size() >= 3 ? ChannelsLastRole::kEndpoint : ChannelsLastRole::kNone;
  }
  void SetChannelsLast(bool input, bool) override { x_channels_last_ = input; }
  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int64_t planes = x.dim(0) * x.dim(1);
    DispatchCode(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (global_) {
        GlobalAvgPoolQ8Params p;
        p.spatial = x.numel() / std::max<int64_t>(1, planes);
        p.x_zero_point = ZeroPoint(x_);
        p.y_zero_point = ZeroPoint(y_);
        p.y_min = clamp_.lo;
        p.y_max = clamp_.hi;
        p.multiplier = QuantizeMultiplier(static_cast<double>(x_.scale[0]) / (y_.scale[0] * p.spatial));
        if (x_channels_last_) {
          ctx.pool().ParallelFor(x.dim(0), [&](int64_t lo, int64_t hi) {
            GlobalAvgPoolQ8ChannelsLast(p, x.data<T>(), x.dim(1), y.data<T>(), lo, hi);
          });
          return;
        }
        ctx.pool().ParallelFor(planes, [&](int64_t lo, int64_t hi) {
          GlobalAvgPoolQ8X86(p, x.data<T>(), y.data<T>(), lo, hi);
        });
        return;
      }
      AvgPoolQ8Params p;
      p.planes = planes;
      p.geo = Geometry(x.shape());
      p.count_include_pad = include_pad_;
      p.x_zero_point = ZeroPoint(x_);
      p.y_zero_point = ZeroPoint(y_);
      p.y_min = clamp_.lo;
      p.y_max = clamp_.hi;
      p.multiplier = AvgPoolQ8Multipliers(x_.scale[0], y_.scale[0], p.geo.kernel_size());
      ctx.pool().ParallelFor(planes, [&](int64_t lo, int64_t hi) { AvgPoolQ8Reference(p, x.data<T>(), y.data<T>(), lo, hi); });
    });
  }

 private:
  WindowGeometry Geometry(const Shape& x) const {
    WindowGeometry g;
    g.in.assign(x.begin() + 2, x.end());
    g.kernel = kernel_;
    g.stride = strides_;
    g.dilation = dilations_;
    ComputeWindow(g, pads_, auto_pad_, ceil_);
    return g;
  }
  std::string where_;
  bool global_;
  QuantParams x_, y_;
  ClampRange clamp_;
  std::vector<int64_t> kernel_, strides_, dilations_, pads_;
  std::string auto_pad_;
  bool ceil_ = false, include_pad_ = false;
  bool x_channels_last_ = false;  // set by the session (SetChannelsLast)
};

class QConcatKernel : public OpKernel {
 public:
  explicit QConcatKernel(const OpEnv& env) : axis_(env.node.attrs.GetInt("axis", 0)) {
    y_ = QuantOf(env, env.node.outputs[0], "output");
    for (int v : env.node.inputs) {
      const QuantParams& x = QuantOf(env, v, "input");
      NIBBLE_CHECK(x.is_signed == y_.is_signed, env.where(), ": quantized Concat needs one code type");
      params_.push_back(MakeRequantizeQ8Params(x.scale[0], ZeroPoint(x), y_.scale[0], ZeroPoint(y_)));
    }
  }
  void Infer(InferContext& ctx) override {
    Shape y = ctx.shape(0);
    const int64_t rank = static_cast<int64_t>(y.size());
    int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    if (axis < 0 || axis >= rank) ctx.Fail("axis ", axis_, " is out of range for rank ", rank);
    for (int i = 1; i < ctx.num_inputs(); ++i) {
      const Shape& s = ctx.shape(i);
      if (static_cast<int64_t>(s.size()) != rank) ctx.Fail("inputs have different ranks");
      for (int64_t d = 0; d < rank; ++d)
        if (d != axis && s[d] != y[d]) ctx.Fail("input ", i, " shape ", ShapeStr(s), " does not match ", ShapeStr(y));
      y[axis] += s[axis];
    }
    ctx.set_output(0, CodeType(y_), y);
  }
  void Run(RunContext& ctx) override {
    Tensor& y = ctx.output(0);
    const int64_t rank = y.rank();
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= y.dim(d);
    const int64_t inner_y = y.numel() / std::max<int64_t>(1, outer);
    int64_t offset = 0;
    DispatchCode(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      for (int i = 0; i < ctx.num_inputs(); ++i) {
        const Tensor& x = ctx.input(i);
        const int64_t inner_x = x.numel() / std::max<int64_t>(1, outer);
        for (int64_t o = 0; o < outer; ++o)
          RequantizeQ8Reference(params_[i], x.data<T>() + o * inner_x, y.data<T>() + o * inner_y + offset, inner_x);
        offset += inner_x;
      }
    });
  }

 private:
  int64_t axis_;
  QuantParams y_;
  std::vector<RequantizeQ8Params> params_;
};

}  // namespace

void RegisterQuantizedElementwiseOps(OpRegistry& r) {
  r.AddQuantized("Add", MakeFactory<QAddMulKernel>());
  r.AddQuantized("Mul", MakeFactory<QAddMulKernel>());
  for (const char* op : {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Gelu", "Erf"})
    r.AddQuantized(op, MakeFactory<QLutKernel>());
  r.AddQuantized("AveragePool", MakeFactory<QAvgPoolKernel>());
  r.AddQuantized("GlobalAveragePool", MakeFactory<QAvgPoolKernel>());
  r.AddQuantized("Concat", MakeFactory<QConcatKernel>());
}

}  // namespace nibble
