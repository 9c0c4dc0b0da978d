// Shape, Size and ConstantOfShape: values made from shapes. Shape and Size
// are known while planning, so they never run as steps.
#include <algorithm>
#include <cstring>
#include <optional>

#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

// Shape, with the start/end slice of opset 15 (clamped like Python slices).
class ShapeKernel : public OpKernel {
 public:
  explicit ShapeKernel(const OpEnv& env) : where_(env.where()) {
    CheckArity(env, 1, 1);
    ParseAttributes(env, [&] {
      if (env.opset < 15) return;
      start_ = env.node.attrs.GetInt("start", 0);
      if (env.node.attrs.Has("end")) end_ = env.node.attrs.GetInt("end", 0);
    });
  }
  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    const int64_t r = static_cast<int64_t>(in.size());
    auto clamp = [r](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + r : i, 0, r); };
    const int64_t lo = clamp(start_), hi = clamp(end_.value_or(r));
    Tensor t(DType::kInt64, {std::max<int64_t>(hi - lo, 0)});
    for (int64_t i = lo; i < hi; ++i) t.data<int64_t>()[i - lo] = in[i];
    ctx.set_output_value(0, std::move(t));
  }
  void Run(RunContext& ctx) override {
    // Only reached if a caller runs without planning first: recompute.
    const Shape& in = ctx.input(0).shape();
    const int64_t r = static_cast<int64_t>(in.size());
    auto clamp = [r](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + r : i, 0, r); };
    const int64_t lo = clamp(start_), hi = clamp(end_.value_or(r));
    Tensor& y = ctx.output(0);
    if (y.numel() != std::max<int64_t>(hi - lo, 0)) Fail(where_, ": output has the wrong size");
    for (int64_t i = lo; i < hi; ++i) y.data<int64_t>()[i - lo] = in[i];
  }

 private:
  std::string where_;
  int64_t start_ = 0;
  std::optional<int64_t> end_;
};

class SizeKernel : public OpKernel {
 public:
  explicit SizeKernel(const OpEnv& env) { CheckArity(env, 1, 1); }
  void Infer(InferContext& ctx) override {
    Tensor t(DType::kInt64, {});
    t.data<int64_t>()[0] = ShapeNumel(ctx.shape(0));
    ctx.set_output_value(0, std::move(t));
  }
  void Run(RunContext& ctx) override { ctx.output(0).data<int64_t>()[0] = ctx.input(0).numel(); }
};

class ConstantOfShapeKernel : public OpKernel {
 public:
  explicit ConstantOfShapeKernel(const OpEnv& env) : where_(env.where()), value_(DType::kFloat32, {}) {
    CheckArity(env, 1, 1);
    ParseAttributes(env, [&] {
      if (const Tensor* v = env.node.attrs.GetTensor("value")) {
        NIBBLE_CHECK(v->numel() == 1, "'value' must hold exactly one element, got shape ", ShapeStr(v->shape()));
        value_ = *v;
      }
    });
  }
  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kInt64) ctx.Fail("the shape input must be int64, got ", DTypeName(ctx.dtype(0)));
    Shape out = ReadIntList(ctx.value(0), where_, "shape");
    for (int64_t d : out)
      if (d < 0) ctx.Fail("shape ", ShapeStr(out), " has a negative dimension");
    SetValueDerivedOutput(ctx, 0, value_.dtype(), out);
  }
  void Run(RunContext& ctx) override {
    Tensor& y = ctx.output(0);
    DispatchBySize(DTypeSize(y.dtype()), where_, [&](auto tag) {
      using U = typename decltype(tag)::type;
      U v;
      std::memcpy(&v, value_.raw(), sizeof(U));
      std::fill_n(static_cast<U*>(y.raw()), y.numel(), v);
    });
  }

 private:
  std::string where_;
  Tensor value_;
};

}  // namespace

void RegisterShapeOps(OpRegistry& r) {
  r.Add("Shape", MakeFactory<ShapeKernel>());
  r.Add("Size", MakeFactory<SizeKernel>());
  r.Add("ConstantOfShape", MakeFactory<ConstantOfShapeKernel>());
}

}  // namespace nibble
