// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is flattened to
// 2-D at `axis` (default 1) and the op runs over the whole second dimension;
// from opset 13 it runs along the single axis `axis` (default -1).
#include <algorithm>

#include "kernels/reference/softmax_f32.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

class SoftmaxKernel : public OpKernel {
 public:
  SoftmaxKernel(const OpEnv& env, SoftmaxKind kind) : where_(env.where()), kind_(kind) {
    flatten_ = env.opset < 13;
    axis_ = env.node.attrs.GetInt("axis", flatten_ ? 1 : -1);
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kFloat32 && ctx.dtype(0) != DType::kFloat64)
      ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported (float32 or float64)");
    try {
      View(ctx.shape(0));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    ctx.set_output(0, ctx.dtype(0), ctx.shape(0));
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    int64_t outer, n, inner;
    View(x.shape(), &outer, &n, &inner);
    DispatchFloat(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = ctx.output(0).data<T>();
      ctx.pool().ParallelFor(outer * inner, [&](int64_t lo, int64_t hi) {
        SoftmaxReference(kind_, px, py, outer, n, inner, lo, hi);
      }, std::max<int64_t>(1, (1 << 13) / std::max<int64_t>(1, n)));
    });
  }

 private:
  // The tensor as [outer, n, inner] with the op running over n.
  void View(const Shape& s, int64_t* outer = nullptr, int64_t* n = nullptr, int64_t* inner = nullptr) const {
    const int64_t r = static_cast<int64_t>(s.size());
    if (r == 0) Fail("input must have rank >= 1");
    int64_t a = axis_ < 0 ? axis_ + r : axis_;
    if (a < 0 || a >= r) Fail("axis ", axis_, " is out of range for rank ", r);
    int64_t o = 1, m = 1, i = 1;
    for (int64_t d = 0; d < r; ++d) {
      if (d < a) o *= s[d];
      else if (d == a || flatten_) m *= s[d];
      else i *= s[d];
    }
    if (outer) *outer = o, *n = m, *inner = i;
  }

  std::string where_;
  SoftmaxKind kind_;
  bool flatten_;
  int64_t axis_;
};

template <SoftmaxKind kind>
OpFactory Softmax() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<SoftmaxKernel>(env, kind); };
}

}  // namespace

void RegisterSoftmaxOps(OpRegistry& r) {
  r.Add("Softmax", Softmax<SoftmaxKind::kSoftmax>());
  r.Add("LogSoftmax", Softmax<SoftmaxKind::kLogSoftmax>());
  r.Add("Hardmax", Softmax<SoftmaxKind::kHardmax>());
}

}  // namespace nibble
