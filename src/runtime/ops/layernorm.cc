// LayerNormalization (opset 17: normalize over dims [axis, rank), optional
// Mean and InvStdDev outputs typed by stash_type) and InstanceNormalization
// (normalize each [n, c] plane, then per-channel scale and bias).
#include <algorithm>

#include "kernels/reference/broadcast.h"
#include "kernels/reference/layernorm_f32.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

bool IsFloat(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

// `t` repeated to fill `norm` (unidirectional numpy broadcasting), as T.
template <class T>
std::vector<T> Expand(const Tensor& t, const Shape& norm) {
  Shape s = t.shape();
  while (s.size() > norm.size() && s.front() == 1) s.erase(s.begin());
  std::vector<int64_t> strides = BroadcastStrides(s, norm);
  std::vector<T> out(ShapeNumel(norm));
  const T* src = t.data<T>();
  for (int64_t o = 0; o < static_cast<int64_t>(out.size()); ++o) {
    int64_t off = 0;
    for (int64_t rem = o, d = static_cast<int64_t>(norm.size()) - 1; d >= 0; --d) {
      off += (rem % norm[d]) * strides[d];
      rem /= norm[d];
    }
    out[o] = src[off];
  }
  return out;
}

// True when `p` broadcasts to `norm` without changing it.
bool BroadcastsTo(const Shape& p, const Shape& norm) {
  Shape s = p;
  while (s.size() > norm.size() && s.front() == 1) s.erase(s.begin());
  if (s.size() > norm.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    int64_t want = norm[norm.size() - s.size() + i];
    if (s[i] != 1 && s[i] != want) return false;
  }
  return true;
}

class LayerNormKernel : public OpKernel {
 public:
  explicit LayerNormKernel(const OpEnv& env) : where_(env.where()) {
    const Attributes& a = env.node.attrs;
    axis_ = a.GetInt("axis", -1);
    eps_ = a.GetFloat("epsilon", 1e-5f);
    int64_t stash = a.GetInt("stash_type", 1);
    NIBBLE_CHECK(stash == 1 || stash == 11, where_, ": stash_type must be 1 (float) or 11 (double), got ", stash);
    stash_ = stash == 1 ? DType::kFloat32 : DType::kFloat64;
  }

  void Infer(InferContext& ctx) override {
    const Shape& x = ctx.shape(0);
    if (!IsFloat(ctx.dtype(0))) ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported (float32 or float64)");
    int64_t a = 0;
    try {
      a = Axis(x);
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    Shape norm(x.begin() + a, x.end());
    for (int i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) {
        if (i == 1) ctx.Fail("Scale is required");
        continue;
      }
      if (ctx.dtype(i) != ctx.dtype(0)) ctx.Fail(i == 1 ? "Scale" : "B", " must have the input's type");
      if (!BroadcastsTo(ctx.shape(i), norm))
        ctx.Fail(i == 1 ? "Scale " : "B ", ShapeStr(ctx.shape(i)), " does not broadcast to the normalized shape ",
                 ShapeStr(norm));
    }
    ctx.set_output(0, ctx.dtype(0), x);
    Shape stat(x.begin(), x.begin() + a);
    stat.resize(x.size(), 1);
    for (int i = 1; i <= 2; ++i)
      if (ctx.has_output(i)) ctx.set_output(i, stash_, stat);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const int64_t a = Axis(x.shape());
    Shape norm(x.shape().begin() + a, x.shape().end());
    const int64_t cols = ShapeNumel(norm), rows = cols ? x.numel() / cols : 0;
    DispatchFloat(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      std::vector<T> scale = Expand<T>(ctx.input(1), norm), bias;
      if (ctx.has_input(2)) bias = Expand<T>(ctx.input(2), norm);
      const T* px = x.data<T>();
      T* py = ctx.output(0).data<T>();
      const T* pb = ctx.has_input(2) ? bias.data() : nullptr;
      auto run = [&](auto* mean, auto* inv_std) {
        ctx.pool().ParallelFor(rows, [&](int64_t lo, int64_t hi) {
          LayerNormReference(px, py, cols, scale.data(), pb, eps_, mean, inv_std, lo, hi);
        }, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, cols)));
      };
      if (stash_ == DType::kFloat32)
        run(ctx.has_output(1) ? ctx.output(1).data<float>() : nullptr,
            ctx.has_output(2) ? ctx.output(2).data<float>() : nullptr);
      else
        run(ctx.has_output(1) ? ctx.output(1).data<double>() : nullptr,
            ctx.has_output(2) ? ctx.output(2).data<double>() : nullptr);
    });
  }

 private:
  int64_t Axis(const Shape& x) const {
    const int64_t r = static_cast<int64_t>(x.size());
    const int64_t a = axis_ < 0 ? axis_ + r : axis_;
    if (a < 0 || a >= r) Fail("axis ", axis_, " is out of range for rank ", r);
    return a;
  }

  std::string where_;
  int64_t axis_;
  double eps_;
  DType stash_;
};

class InstanceNormKernel : public OpKernel {
 public:
  explicit InstanceNormKernel(const OpEnv& env) : where_(env.where()) {
    eps_ = env.node.attrs.GetFloat("epsilon", 1e-5f);
  }

  void Infer(InferContext& ctx) override {
    const Shape& x = ctx.shape(0);
    if (!IsFloat(ctx.dtype(0))) ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported (float32 or float64)");
    if (x.size() < 3) ctx.Fail("input must be at least 3-D (N, C, spatial...), got ", ShapeStr(x));
    for (int i = 1; i <= 2; ++i) {
      if (ctx.dtype(i) != ctx.dtype(0)) ctx.Fail(i == 1 ? "scale" : "B", " must have the input's type");
      if (ctx.shape(i) != Shape{x[1]})
        ctx.Fail(i == 1 ? "scale" : "B", " must have shape [", x[1], "], got ", ShapeStr(ctx.shape(i)));
    }
    ctx.set_output(0, ctx.dtype(0), x);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const int64_t channels = x.dim(1), planes = x.dim(0) * channels;
    const int64_t spatial = planes ? x.numel() / planes : 0;
    DispatchFloat(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = ctx.output(0).data<T>();
      const T* ps = ctx.input(1).data<T>();
      const T* pb = ctx.input(2).data<T>();
      ctx.pool().ParallelFor(planes, [&](int64_t lo, int64_t hi) {
        InstanceNormReference(px, py, channels, spatial, ps, pb, eps_, lo, hi);
      }, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, spatial)));
    });
  }

 private:
  std::string where_;
  double eps_;
};

}  // namespace

void RegisterNormalizationOps(OpRegistry& r) {
  r.Add("LayerNormalization", MakeFactory<LayerNormKernel>());
  r.Add("InstanceNormalization", MakeFactory<InstanceNormKernel>());
}

}  // namespace nibble
