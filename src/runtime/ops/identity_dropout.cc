// Identity, and Dropout, which is the identity at inference (training_mode
// false or absent) and outputs an all-true mask when asked for one.
#include <optional>
#include <random>

#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

class IdentityKernel : public OpKernel {
 public:
  explicit IdentityKernel(const OpEnv& env) : where_(env.where()) { CheckArity(env, 1, 1); }
  void Infer(InferContext& ctx) override { ctx.set_output(0, ctx.dtype(0), ctx.shape(0)); }
  void Run(RunContext& ctx) override { CopyBytes(ctx.input(0), ctx.output(0), where_); }

 private:
  std::string where_;
};

// Opset 11: ratio is an attribute. Opset 12+: ratio and training_mode are
// optional scalar inputs. In training mode with a ratio > 0 an element is kept
// when a uniform draw in [0, 1) is >= ratio, and kept ones are scaled by
// 1 / (1 - ratio). With a 'seed' the draws are those of numpy's
// np.random.seed(seed); np.random.uniform(size=n) (MT19937, 53-bit doubles),
// restarted every run: the op is then a pure function (the planner may
// evaluate it early) and matches the ONNX reference bit for bit.
class DropoutKernel : public OpKernel {
 public:
  explicit DropoutKernel(const OpEnv& env) : where_(env.where()), ratio_from_input_(env.opset >= 12) {
    CheckArity(env, 1, ratio_from_input_ ? 3 : 1, 1, 2);
    ParseAttributes(env, [&] {
      if (!ratio_from_input_) ratio_ = env.node.attrs.GetFloat("ratio", 0.5f);
      if (env.node.attrs.Has("seed")) seed_ = static_cast<uint32_t>(env.node.attrs.GetInt("seed", 0));
      else rng_.seed(std::random_device{}());
    });
  }

  void Infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    if (t != DType::kFloat32 && t != DType::kFloat64 && t != DType::kFloat16)
      ctx.Fail("element type ", DTypeName(t), " is not supported (expected a float type)");
    if (ctx.has_input(1) && (ShapeNumel(ctx.shape(1)) != 1 || (ctx.dtype(1) != DType::kFloat32 &&
                                                             ctx.dtype(1) != DType::kFloat64)))
      ctx.Fail("ratio must be a float scalar, got ", DTypeName(ctx.dtype(1)), " ", ShapeStr(ctx.shape(1)));
    if (ctx.has_input(2) && (ShapeNumel(ctx.shape(2)) != 1 || ctx.dtype(2) != DType::kBool))
      ctx.Fail("training_mode must be a bool scalar, got ", DTypeName(ctx.dtype(2)), " ", ShapeStr(ctx.shape(2)));
    ctx.set_output(0, t, ctx.shape(0));
    if (ctx.has_output(1)) ctx.set_output(1, DType::kBool, ctx.shape(0));
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    double ratio = ratio_from_input_ ? (ctx.has_input(1) ? ctx.input(1).AsDouble(0) : 0.5) : ratio_;
    bool training = ratio_from_input_ && ctx.has_input(2) && ctx.input(2).data<bool>()[0];
    bool* mask = ctx.has_output(1) ? ctx.output(1).data<bool>() : nullptr;
    if (!training || ratio == 0) {
      CopyBytes(x, ctx.output(0), where_);
      if (mask) std::fill(mask, mask + x.numel(), true);
      return;
    }
    if (!(ratio >= 0 && ratio < 1)) Fail(where_, ": ratio must be in [0, 1), got ", ratio);
    if (x.dtype() == DType::kFloat16) Fail(where_, ": training-mode Dropout on float16 is not supported");
    if (seed_) rng_.seed(*seed_);
    DispatchFloat(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = ctx.output(0).data<T>();
      const T scale = T(1) / (T(1) - static_cast<T>(ratio));
      for (int64_t i = 0; i < x.numel(); ++i) {
        const uint32_t a = rng_() >> 5, b = rng_() >> 6;  // numpy's random_sample
        const bool keep = (a * 67108864.0 + b) / 9007199254740992.0 >= ratio;
        py[i] = keep ? static_cast<T>(px[i] * scale) : T(0);
        if (mask) mask[i] = keep;
      }
    });
  }

 private:
  std::string where_;
  bool ratio_from_input_;
  float ratio_ = 0.5f;
  std::optional<uint32_t> seed_;
  std::mt19937 rng_;  // without a seed: advances from run to run
};

}  // namespace

void RegisterIdentityDropoutOps(OpRegistry& r) {
  r.Add("Identity", MakeFactory<IdentityKernel>());
  r.Add("Dropout", MakeFactory<DropoutKernel>());
}

}  // namespace nibble
