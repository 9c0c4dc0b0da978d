// ArgMax / ArgMin along one axis, int64 output, keepdims and (opset 12+)
// select_last_index. NaN counts as the extreme value, like numpy.argmax.
#include <cmath>

#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class ArgKernel : public OpKernel {
 public:
  ArgKernel(const OpEnv& env, bool is_max) : is_max_(is_max), where_(env.where()) {
    CheckArity(env, 1, 1);
    ParseAttributes(env, [&] {
      const Attributes& a = env.node.attrs;
      axis_ = a.GetInt("axis", 0);
      keepdims_ = a.GetInt("keepdims", 1) != 0;
      last_ = env.opset >= 12 && a.GetInt("select_last_index", 0) != 0;
    });
  }

  void Infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    if (!IsNumeric(t) && t != DType::kFloat16) ctx.Fail("element type ", DTypeName(t), " is not supported");
    const Shape& in = ctx.shape(0);
    const int64_t axis = NormalizeAxis(axis_, static_cast<int64_t>(in.size()), where_);
    if (in[axis] == 0 && ShapeNumel(in) == 0 && in.size() > 0) {
      bool other_empty = false;
      for (size_t d = 0; d < in.size(); ++d) other_empty |= static_cast<int64_t>(d) != axis && in[d] == 0;
      if (!other_empty) ctx.Fail("cannot take the arg", is_max_ ? "max" : "min", " of an empty axis ", axis);
    }
    Shape out = in;
    if (keepdims_) out[axis] = 1;
    else out.erase(out.begin() + axis);
    ctx.set_output(0, DType::kInt64, out);
  }

  void Run(RunContext& ctx) override {
    if (ctx.input(0).dtype() == DType::kFloat16) {
      Tensor f = Float16ToFloat32(ctx.input(0));
      return RunOn(f, ctx.output(0));
    }
    RunOn(ctx.input(0), ctx.output(0));
  }

 private:
  void RunOn(const Tensor& x, Tensor& y) {
    const int64_t axis = NormalizeAxis(axis_, x.rank(), where_);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    const int64_t n = x.dim(axis);
    if (y.numel() != outer * inner) Fail(where_, ": output has an unexpected size");
    if (n == 0 && y.numel() > 0) Fail(where_, ": cannot reduce an empty axis");
    int64_t* py = y.data<int64_t>();
    DispatchNumeric(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T* p = px + o * n * inner + i;
          int64_t best = 0;
          for (int64_t k = 1; k < n; ++k)
            if (Better(p[k * inner], p[best * inner])) best = k;
          py[o * inner + i] = best;
        }
    });
  }

  // Whether v replaces the current best b (scanning in increasing index).
  template <class T>
  bool Better(T v, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(b)) return false;  // the first NaN wins
      if (std::isnan(v)) return true;
    }
    if (v == b) return last_;
    return is_max_ ? v > b : v < b;
  }

  bool is_max_;
  std::string where_;
  int64_t axis_ = 0;
  bool keepdims_ = true;
  bool last_ = false;
};

}  // namespace

void RegisterArgMinMaxOps(OpRegistry& r) {
  r.Add("ArgMax", [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<ArgKernel>(env, true); });
  r.Add("ArgMin", [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<ArgKernel>(env, false); });
}

}  // namespace nibble
