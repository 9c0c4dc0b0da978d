// BatchNormalization, inference mode only: y = scale * (x - mean) / sqrt(var + eps) + bias
// per channel, run as one multiply-add per element. Training mode (opset 14+
// training_mode=1, or the running/saved statistics outputs of opset 9) is
// rejected when the session is created.
#include <algorithm>

#include "kernels/reference/batchnorm_f32.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

bool IsFloat(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

std::vector<double> ToDoubles(const Tensor& t) {
  std::vector<double> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.AsDouble(i);
  return v;
}

class BatchNormKernel : public OpKernel {
 public:
  explicit BatchNormKernel(const OpEnv& env) : where_(env.where()) {
    const Attributes& a = env.node.attrs;
    eps_ = a.GetFloat("epsilon", 1e-5f);
    if (a.GetInt("training_mode", 0) != 0)
      Fail(where_, ": training_mode=1 is not supported (nibble runs BatchNormalization in inference mode only)");
    for (size_t i = 1; i < env.node.outputs.size(); ++i)
      if (env.node.outputs[i] >= 0)
        Fail(where_, ": output ", i, " (running or saved mean/variance) exists only in training mode, which nibble "
                     "does not run");
  }

  void Infer(InferContext& ctx) override {
    const Shape& x = ctx.shape(0);
    if (!IsFloat(ctx.dtype(0))) ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported (float32 or float64)");
    if (x.size() < 2) ctx.Fail("input must be at least 2-D (N, C, ...), got ", ShapeStr(x));
    static const char* names[] = {"", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i <= 4; ++i) {
      if (!IsFloat(ctx.dtype(i))) ctx.Fail(names[i], " must be float32 or float64, got ", DTypeName(ctx.dtype(i)));
      if (ctx.shape(i) != Shape{x[1]})
        ctx.Fail(names[i], " must have shape [", x[1], "] (one value per channel), got ", ShapeStr(ctx.shape(i)));
    }
    ctx.set_output(0, ctx.dtype(0), x);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const int64_t channels = x.dim(1), planes = x.dim(0) * channels;
    const int64_t spatial = planes ? x.numel() / planes : 0;
    std::vector<double> scale = ToDoubles(ctx.input(1)), bias = ToDoubles(ctx.input(2));
    std::vector<double> mean = ToDoubles(ctx.input(3)), var = ToDoubles(ctx.input(4));
    std::vector<double> a(channels), b(channels);
    BatchNormCoefficients(channels, scale.data(), bias.data(), mean.data(), var.data(), eps_, a.data(), b.data());
    DispatchFloat(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      std::vector<T> at(a.begin(), a.end()), bt(b.begin(), b.end());
      const T* px = x.data<T>();
      T* py = ctx.output(0).data<T>();
      ctx.pool().ParallelFor(planes, [&](int64_t lo, int64_t hi) {
        BatchNormAffine(px, py, channels, spatial, at.data(), bt.data(), lo, hi);
      }, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, spatial)));
    });
  }

 private:
  std::string where_;
  double eps_;
};

}  // namespace

void RegisterBatchNormOps(OpRegistry& r) { r.Add("BatchNormalization", MakeFactory<BatchNormKernel>()); }

}  // namespace nibble
