// Pad (opset 11+ form: pads and constant_value are inputs; axes since 18),
// modes constant, reflect, edge and wrap. Negative pads crop.
#include "kernels/reference/pad.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

struct PadPlan {
  std::vector<int64_t> begin, end;
  Shape out;
};

class PadKernel : public OpKernel {
 public:
  explicit PadKernel(const OpEnv& env) : where_(env.where()), opset_(env.opset) {
    CheckArity(env, 2, opset_ >= 18 ? 4 : 3);
    ParseAttributes(env, [&] {
      std::string mode = env.node.attrs.GetString("mode", "constant");
      if (mode == "constant") mode_ = PadMode::kConstant;
      else if (mode == "reflect") mode_ = PadMode::kReflect;
      else if (mode == "edge") mode_ = PadMode::kEdge;
      else if (mode == "wrap") mode_ = PadMode::kWrap;
      else Fail("mode must be constant, reflect, edge or wrap, got '", mode, "'");
    });
  }

  void Infer(InferContext& ctx) override {
    if (ctx.has_input(2)) {
      if (ctx.dtype(2) != ctx.dtype(0))
        ctx.Fail("constant_value is ", DTypeName(ctx.dtype(2)), " but data is ", DTypeName(ctx.dtype(0)));
      if (ShapeNumel(ctx.shape(2)) != 1) ctx.Fail("constant_value must hold one element, got shape ", ShapeStr(ctx.shape(2)));
    }
    const Tensor* axes = opset_ >= 18 && ctx.has_input(3) ? &ctx.value(3) : nullptr;
    PadPlan p = Plan(ctx.shape(0), ctx.value(1), axes);
    SetValueDerivedOutput(ctx, 0, ctx.dtype(0), p.out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor* axes = opset_ >= 18 && ctx.has_input(3) ? &ctx.input(3) : nullptr;
    PadPlan p = Plan(x.shape(), ctx.input(1), axes);
    Tensor& y = ctx.output(0);
    if (y.shape() != p.out) Fail(where_, ": output shape ", ShapeStr(y.shape()), " differs from ", ShapeStr(p.out));
    uint64_t zero = 0;
    const void* value = ctx.has_input(2) ? ctx.input(2).raw() : &zero;  // zero bytes are 0 in every type
    PadElements(x.raw(), y.raw(), x.shape(), p.begin, p.end, mode_, value, DTypeSize(x.dtype()));
  }

 private:
  PadPlan Plan(const Shape& in, const Tensor& pads_t, const Tensor* axes_t) const {
    const int64_t r = static_cast<int64_t>(in.size());
    if (pads_t.dtype() != DType::kInt64) Fail(where_, ": pads must be int64, got ", DTypeName(pads_t.dtype()));
    std::vector<int64_t> pads = ReadIntList(pads_t, where_, "pads");
    std::vector<int64_t> axes(r);
    for (int64_t d = 0; d < r; ++d) axes[d] = d;
    if (axes_t) axes = NormalizeAxes(ReadIntList(*axes_t, where_, "axes"), r, where_);
    const size_t n = axes.size();
    if (pads.size() != 2 * n)
      Fail(where_, ": pads has ", pads.size(), " entries, expected ", 2 * n, " (begin and end for ", n, " axes)");
    PadPlan p;
    p.begin.assign(r, 0);
    p.end.assign(r, 0);
    for (size_t i = 0; i < n; ++i) {
      p.begin[axes[i]] = pads[i];
      p.end[axes[i]] = pads[n + i];
    }
    for (int64_t d = 0; d < r; ++d) {
      const int64_t b = p.begin[d], e = p.end[d];
      const int64_t limit = int64_t{1} << 62;
      if (b > limit || e > limit || b < -limit || e < -limit) Fail(where_, ": pads ", ShapeStr(pads), " are too large");
      const __int128 wide = static_cast<__int128>(in[d]) + b + e;
      if (wide > (__int128{1} << 62)) Fail(where_, ": pads ", ShapeStr(pads), " make axis ", d, " too large");
      const int64_t dim = static_cast<int64_t>(wide);
      if (dim < 0)
        Fail(where_, ": pads ", ShapeStr(pads), " crop axis ", d, " of size ", in[d], " to a negative size");
      const __int128 kept = static_cast<__int128>(in[d]) + std::min<int64_t>(0, b) + std::min<int64_t>(0, e);
      if (mode_ != PadMode::kConstant && kept <= 0 && dim > 0)
        Fail(where_, ": cannot pad an empty axis ", d, " in this mode (only constant padding can)");
      p.out.push_back(dim);
    }
    return p;
  }

  std::string where_;
  int64_t opset_;
  PadMode mode_ = PadMode::kConstant;
};

}  // namespace

void RegisterPadOp(OpRegistry& r) { r.Add("Pad", MakeFactory<PadKernel>()); }

}  // namespace nibble
