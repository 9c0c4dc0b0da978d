// Gather along one axis: output shape data[:axis] + indices + data[axis+1:].
// Negative indices count from the end; any index outside the axis is an error.
#include "kernels/reference/gather.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class GatherKernel : public OpKernel {
 public:
  explicit GatherKernel(const OpEnv& env) : where_(env.where()) {
    CheckArity(env, 2, 2);
    ParseAttributes(env, [&] { axis_ = env.node.attrs.GetInt("axis", 0); });
  }

  void Infer(InferContext& ctx) override {
    const Shape& data = ctx.shape(0);
    if (data.empty()) ctx.Fail("data must have rank >= 1");
    if (ctx.dtype(1) != DType::kInt32 && ctx.dtype(1) != DType::kInt64)
      ctx.Fail("indices must be int32 or int64, got ", DTypeName(ctx.dtype(1)));
    const int64_t axis = NormalizeAxis(axis_, static_cast<int64_t>(data.size()), where_);
    Shape out(data.begin(), data.begin() + axis);
    out.insert(out.end(), ctx.shape(1).begin(), ctx.shape(1).end());
    out.insert(out.end(), data.begin() + axis + 1, data.end());
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    const int64_t axis = NormalizeAxis(axis_, x.rank(), where_);
    const int64_t dim = x.dim(axis);
    std::vector<int64_t> idx(ind.numel());
    for (int64_t j = 0; j < ind.numel(); ++j) {
      int64_t v = ind.dtype() == DType::kInt64 ? ind.data<int64_t>()[j] : ind.data<int32_t>()[j];
      if (v < -dim || v >= dim)
        Fail(where_, ": index ", v, " (indices element ", j, ") is out of range for axis ", axis, " of size ", dim,
             " in data ", ShapeStr(x.shape()));
      idx[j] = v < 0 ? v + dim : v;
    }
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    Tensor& y = ctx.output(0);
    if (y.numel() != outer * ind.numel() * inner) Fail(where_, ": output has an unexpected size");
    GatherAlongAxis(x.raw(), y.raw(), outer, dim, inner, idx.data(), ind.numel(), DTypeSize(x.dtype()));
  }

 private:
  std::string where_;
  int64_t axis_ = 0;
};

}  // namespace

void RegisterGatherOp(OpRegistry& r) { r.Add("Gather", MakeFactory<GatherKernel>()); }

}  // namespace nibble
