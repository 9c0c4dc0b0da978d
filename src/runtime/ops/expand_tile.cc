// Expand (broadcast to a shape given as an input) and Tile (repeat each axis).
// Both output shapes come from input values.
#include "kernels/reference/broadcast.h"
#include "kernels/reference/tile.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class ExpandKernel : public OpKernel {
 public:
  explicit ExpandKernel(const OpEnv& env) : where_(env.where()) { CheckArity(env, 2, 2); }
  void Infer(InferContext& ctx) override {
    Shape target = ReadIntList(ctx.value(1), where_, "shape");
    for (int64_t d : target)
      if (d < 0) ctx.Fail("shape ", ShapeStr(target), " has a negative dimension");
    Shape out;
    try {
      out = BroadcastShapes({ctx.shape(0), target});
    } catch (const Error& e) {
      ctx.Fail("cannot expand ", ShapeStr(ctx.shape(0)), " to ", ShapeStr(target), ": ", e.what());
    }
    SetValueDerivedOutput(ctx, 0, ctx.dtype(0), out);
  }
  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (y.rank() < x.rank()) Fail(where_, ": output rank is below the input's");
    ExpandElements(x.raw(), y.raw(), x.shape(), y.shape(), DTypeSize(x.dtype()));
  }

 private:
  std::string where_;
};

class TileKernel : public OpKernel {
 public:
  explicit TileKernel(const OpEnv& env) : where_(env.where()) { CheckArity(env, 2, 2); }
  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    std::vector<int64_t> rep = Repeats(ctx.value(1), in);
    Shape out(in.size());
    for (size_t d = 0; d < in.size(); ++d) {
      if (rep[d] != 0 && in[d] > (int64_t{1} << 62) / rep[d]) ctx.Fail("output dimension ", d, " is too large");
      out[d] = in[d] * rep[d];
    }
    SetValueDerivedOutput(ctx, 0, ctx.dtype(0), out);
  }
  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    std::vector<int64_t> rep = Repeats(ctx.input(1), x.shape());
    TileElements(x.raw(), ctx.output(0).raw(), x.shape(), rep, DTypeSize(x.dtype()));
  }

 private:
  std::vector<int64_t> Repeats(const Tensor& t, const Shape& in) const {
    if (t.dtype() != DType::kInt64) Fail(where_, ": repeats must be int64, got ", DTypeName(t.dtype()));
    std::vector<int64_t> rep = ReadIntList(t, where_, "repeats");
    if (rep.size() != in.size())
      Fail(where_, ": repeats has ", rep.size(), " entries but the input ", ShapeStr(in), " has rank ", in.size());
    for (int64_t r : rep)
      if (r < 0) Fail(where_, ": repeats ", ShapeStr(rep), " has a negative entry");
    return rep;
  }
  std::string where_;
};

}  // namespace

void RegisterExpandTileOps(OpRegistry& r) {
  r.Add("Expand", MakeFactory<ExpandKernel>());
  r.Add("Tile", MakeFactory<TileKernel>());
}

}  // namespace nibble
