// Add, Sub, Mul, Div, Pow, PRelu: numpy broadcasting, every numeric type
// ONNX allows for them, and a fused activation on float Add.
#include <algorithm>
#include <cmath>

#include "kernels/reference/broadcast.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

enum class BinOp { kAdd, kSub, kMul, kDiv, kPow, kPRelu };

template <class T>
inline T Apply(BinOp op, T a, T b) {
  switch (op) {
    case BinOp::kAdd: return static_cast<T>(a + b);
    case BinOp::kSub: return static_cast<T>(a - b);
    case BinOp::kMul: return static_cast<T>(a * b);
    case BinOp::kDiv:
      if constexpr (std::is_integral_v<T>) return b == 0 ? T(0) : static_cast<T>(a / b);
      else return a / b;
    case BinOp::kPRelu: return a < 0 ? static_cast<T>(a * b) : a;
    case BinOp::kPow: return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  }
  return a;
}

class BinaryKernel : public OpKernel {
 public:
  BinaryKernel(const OpEnv& env, BinOp op) : op_(op), act_(env.node.fused), where_(env.where()) {}

  void Infer(InferContext& ctx) override {
    if (op_ != BinOp::kPow && ctx.dtype(0) != ctx.dtype(1))
      ctx.Fail("inputs have different types (", DTypeName(ctx.dtype(0)), " and ", DTypeName(ctx.dtype(1)), ")");
    if (ctx.dtype(0) == DType::kBool || ctx.dtype(0) == DType::kFloat16)
      ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported");
    Shape out;
    try {
      out = BroadcastShapes({ctx.shape(0), ctx.shape(1)});
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    if (op_ == BinOp::kPRelu && out != ctx.shape(0)) ctx.Fail("slope must broadcast to the input's shape");
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    DispatchNumeric(a.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (op_ == BinOp::kPow && b.dtype() != a.dtype()) {
        RunPowMixed<T>(a, b, y);
        return;
      }
      RunTyped<T>(a, b, y, ctx.pool());
    });
  }

 private:
  template <class T>
  void RunTyped(const Tensor& a, const Tensor& b, Tensor& y, ThreadPool& pool) {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    const int64_t n = y.numel();
    if (a.numel() == n && b.numel() == n) {
      // Same shape: the hot path in CNNs (residual Add), split across threads.
      pool.ParallelFor(n, [&](int64_t lo, int64_t hi) {
        if constexpr (std::is_same_v<T, float>) {
          if (op_ == BinOp::kAdd && act_.kind == Activation::Kind::kRelu) {
            // The residual Add+Relu of CNNs in one vectorizable pass.
            for (int64_t i = lo; i < hi; ++i) py[i] = std::max(pa[i] + pb[i], 0.f);
            return;
          }
        }
        for (int64_t i = lo; i < hi; ++i) py[i] = Apply(op_, pa[i], pb[i]);
        if constexpr (std::is_same_v<T, float>) act_.ApplyInPlace(py + lo, hi - lo);
      }, 1 << 14);
      return;
    }
    std::vector<int64_t> st[2] = {BroadcastStrides(a.shape(), y.shape()), BroadcastStrides(b.shape(), y.shape())};
    ForEachBroadcast(y.shape(), st, [&](int64_t o, const int64_t* idx) { py[o] = Apply(op_, pa[idx[0]], pb[idx[1]]); });
    if constexpr (std::is_same_v<T, float>) act_.ApplyInPlace(py, n);
  }

  // Pow(T, T1): the exponent may have another numeric type.
  template <class T>
  void RunPowMixed(const Tensor& a, const Tensor& b, Tensor& y) {
    const T* pa = a.data<T>();
    T* py = y.data<T>();
    std::vector<int64_t> st[2] = {BroadcastStrides(a.shape(), y.shape()), BroadcastStrides(b.shape(), y.shape())};
    ForEachBroadcast(y.shape(), st, [&](int64_t o, const int64_t* idx) {
      py[o] = static_cast<T>(std::pow(static_cast<double>(pa[idx[0]]), b.AsDouble(idx[1])));
    });
  }

  BinOp op_;
  Activation act_;
  std::string where_;
};

template <BinOp op>
OpFactory Binary() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<BinaryKernel>(env, op); };
}

}  // namespace

void RegisterElementwiseBinaryOps(OpRegistry& r) {
  r.Add("Add", Binary<BinOp::kAdd>());
  r.Add("Sub", Binary<BinOp::kSub>());
  r.Add("Mul", Binary<BinOp::kMul>());
  r.Add("Div", Binary<BinOp::kDiv>());
  r.Add("Pow", Binary<BinOp::kPow>());
  r.Add("PRelu", Binary<BinOp::kPRelu>());
}

}  // namespace nibble
