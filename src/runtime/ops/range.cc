// Range(start, limit, delta): ceil((limit - start) / delta) elements, at least
// none; element i is start + i * delta. The length is a function of the
// inputs' values, so a Range fed at run time makes the plan value-dependent.
#include <cmath>

#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class RangeKernel : public OpKernel {
 public:
  explicit RangeKernel(const OpEnv& env) : where_(env.where()) { CheckArity(env, 3, 3); }

  void Infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    if (!IsNumeric(t)) ctx.Fail("element type ", DTypeName(t), " is not supported");
    for (int i = 0; i < 3; ++i) {
      if (ctx.dtype(i) != t) ctx.Fail("start, limit and delta must have one type, got ", DTypeName(ctx.dtype(0)), ", ",
                                      DTypeName(ctx.dtype(1)), ", ", DTypeName(ctx.dtype(2)));
      if (ShapeNumel(ctx.shape(i)) != 1 || ctx.shape(i).size() > 1)
        ctx.Fail("input ", i, " must be a scalar, got shape ", ShapeStr(ctx.shape(i)));
    }
    SetValueDerivedOutput(ctx, 0, t, {Count(ctx.value(0), ctx.value(1), ctx.value(2))});
  }

  void Run(RunContext& ctx) override {
    const Tensor& start = ctx.input(0);
    const Tensor& delta = ctx.input(2);
    Tensor& y = ctx.output(0);
    const int64_t n = Count(start, ctx.input(1), delta);
    if (y.numel() != n) Fail(where_, ": output has ", y.numel(), " elements, expected ", n);
    DispatchNumeric(y.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = y.data<T>();
      const T s = start.data<T>()[0], d = delta.data<T>()[0];
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_floating_point_v<T>) p[i] = static_cast<T>(s + static_cast<double>(i) * d);
        else  // modulo 2^64, so no intermediate overflows; the result lies between start and limit
          p[i] = static_cast<T>(static_cast<uint64_t>(s) +
                                static_cast<uint64_t>(i) * static_cast<uint64_t>(static_cast<int64_t>(d)));
      }
    });
  }

 private:
  int64_t Count(const Tensor& start, const Tensor& limit, const Tensor& delta) const {
    int64_t n = 0;
    DispatchNumeric(start.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T s = start.data<T>()[0], l = limit.data<T>()[0], d = delta.data<T>()[0];
      if (d == T(0)) Fail(where_, ": delta must not be 0");
      if constexpr (std::is_floating_point_v<T>) {
        double c = std::ceil((static_cast<double>(l) - s) / d);
        if (!std::isfinite(c) || c > double(int64_t{1} << 62)) Fail(where_, ": Range(", s, ", ", l, ", ", d, ") is too long");
        n = c > 0 ? static_cast<int64_t>(c) : 0;
      } else {
        // Exact integer arithmetic (128-bit so that no difference overflows).
        __int128 span = static_cast<__int128>(l) - static_cast<__int128>(s), step = d;
        if ((span > 0 && step > 0) || (span < 0 && step < 0)) {
          __int128 a = span < 0 ? -span : span, b = step < 0 ? -step : step;
          __int128 c = (a + b - 1) / b;
          if (c > (__int128{1} << 62)) Fail(where_, ": Range is too long");
          n = static_cast<int64_t>(c);
        }
      }
    });
    return n;
  }

  std::string where_;
};

}  // namespace

void RegisterRangeOp(OpRegistry& r) { r.Add("Range", MakeFactory<RangeKernel>()); }

}  // namespace nibble
