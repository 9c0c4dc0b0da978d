// Slice (opset 10+ form: starts, ends, axes and steps are inputs), numpy
// a[start:end:step] per listed axis with ONNX's clamping.
#include "kernels/reference/slice.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class SliceKernel : public OpKernel {
 public:
  explicit SliceKernel(const OpEnv& env) : where_(env.where()) { CheckArity(env, 3, 5); }

  void Infer(InferContext& ctx) override {
    std::vector<const Tensor*> params(5, nullptr);
    for (int i = 1; i < 5; ++i)
      if (ctx.has_input(i)) params[i] = &ctx.value(i);
    std::vector<SliceAxis> axes = Plan(ctx.shape(0), params);
    Shape out;
    for (const SliceAxis& a : axes) out.push_back(a.count);
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    std::vector<const Tensor*> params(5, nullptr);
    for (int i = 1; i < 5; ++i)
      if (ctx.has_input(i)) params[i] = &ctx.input(i);
    std::vector<SliceAxis> axes = Plan(x.shape(), params);
    Tensor& y = ctx.output(0);
    for (size_t d = 0; d < axes.size(); ++d)
      if (y.dim(d) != axes[d].count) Fail(where_, ": output shape ", ShapeStr(y.shape()), " does not match the slice");
    SliceElements(x.raw(), y.raw(), x.shape(), axes, DTypeSize(x.dtype()));
  }

 private:
  // One SliceAxis per input axis; axes not listed are taken whole.
  std::vector<SliceAxis> Plan(const Shape& in, const std::vector<const Tensor*>& p) const {
    const int64_t r = static_cast<int64_t>(in.size());
    if (!p[1] || !p[2]) Fail(where_, ": starts and ends are required");
    std::vector<int64_t> starts = ReadIntList(*p[1], where_, "starts");
    std::vector<int64_t> ends = ReadIntList(*p[2], where_, "ends");
    if (starts.size() != ends.size())
      Fail(where_, ": starts has ", starts.size(), " entries but ends has ", ends.size());
    const size_t n = starts.size();
    std::vector<int64_t> axes(n), steps(n, 1);
    for (size_t i = 0; i < n; ++i) axes[i] = static_cast<int64_t>(i);
    if (p[3]) {
      axes = ReadIntList(*p[3], where_, "axes");
      if (axes.size() != n) Fail(where_, ": axes has ", axes.size(), " entries but starts has ", n);
    } else if (static_cast<int64_t>(n) > r) {
      Fail(where_, ": starts has ", n, " entries but the input ", ShapeStr(in), " has rank ", r);
    }
    if (p[4]) {
      steps = ReadIntList(*p[4], where_, "steps");
      if (steps.size() != n) Fail(where_, ": steps has ", steps.size(), " entries but starts has ", n);
    }
    axes = NormalizeAxes(axes, r, where_);
    std::vector<SliceAxis> plan(r);
    for (int64_t d = 0; d < r; ++d) plan[d] = {0, 1, in[d]};
    for (size_t i = 0; i < n; ++i) {
      if (steps[i] == 0) Fail(where_, ": steps must not be 0 (axis ", axes[i], ")");
      plan[axes[i]] = ClampSliceAxis(starts[i], ends[i], steps[i], in[axes[i]]);
    }
    return plan;
  }

  std::string where_;
};

}  // namespace

void RegisterSliceOp(OpRegistry& r) { r.Add("Slice", MakeFactory<SliceKernel>()); }

}  // namespace nibble
