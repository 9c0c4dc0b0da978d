// Transpose: perm defaults to reversing the axes.
#include <optional>

#include "kernels/reference/transpose.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class TransposeKernel : public OpKernel {
 public:
  explicit TransposeKernel(const OpEnv& env) : where_(env.where()) {
    CheckArity(env, 1, 1);
    ParseAttributes(env, [&] {
      if (env.node.attrs.Has("perm")) perm_ = env.node.attrs.GetInts("perm");
    });
  }

  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    std::vector<int64_t> perm = Perm(in.size());
    if (perm.size() != in.size())
      ctx.Fail("perm ", ShapeStr(perm), " has ", perm.size(), " entries but the input ", ShapeStr(in), " has rank ",
               in.size());
    std::vector<bool> seen(in.size(), false);
    Shape out;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[p])
        ctx.Fail("perm ", ShapeStr(perm), " is not a permutation of 0..", in.size() - 1);
      seen[p] = true;
      out.push_back(in[p]);
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    TransposeElements(x.raw(), ctx.output(0).raw(), x.shape(), Perm(x.shape().size()), DTypeSize(x.dtype()));
  }

 private:
  std::vector<int64_t> Perm(size_t rank) const {
    if (perm_) return *perm_;
    std::vector<int64_t> p(rank);
    for (size_t i = 0; i < rank; ++i) p[i] = static_cast<int64_t>(rank - 1 - i);
    return p;
  }
  std::string where_;
  std::optional<std::vector<int64_t>> perm_;
};

}  // namespace

void RegisterTransposeOp(OpRegistry& r) { r.Add("Transpose", MakeFactory<TransposeKernel>()); }

}  // namespace nibble
