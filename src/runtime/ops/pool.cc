// MaxPool (with the optional Indices output), AveragePool, LpPool and the
// global variants, NCHW with 1 to 3 spatial dims (more run the reference loop).
// MaxPool takes float, double, int8 and uint8; the others float and double.
#include <algorithm>

#include "kernels/reference/pool_f32.h"
#include "kernels/reference/maxpool2d_rows.h"
#include "kernels/x86/maxpool_q8.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

template <class F>
void DispatchPoolType(PoolKind kind, DType t, const std::string& where, F&& f) {
  if (kind == PoolKind::kMax && t == DType::kInt8) return f(TypeTag<int8_t>{});
  if (kind == PoolKind::kMax && t == DType::kUInt8) return f(TypeTag<uint8_t>{});
  DispatchFloat(t, where, f);
}

bool PoolTypeOk(PoolKind kind, DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 ||
         (kind == PoolKind::kMax && (t == DType::kInt8 || t == DType::kUInt8));
}

class PoolKernel : public OpKernel {
 public:
  PoolKernel(const OpEnv& env, PoolKind kind) : where_(env.where()) {
    const Attributes& a = env.node.attrs;
    indices_output_ = env.node.outputs.size() > 1 && env.node.outputs[1] >= 0;
    params_.kind = kind;
    kernel_shape_ = a.GetInts("kernel_shape");
    NIBBLE_CHECK(!kernel_shape_.empty(), where_, ": kernel_shape is required");
    strides_ = a.GetInts("strides");
    dilations_ = a.GetInts("dilations");
    pads_ = a.GetInts("pads");
    auto_pad_ = a.GetString("auto_pad", "NOTSET");
    ceil_mode_ = a.GetInt("ceil_mode", 0) != 0;
    if (kind == PoolKind::kAverage) params_.count_include_pad = a.GetInt("count_include_pad", 0) != 0;
    if (kind == PoolKind::kMax) {
      int64_t order = a.GetInt("storage_order", 0);
      NIBBLE_CHECK(order == 0 || order == 1, where_, ": storage_order must be 0 or 1, got ", order);
      params_.col_major_indices = order == 1;
    }
    if (kind == PoolKind::kLp) {
      int64_t p = a.GetInt("p", 2);
      NIBBLE_CHECK(p >= 1, where_, ": p must be >= 1, got ", p);
      params_.p = static_cast<double>(p);
    }
  }

  // MaxPool may hand channels-last codes to the convs after it (ResNet's
  // layer1): it pools bands of rows NCHW, then transposes them
  // (MaxPoolQ8X86ToPixels). Its input stays NCHW (its producer in ResNet,
  // conv1, writes NCHW only). Only for 2-D windows the vectorized kernel
  // takes, and from 64 channels on (a pixel at least one whole 64-byte
  // vector): below that the transposing pass cost more than its consumers
  // gained (the Fashion-MNIST CNN's 16- and 32-channel pools,
  // nibble_session_ab channels-last: 1 thread 0.96, 2 threads 0.87).
  ChannelsLastRole ChannelsLast(const std::vector<Shape>& inputs) override {
    if (params_.kind != PoolKind::kMax || indices_output_ || inputs.empty() || inputs[0].size() != 4 ||
        inputs[0][1] < 64 || std::any_of(inputs[0].begin(), inputs[0].end(), [](int64_t d) { return d < 0; }))
      return ChannelsLastRole::kNone;
    try {
      return MaxPoolQ8X86Vectorizes(Geometry(inputs[0]).geo) ? ChannelsLastRole::kProducer : ChannelsLastRole::kNone;
    } catch (const Error&) {
      return ChannelsLastRole::kNone;  // Infer names the problem
    }
  }
  void SetChannelsLast(bool, bool output) override { y_channels_last_ = output; }
  // Named only when it transposes for channels-last consumers.
  std::string KernelName() const override {
    return y_channels_last_ ? "maxpool_q8" + ChannelsLastNote(false, true) : "";
  }

  void Infer(InferContext& ctx) override {
    if (!PoolTypeOk(params_.kind, ctx.dtype(0)))
      ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported");
    PoolParams p;
    try {
      p = Geometry(ctx.shape(0));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    Shape y = {ctx.shape(0)[0], ctx.shape(0)[1]};
    y.insert(y.end(), p.geo.out.begin(), p.geo.out.end());
    ctx.set_output(0, ctx.dtype(0), y);
    if (ctx.has_output(1)) {
      if (params_.kind != PoolKind::kMax) ctx.Fail("only MaxPool has a second (Indices) output");
      ctx.set_output(1, DType::kInt64, y);
    }
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    PoolParams p = Geometry(x.shape());
    int64_t* indices = ctx.has_output(1) ? ctx.output(1).data<int64_t>() : nullptr;
    DispatchPoolType(p.kind, x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* out = ctx.output(0).data<T>();
      // Channels-last output (8-bit codes only, AssignChannelsLast's rule;
      // geometries ChannelsLast accepted): in bands of output rows.
      NIBBLE_CHECK(!y_channels_last_ || (sizeof(T) == 1 && MaxPoolQ8X86Vectorizes(p.geo)), where_,
                   ": planned channels-last, but the pool runs on another kernel");
      if constexpr (sizeof(T) == 1) {
        if (y_channels_last_) {
          const int64_t n = x.dim(0), c = x.dim(1), oh = p.geo.out[0], ow = p.geo.out[1];
          // Bands of about 16 KB of pooled codes (ResNet-18: 4 rows of 56 x 64
          // channels), and at least two per thread where the rows allow.
          const int64_t per_thread = (oh + 2 * ctx.pool().num_threads() - 1) / (2 * ctx.pool().num_threads());
          const int64_t rows = std::clamp<int64_t>((16 << 10) / std::max<int64_t>(1, c * ow), 1, per_thread);
          const int64_t bands = (oh + rows - 1) / rows;
          const int64_t in_sz = p.geo.spatial_size_in(), out_sz = p.geo.spatial_size_out();
          ctx.pool().ParallelForTasks(n * bands, [&](int64_t lo, int64_t hi) {
            for (int64_t t = lo; t < hi; ++t) {
              const int64_t img = t / bands, oy = t % bands * rows;
              MaxPoolQ8X86ToPixels(c, p.geo, px + img * c * in_sz, out + img * c * out_sz, oy,
                                   std::min(oh, oy + rows));
            }
          });
          return;
        }
      }
      ctx.pool().ParallelForTasks(p.planes, [&](int64_t lo, int64_t hi) {
        if constexpr (sizeof(T) == 1) {  // 8-bit codes: the vectorized integer kernel
          if (!indices && p.kind == PoolKind::kMax && MaxPoolQ8X86Vectorizes(p.geo)) {
            MaxPoolQ8X86(p.planes, p.geo, px, out, lo, hi);
            return;
          }
        }
        if (!indices && MaxPool2dRowsApplies(p)) MaxPool2dRows(p, px, out, lo, hi);
        else if (p.geo.in.size() <= 3) PoolClipped(p, px, out, indices, lo, hi);
        else PoolReference(p, px, out, indices, lo, hi);
      }, p.geo.planes_per_task());
    });
  }

 private:
  PoolParams Geometry(const Shape& x) const {
    if (x.size() < 3) Fail("input must be at least 3-D (N, C, spatial...), got ", ShapeStr(x));
    if (kernel_shape_.size() != x.size() - 2)
      Fail("kernel_shape has ", kernel_shape_.size(), " dims but the input ", ShapeStr(x), " has ", x.size() - 2,
           " spatial dims");
    PoolParams p = params_;
    p.planes = x[0] * x[1];
    p.geo.in.assign(x.begin() + 2, x.end());
    p.geo.kernel = kernel_shape_;
    p.geo.stride = strides_;
    p.geo.dilation = dilations_;
    ComputeWindow(p.geo, pads_, auto_pad_, ceil_mode_);
    for (size_t d = 0; d < p.geo.in.size(); ++d) {
      const int64_t eff = (p.geo.kernel[d] - 1) * p.geo.dilation[d] + 1;
      if (p.geo.pad_begin[d] >= eff || p.geo.pad_end[d] >= eff)
        Fail("pads (", p.geo.pad_begin[d], ", ", p.geo.pad_end[d], ") must be smaller than the window (", eff,
             ") on spatial axis ", d);
    }
    return p;
  }


  std::string where_;
  PoolParams params_;
  std::vector<int64_t> kernel_shape_, strides_, dilations_, pads_;
  std::string auto_pad_;
  bool ceil_mode_ = false;
  bool indices_output_ = false;
  bool y_channels_last_ = false;  // set by the session (SetChannelsLast)
};

class GlobalPoolKernel : public OpKernel {
 public:
  GlobalPoolKernel(const OpEnv& env, PoolKind kind) : where_(env.where()), kind_(kind) {}

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kFloat32 && ctx.dtype(0) != DType::kFloat64)
      ctx.Fail("element type ", DTypeName(ctx.dtype(0)), " is not supported (float32 or float64)");
    const Shape& x = ctx.shape(0);
    if (x.size() < 2) ctx.Fail("input must be at least 2-D (N, C, spatial...), got ", ShapeStr(x));
    Shape y = x;
    std::fill(y.begin() + 2, y.end(), 1);
    ctx.set_output(0, ctx.dtype(0), y);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t spatial = planes ? x.numel() / planes : 0;
    DispatchFloat(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = ctx.output(0).data<T>();
      ctx.pool().ParallelFor(planes, [&](int64_t lo, int64_t hi) { GlobalPool(kind_, spatial, px, py, lo, hi); },
                             std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, spatial)));
    });
  }

 private:
  std::string where_;
  PoolKind kind_;
};

template <PoolKind kind>
OpFactory Pool() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<PoolKernel>(env, kind); };
}
template <PoolKind kind>
OpFactory GlobalPoolOp() {
  return [](const OpEnv& env) -> std::unique_ptr<OpKernel> { return std::make_unique<GlobalPoolKernel>(env, kind); };
}

}  // namespace

void RegisterPoolOps(OpRegistry& r) {
  r.Add("MaxPool", Pool<PoolKind::kMax>());
  r.Add("AveragePool", Pool<PoolKind::kAverage>());
  r.Add("LpPool", Pool<PoolKind::kLp>());
  r.Add("GlobalMaxPool", GlobalPoolOp<PoolKind::kMax>());
  r.Add("GlobalAveragePool", GlobalPoolOp<PoolKind::kAverage>());
}

}  // namespace nibble
