// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) of any
// numeric type and the bool logic ops (Not, And, Or, Xor); numpy broadcasting,
// bool output. float16 is compared as float32.
#include "kernels/reference/broadcast.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

enum class Cmp { kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual, kAnd, kOr, kXor };

bool IsLogic(Cmp op) { return op == Cmp::kAnd || op == Cmp::kOr || op == Cmp::kXor; }

template <class T>
inline bool Compare(Cmp op, T a, T b) {
  switch (op) {
    case Cmp::kEqual: return a == b;
    case Cmp::kLess: return a < b;
    case Cmp::kGreater: return a > b;
    case Cmp::kLessOrEqual: return a <= b;
    case Cmp::kGreaterOrEqual: return a >= b;
    case Cmp::kAnd: return a && b;
    case Cmp::kOr: return a || b;
    case Cmp::kXor: return a != b;
  }
  return false;
}

class CompareKernel : public OpKernel {
 public:
  CompareKernel(const OpEnv& env, Cmp op) : op_(op), where_(env.where()) { CheckArity(env, 2, 2); }

  void Infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    if (ctx.dtype(1) != t) ctx.Fail("inputs have different types (", DTypeName(t), " and ", DTypeName(ctx.dtype(1)), ")");
    const bool ok = IsLogic(op_) ? t == DType::kBool
                                 : IsNumeric(t) || t == DType::kFloat16 || (op_ == Cmp::kEqual && t == DType::kBool);
    if (!ok) ctx.Fail("element type ", DTypeName(t), " is not supported");
    Shape out;
    try {
      out = BroadcastShapes({ctx.shape(0), ctx.shape(1)});
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    ctx.set_output(0, DType::kBool, out);
  }

  void Run(RunContext& ctx) override {
    if (ctx.input(0).dtype() == DType::kFloat16) {
      Tensor a = Float16ToFloat32(ctx.input(0)), b = Float16ToFloat32(ctx.input(1));
      return RunOn(a, b, ctx.output(0));
    }
    RunOn(ctx.input(0), ctx.input(1), ctx.output(0));
  }

 private:
  void RunOn(const Tensor& a, const Tensor& b, Tensor& y) {
    std::vector<int64_t> st[2] = {BroadcastStrides(a.shape(), y.shape()), BroadcastStrides(b.shape(), y.shape())};
    bool* py = y.data<bool>();
    auto body = [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      ForEachBroadcast(y.shape(), st, [&](int64_t o, const int64_t* i) { py[o] = Compare(op_, pa[i[0]], pb[i[1]]); });
    };
    if (a.dtype() == DType::kBool) body(TypeTag<bool>{});
    else DispatchNumeric(a.dtype(), where_, body);
  }

  Cmp op_;
  std::string where_;
};

class NotKernel : public OpKernel {
 public:
  explicit NotKernel(const OpEnv& env) { CheckArity(env, 1, 1); }
  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kBool) ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported (expected bool)");
    ctx.set_output(0, DType::kBool, ctx.shape(0));
  }
  void Run(RunContext& ctx) override {
    const bool* x = ctx.input(0).data<bool>();
    bool* y = ctx.output(0).data<bool>();
    for (int64_t i = 0; i < ctx.input(0).numel(); ++i) y[i] = !x[i];
  }
};

template <Cmp op>
OpFactory Comparison() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<CompareKernel>(env, op); };
}

}  // namespace

void RegisterCompareLogicalOps(OpRegistry& r) {
  r.Add("Equal", Comparison<Cmp::kEqual>());
  r.Add("Less", Comparison<Cmp::kLess>());
  r.Add("Greater", Comparison<Cmp::kGreater>());
  r.Add("LessOrEqual", Comparison<Cmp::kLessOrEqual>());
  r.Add("GreaterOrEqual", Comparison<Cmp::kGreaterOrEqual>());
  r.Add("And", Comparison<Cmp::kAnd>());
  r.Add("Or", Comparison<Cmp::kOr>());
  r.Add("Xor", Comparison<Cmp::kXor>());
  r.Add("Not", MakeFactory<NotKernel>());
}

}  // namespace nibble
