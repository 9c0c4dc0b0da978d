// Where(condition, X, Y): numpy broadcasting over all three; elements are
// moved, never looked at, so every type (float16 included) works.
#include "kernels/reference/broadcast.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class WhereKernel : public OpKernel {
 public:
  explicit WhereKernel(const OpEnv& env) : where_(env.where()) { CheckArity(env, 3, 3); }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kBool) ctx.Fail("condition must be bool, got ", DTypeName(ctx.dtype(0)));
    if (ctx.dtype(1) != ctx.dtype(2))
      ctx.Fail("X is ", DTypeName(ctx.dtype(1)), " but Y is ", DTypeName(ctx.dtype(2)));
    Shape out;
    try {
      out = BroadcastShapes({ctx.shape(0), ctx.shape(1), ctx.shape(2)});
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    ctx.set_output(0, ctx.dtype(1), out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& c = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& yv = ctx.input(2);
    Tensor& out = ctx.output(0);
    std::vector<int64_t> st[3] = {BroadcastStrides(c.shape(), out.shape()), BroadcastStrides(x.shape(), out.shape()),
                                  BroadcastStrides(yv.shape(), out.shape())};
    const bool* pc = c.data<bool>();
    DispatchBySize(DTypeSize(out.dtype()), where_, [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* px = static_cast<const U*>(x.raw());
      const U* py = static_cast<const U*>(yv.raw());
      U* po = static_cast<U*>(out.raw());
      ForEachBroadcast(out.shape(), st, [&](int64_t o, const int64_t* i) { po[o] = pc[i[0]] ? px[i[1]] : py[i[2]]; });
    });
  }

 private:
  std::string where_;
};

}  // namespace

void RegisterWhereOp(OpRegistry& r) { r.Add("Where", MakeFactory<WhereKernel>()); }

}  // namespace nibble
