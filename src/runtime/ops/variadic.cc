// Max, Min, Sum, Mean over one or more inputs with numpy broadcasting.
// Max and Min propagate NaN (numpy.maximum). float16 is computed as float32.
#include <cmath>

#include "kernels/reference/broadcast.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

enum class Fold { kMax, kMin, kSum, kMean };

template <class T>
inline T Combine(Fold op, T acc, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if ((op == Fold::kMax || op == Fold::kMin) && std::isnan(v)) return v;
  }
  switch (op) {
    case Fold::kMax: return v > acc ? v : acc;
    case Fold::kMin: return v < acc ? v : acc;
    default: return static_cast<T>(acc + v);
  }
}

class VariadicKernel : public OpKernel {
 public:
  VariadicKernel(const OpEnv& env, Fold op) : op_(op), where_(env.where()) {
    CheckArity(env, 1, -1);
    CheckNoEmptyInputs(env);
  }

  void Infer(InferContext& ctx) override {
    if (ctx.num_inputs() == 0) ctx.Fail("needs at least one input");
    const DType t = ctx.dtype(0);
    const bool is_float = t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16;
    const bool ok = op_ == Fold::kMean ? is_float : (IsNumeric(t) || t == DType::kFloat16);
    if (!ok) ctx.Fail("element type ", DTypeName(t), " is not supported");
    std::vector<Shape> shapes;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      if (ctx.dtype(i) != t) ctx.Fail("input ", i, " is ", DTypeName(ctx.dtype(i)), " but input 0 is ", DTypeName(t));
      shapes.push_back(ctx.shape(i));
    }
    Shape out;
    try {
      out = BroadcastShapes(shapes);
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    ctx.set_output(0, t, out);
  }

  void Run(RunContext& ctx) override {
    Tensor& y = ctx.output(0);
    if (y.dtype() != DType::kFloat16) {
      std::vector<const Tensor*> ins;
      for (int i = 0; i < ctx.num_inputs(); ++i) ins.push_back(&ctx.input(i));
      return RunOn(ins, y);
    }
    std::vector<Tensor> f32;
    std::vector<const Tensor*> ins;
    for (int i = 0; i < ctx.num_inputs(); ++i) f32.push_back(Float16ToFloat32(ctx.input(i)));
    for (const Tensor& t : f32) ins.push_back(&t);
    Tensor acc(DType::kFloat32, y.shape());
    RunOn(ins, acc);
    StoreAsFloat16(acc, y);
  }

 private:
  void RunOn(const std::vector<const Tensor*>& ins, Tensor& y) {
    DispatchNumeric(y.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* py = y.data<T>();
      for (size_t k = 0; k < ins.size(); ++k) {
        const T* px = ins[k]->data<T>();
        std::vector<int64_t> st[1] = {BroadcastStrides(ins[k]->shape(), y.shape())};
        if (k == 0) ForEachBroadcast(y.shape(), st, [&](int64_t o, const int64_t* i) { py[o] = px[i[0]]; });
        else ForEachBroadcast(y.shape(), st, [&](int64_t o, const int64_t* i) { py[o] = Combine(op_, py[o], px[i[0]]); });
      }
      if (op_ == Fold::kMean) {
        const T n = static_cast<T>(ins.size());
        for (int64_t i = 0; i < y.numel(); ++i) py[i] = static_cast<T>(py[i] / n);
      }
    });
  }

  Fold op_;
  std::string where_;
};

template <Fold op>
OpFactory Variadic() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<VariadicKernel>(env, op); };
}

}  // namespace

void RegisterVariadicOps(OpRegistry& r) {
  r.Add("Max", Variadic<Fold::kMax>());
  r.Add("Min", Variadic<Fold::kMin>());
  r.Add("Sum", Variadic<Fold::kSum>());
  r.Add("Mean", Variadic<Fold::kMean>());
}

}  // namespace nibble
