// Float activations and math functions, one element at a time.
#include <cmath>
#include <limits>

#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

enum class UnOp {
  kRelu, kLeakyRelu, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kErf, kSqrt, kGelu, kGeluTanh,
  kNeg, kAbs, kExp, kLog, kReciprocal, kElu, kSelu, kSoftplus, kFloor, kCeil,
};

struct UnaryParams {
  double alpha = 0, beta = 0, gamma = 0;
};

template <class T>
inline T ApplyUnary(UnOp op, T x, const UnaryParams& p) {
  switch (op) {
    case UnOp::kRelu: return x > T(0) ? x : T(0);
    case UnOp::kLeakyRelu: return x >= T(0) ? x : static_cast<T>(p.alpha * x);
    case UnOp::kSigmoid: return static_cast<T>(1 / (1 + std::exp(-static_cast<double>(x))));
    case UnOp::kHardSigmoid:
      return static_cast<T>(std::max(0.0, std::min(1.0, p.alpha * static_cast<double>(x) + p.beta)));
    case UnOp::kHardSwish:
      return static_cast<T>(x * std::max(0.0, std::min(1.0, static_cast<double>(x) / 6 + 0.5)));
    case UnOp::kTanh: return std::tanh(x);
    case UnOp::kErf: return std::erf(x);
    case UnOp::kSqrt: return std::sqrt(x);
    case UnOp::kGelu: return static_cast<T>(0.5 * x * (1 + std::erf(static_cast<double>(x) / std::sqrt(2.0))));
    case UnOp::kGeluTanh: {
      double v = x;
      return static_cast<T>(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    }
    case UnOp::kNeg: return -x;
    case UnOp::kAbs: return std::abs(x);
    case UnOp::kExp: return std::exp(x);
    case UnOp::kLog: return std::log(x);
    case UnOp::kReciprocal: return T(1) / x;
    case UnOp::kElu: return x >= T(0) ? x : static_cast<T>(p.alpha * (std::exp(static_cast<double>(x)) - 1));
    case UnOp::kSelu:
      return static_cast<T>(x > T(0) ? p.gamma * x : p.gamma * (p.alpha * std::exp(static_cast<double>(x)) - p.alpha));
    case UnOp::kSoftplus: return static_cast<T>(std::log1p(std::exp(static_cast<double>(x))));
    case UnOp::kFloor: return std::floor(x);
    case UnOp::kCeil: return std::ceil(x);
  }
  return x;
}

class UnaryKernel : public OpKernel {
 public:
  UnaryKernel(const OpEnv& env, UnOp op) : op_(op), where_(env.where()) {
    const Attributes& a = env.node.attrs;
    switch (op) {
      case UnOp::kLeakyRelu: p_.alpha = a.GetFloat("alpha", 0.01f); break;
      case UnOp::kHardSigmoid:
        p_.alpha = a.GetFloat("alpha", 0.2f);
        p_.beta = a.GetFloat("beta", 0.5f);
        break;
      case UnOp::kElu: p_.alpha = a.GetFloat("alpha", 1.0f); break;
      case UnOp::kSelu:
        p_.alpha = a.GetFloat("alpha", 1.67326319217681884765625f);
        p_.gamma = a.GetFloat("gamma", 1.05070102214813232421875f);
        break;
      case UnOp::kGelu: {
        std::string approx = a.GetString("approximate", "none");
        if (approx == "tanh") op_ = UnOp::kGeluTanh;
        else NIBBLE_CHECK(approx == "none", where_, ": approximate must be 'none' or 'tanh', got '", approx, "'");
        break;
      }
      default: break;
    }
  }

  void Infer(InferContext& ctx) override {
    DType t = ctx.dtype(0);
    bool signed_ok = op_ == UnOp::kRelu || op_ == UnOp::kNeg || op_ == UnOp::kAbs;
    bool ok = t == DType::kFloat32 || t == DType::kFloat64 ||
              (signed_ok && t != DType::kBool && t != DType::kFloat16);
    if (!ok) ctx.Fail("element type ", DTypeName(t), " is not supported");
    ctx.set_output(0, t, ctx.shape(0));
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    DispatchNumeric(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = y.data<T>();
      ctx.pool().ParallelFor(x.numel(), [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          if constexpr (std::is_floating_point_v<T>) py[i] = ApplyUnary(op_, px[i], p_);
          else if constexpr (std::is_signed_v<T>) py[i] = op_ == UnOp::kRelu ? std::max<T>(px[i], 0)
                                                          : op_ == UnOp::kNeg ? static_cast<T>(-px[i])
                                                                              : static_cast<T>(px[i] < 0 ? -px[i] : px[i]);
          else py[i] = op_ == UnOp::kNeg ? static_cast<T>(-px[i]) : px[i];
        }
      }, 1 << 14);
    });
  }

 private:
  UnOp op_;
  UnaryParams p_;
  std::string where_;
};

// Clip(x, min?, max?) with bounds as optional inputs (opset 11+).
class ClipKernel : public OpKernel {
 public:
  explicit ClipKernel(const OpEnv& env) : where_(env.where()) {}
  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) == DType::kBool || ctx.dtype(0) == DType::kFloat16)
      ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported");
    for (int k = 1; k <= 2; ++k)
      if (ctx.has_input(k) && (ShapeNumel(ctx.shape(k)) != 1 || ctx.dtype(k) != ctx.dtype(0)))
        ctx.Fail("min/max must be scalars of the input's type");
    ctx.set_output(0, ctx.dtype(0), ctx.shape(0));
  }
  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    DispatchNumeric(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T lo = ctx.has_input(1) ? ctx.input(1).data<T>()[0] : std::numeric_limits<T>::lowest();
      T hi = ctx.has_input(2) ? ctx.input(2).data<T>()[0] : std::numeric_limits<T>::max();
      const T* px = x.data<T>();
      T* py = ctx.output(0).data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) py[i] = std::min(std::max(px[i], lo), hi);
    });
  }

 private:
  std::string where_;
};

template <UnOp op>
OpFactory Unary() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<UnaryKernel>(env, op); };
}

}  // namespace

void RegisterElementwiseUnaryOps(OpRegistry& r) {
  r.Add("Relu", Unary<UnOp::kRelu>());
  r.Add("LeakyRelu", Unary<UnOp::kLeakyRelu>());
  r.Add("Sigmoid", Unary<UnOp::kSigmoid>());
  r.Add("HardSigmoid", Unary<UnOp::kHardSigmoid>());
  r.Add("HardSwish", Unary<UnOp::kHardSwish>());
  r.Add("Tanh", Unary<UnOp::kTanh>());
  r.Add("Erf", Unary<UnOp::kErf>());
  r.Add("Sqrt", Unary<UnOp::kSqrt>());
  r.Add("Gelu", Unary<UnOp::kGelu>());
  r.Add("Neg", Unary<UnOp::kNeg>());
  r.Add("Abs", Unary<UnOp::kAbs>());
  r.Add("Exp", Unary<UnOp::kExp>());
  r.Add("Log", Unary<UnOp::kLog>());
  r.Add("Reciprocal", Unary<UnOp::kReciprocal>());
  r.Add("Elu", Unary<UnOp::kElu>());
  r.Add("Selu", Unary<UnOp::kSelu>());
  r.Add("Softplus", Unary<UnOp::kSoftplus>());
  r.Add("Floor", Unary<UnOp::kFloor>());
  r.Add("Ceil", Unary<UnOp::kCeil>());
  r.Add("Clip", MakeFactory<ClipKernel>());
}

}  // namespace nibble
