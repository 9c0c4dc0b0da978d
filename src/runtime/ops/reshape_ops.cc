// Reshape, Flatten, Squeeze, Unsqueeze: a new shape over the same elements,
// so Run is a copy and all the work is computing the shape.
#include <optional>

#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class ReshapeKernel : public OpKernel {
 public:
  explicit ReshapeKernel(const OpEnv& env) : where_(env.where()) {
    CheckArity(env, 2, 2);
    ParseAttributes(env, [&] { allowzero_ = env.opset >= 14 && env.node.attrs.GetInt("allowzero", 0) != 0; });
  }

  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    std::vector<int64_t> spec = ReadIntList(ctx.value(1), where_, "shape");
    Shape out(spec.size());
    int infer_at = -1;
    bool has_zero = false;
    int64_t known = 1;
    for (size_t i = 0; i < spec.size(); ++i) {
      int64_t d = spec[i];
      if (d == -1) {
        if (infer_at >= 0) ctx.Fail("shape ", ShapeStr(spec), " has more than one -1");
        infer_at = static_cast<int>(i);
        continue;
      }
      if (d < -1) ctx.Fail("shape ", ShapeStr(spec), " has a negative dimension other than -1");
      if (d == 0) {
        has_zero = true;
        if (!allowzero_) {
          if (i >= in.size())
            ctx.Fail("shape ", ShapeStr(spec), " copies dimension ", i, " (0) but the input ", ShapeStr(in),
                     " has rank ", in.size());
          d = in[i];
        }
      }
      out[i] = d;
      known = CheckedMulOrFail(ctx, known, d);
    }
    if (allowzero_ && has_zero && infer_at >= 0)
      ctx.Fail("shape ", ShapeStr(spec), " has both 0 and -1, which allowzero=1 forbids");
    const int64_t numel = ShapeNumel(in);
    if (infer_at >= 0) {
      if (known == 0 || numel % known != 0)
        ctx.Fail("cannot reshape ", ShapeStr(in), " (", numel, " elements) to ", ShapeStr(spec));
      out[infer_at] = numel / known;
    } else if (known != numel) {
      ctx.Fail("cannot reshape ", ShapeStr(in), " (", numel, " elements) to ", ShapeStr(out), " (", known,
               " elements)");
    }
    SetValueDerivedOutput(ctx, 0, ctx.dtype(0), out);
  }

  void Run(RunContext& ctx) override { CopyBytes(ctx.input(0), ctx.output(0), where_); }

 private:
  static int64_t CheckedMulOrFail(InferContext& ctx, int64_t a, int64_t b) {
    if (b != 0 && a > (int64_t{1} << 62) / b) ctx.Fail("target shape has too many elements");
    return a * b;
  }
  std::string where_;
  bool allowzero_ = false;
};

class FlattenKernel : public OpKernel {
 public:
  explicit FlattenKernel(const OpEnv& env) : where_(env.where()) {
    CheckArity(env, 1, 1);
    ParseAttributes(env, [&] { axis_ = env.node.attrs.GetInt("axis", 1); });
  }
  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    const int64_t r = static_cast<int64_t>(in.size());
    if (axis_ < -r || axis_ > r) ctx.Fail("axis ", axis_, " is out of range for rank ", r, " (expected ", -r, " to ", r, ")");
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    int64_t outer = ShapeNumel(Shape(in.begin(), in.begin() + axis));
    int64_t inner = ShapeNumel(Shape(in.begin() + axis, in.end()));
    ctx.set_output(0, ctx.dtype(0), {outer, inner});
  }
  void Run(RunContext& ctx) override { CopyBytes(ctx.input(0), ctx.output(0), where_); }

 private:
  std::string where_;
  int64_t axis_ = 1;
};

// Squeeze (axes: attribute before opset 13, optional input since).
class SqueezeKernel : public OpKernel {
 public:
  explicit SqueezeKernel(const OpEnv& env) : where_(env.where()), axes_from_input_(env.opset >= 13) {
    CheckArity(env, 1, axes_from_input_ ? 2 : 1);
    ParseAttributes(env, [&] {
      if (!axes_from_input_ && env.node.attrs.Has("axes")) axes_ = env.node.attrs.GetInts("axes");
    });
  }
  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    const int64_t r = static_cast<int64_t>(in.size());
    std::optional<std::vector<int64_t>> axes = axes_;
    if (axes_from_input_ && ctx.has_input(1)) axes = ReadIntList(ctx.value(1), where_, "axes");
    std::vector<bool> drop(r, false);
    if (axes && !axes->empty()) {  // an empty list means all, as in ONNX Runtime
      for (int64_t a : NormalizeAxes(*axes, r, where_)) {
        if (in[a] != 1) ctx.Fail("cannot squeeze axis ", a, " of shape ", ShapeStr(in), ": its size is not 1");
        drop[a] = true;
      }
    } else {
      for (int64_t a = 0; a < r; ++a) drop[a] = in[a] == 1;
    }
    Shape out;
    for (int64_t a = 0; a < r; ++a)
      if (!drop[a]) out.push_back(in[a]);
    ctx.set_output(0, ctx.dtype(0), out);
  }
  void Run(RunContext& ctx) override { CopyBytes(ctx.input(0), ctx.output(0), where_); }

 private:
  std::string where_;
  bool axes_from_input_;
  std::optional<std::vector<int64_t>> axes_;
};

// Unsqueeze (axes: attribute before opset 13, required input since).
class UnsqueezeKernel : public OpKernel {
 public:
  explicit UnsqueezeKernel(const OpEnv& env) : where_(env.where()), axes_from_input_(env.opset >= 13) {
    CheckArity(env, axes_from_input_ ? 2 : 1, axes_from_input_ ? 2 : 1);
    ParseAttributes(env, [&] {
      if (axes_from_input_) return;
      NIBBLE_CHECK(env.node.attrs.Has("axes"), "the 'axes' attribute is required");
      axes_ = env.node.attrs.GetInts("axes");
    });
  }
  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_) {
      if (!ctx.has_input(1)) ctx.Fail("input 1 (axes) is required");
      axes = ReadIntList(ctx.value(1), where_, "axes");
    }
    const int64_t out_rank = static_cast<int64_t>(in.size() + axes.size());
    std::vector<bool> inserted(out_rank, false);
    for (int64_t a : NormalizeAxes(axes, out_rank, where_)) inserted[a] = true;
    Shape out;
    size_t next = 0;
    for (int64_t a = 0; a < out_rank; ++a) out.push_back(inserted[a] ? 1 : in[next++]);
    SetValueDerivedOutput(ctx, 0, ctx.dtype(0), out);
  }
  void Run(RunContext& ctx) override { CopyBytes(ctx.input(0), ctx.output(0), where_); }

 private:
  std::string where_;
  bool axes_from_input_;
  std::vector<int64_t> axes_;
};

}  // namespace

void RegisterReshapeOps(OpRegistry& r) {
  r.Add("Reshape", MakeFactory<ReshapeKernel>());
  r.Add("Flatten", MakeFactory<FlattenKernel>());
  r.Add("Squeeze", MakeFactory<SqueezeKernel>());
  r.Add("Unsqueeze", MakeFactory<UnsqueezeKernel>());
}

}  // namespace nibble
