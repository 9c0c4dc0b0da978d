// Resize (opsets 11-19): nearest (every nearest_mode) and N-linear, every
// coordinate_transformation_mode, scales or sizes, `axes` and
// keep_aspect_ratio_policy (opset 18+). Not supported, with a clear error:
// mode "cubic" and antialias=1. The output shape depends on the contents of
// scales/sizes (and roi for tf_crop_and_resize), so those are read while planning.
#include <algorithm>
#include <cmath>

#include "kernels/reference/requantize.h"
#include "kernels/reference/resize_f32.h"
#include "kernels/reference/resize_q8.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"
#include "runtime/ops/quant_util.h"

namespace nibble {
namespace {

struct ResizeGeometry {
  std::vector<ResizeAxisSpec> axes;  // one per input dim
  Shape out;
};

class ResizeKernel : public OpKernel {
 public:
  explicit ResizeKernel(const OpEnv& env) : where_(env.where()) {
    const Attributes& a = env.node.attrs;
    const std::string mode = a.GetString("mode", "nearest");
    if (mode == "nearest") mode_ = ResizeMode::kNearest;
    else if (mode == "linear") mode_ = ResizeMode::kLinear;
    else if (mode == "cubic") Fail(where_, ": mode 'cubic' is not supported (nibble resizes with 'nearest' or 'linear')");
    else Fail(where_, ": unknown mode '", mode, "' (expected nearest, linear or cubic)");

    const std::string coord = a.GetString("coordinate_transformation_mode", "half_pixel");
    if (coord == "half_pixel") coord_ = ResizeCoord::kHalfPixel;
    else if (coord == "half_pixel_symmetric") coord_ = ResizeCoord::kHalfPixelSymmetric;
    else if (coord == "pytorch_half_pixel") coord_ = ResizeCoord::kPytorchHalfPixel;
    else if (coord == "align_corners") coord_ = ResizeCoord::kAlignCorners;
    else if (coord == "asymmetric") coord_ = ResizeCoord::kAsymmetric;
    else if (coord == "tf_crop_and_resize") coord_ = ResizeCoord::kTfCropAndResize;
    else if (coord == "tf_half_pixel_for_nn" && env.opset < 13) coord_ = ResizeCoord::kTfHalfPixelForNn;
    else Fail(where_, ": coordinate_transformation_mode '", coord, "' is not valid at opset ", env.opset);

    const std::string nearest = a.GetString("nearest_mode", "round_prefer_floor");
    if (nearest == "round_prefer_floor") nearest_ = ResizeNearest::kRoundPreferFloor;
    else if (nearest == "round_prefer_ceil") nearest_ = ResizeNearest::kRoundPreferCeil;
    else if (nearest == "floor") nearest_ = ResizeNearest::kFloor;
    else if (nearest == "ceil") nearest_ = ResizeNearest::kCeil;
    else Fail(where_, ": unknown nearest_mode '", nearest, "'");

    if (a.GetInt("antialias", 0) != 0) Fail(where_, ": antialias=1 is not supported");
    extrapolation_ = a.GetFloat("extrapolation_value", 0.f);
    axes_attr_ = a.GetInts("axes");
    policy_ = a.GetString("keep_aspect_ratio_policy", "stretch");
    NIBBLE_CHECK(policy_ == "stretch" || policy_ == "not_larger" || policy_ == "not_smaller", where_,
                 ": unknown keep_aspect_ratio_policy '", policy_, "'");
  }

  void Infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    if (mode_ == ResizeMode::kLinear ? (t != DType::kFloat32 && t != DType::kFloat64) : t == DType::kFloat16)
      ctx.Fail("element type ", DTypeName(t), " is not supported in mode ",
               mode_ == ResizeMode::kLinear ? "linear (float32 or float64)" : "nearest");
    auto present = [&](int i) { return ctx.has_input(i) && ShapeNumel(ctx.shape(i)) > 0; };
    const bool need_roi = coord_ == ResizeCoord::kTfCropAndResize && present(1);
    const Tensor* roi = need_roi ? &ctx.value(1) : nullptr;
    const Tensor* scales = present(2) ? &ctx.value(2) : nullptr;
    const Tensor* sizes = present(3) ? &ctx.value(3) : nullptr;
    ResizeGeometry g;
    try {
      g = Geometry(ctx.shape(0), roi, scales, sizes);
      ShapeNumel(g.out);  // fails here, naming the node, if sizes overflow
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    ctx.set_output(0, t, g.out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    auto present = [&](int i) -> const Tensor* {
      return ctx.has_input(i) && ctx.input(i).numel() > 0 ? &ctx.input(i) : nullptr;
    };
    ResizeGeometry g = Geometry(x.shape(), coord_ == ResizeCoord::kTfCropAndResize ? present(1) : nullptr,
                                present(2), present(3));
    std::vector<ResizeAxis> axes;
    for (const ResizeAxisSpec& s : g.axes) axes.push_back(MakeResizeAxis(mode_, coord_, nearest_, s));
    Tensor& y = ctx.output(0);
    if (y.numel() == 0) return;
    const int64_t row_len = g.out.empty() ? 1 : g.out.back();
    const int64_t rows = y.numel() / row_len;
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = y.data<T>();
      ctx.pool().ParallelFor(rows, [&](int64_t lo, int64_t hi) {
        ResizeReference(mode_, axes, px, py, extrapolation_, lo, hi);
      }, std::max<int64_t>(1, (1 << 13) / row_len));
    };
    if (mode_ == ResizeMode::kLinear) DispatchFloat(x.dtype(), where_, run);
    else DispatchAny(x.dtype(), where_, run);
  }

 protected:
  ResizeGeometry Geometry(const Shape& x, const Tensor* roi, const Tensor* scales, const Tensor* sizes) const {
    const int64_t r = static_cast<int64_t>(x.size());
    if (r == 0) Fail("input must have rank >= 1");
    std::vector<int64_t> axes;
    if (axes_attr_.empty()) {
      for (int64_t d = 0; d < r; ++d) axes.push_back(d);
    } else {
      std::vector<bool> seen(r, false);
      for (int64_t a : axes_attr_) {
        const int64_t d = a < 0 ? a + r : a;
        if (d < 0 || d >= r) Fail("axis ", a, " is out of range for rank ", r);
        if (seen[d]) Fail("axis ", a, " is listed twice");
        seen[d] = true;
        axes.push_back(d);
      }
    }
    const size_t k = axes.size();
    if (!scales == !sizes) Fail("exactly one of scales and sizes must be given (non-empty)");
    if (scales && (scales->dtype() != DType::kFloat32 || scales->rank() != 1 || scales->numel() != (int64_t)k))
      Fail("scales must be a float32 vector of ", k, " values, got ", DTypeName(scales->dtype()), " ",
           ShapeStr(scales->shape()));
    if (sizes && (sizes->dtype() != DType::kInt64 || sizes->rank() != 1 || sizes->numel() != (int64_t)k))
      Fail("sizes must be an int64 vector of ", k, " values, got ", DTypeName(sizes->dtype()), " ",
           ShapeStr(sizes->shape()));
    if (roi && (roi->numel() != 2 * (int64_t)k || (roi->dtype() != DType::kFloat32 && roi->dtype() != DType::kFloat64)))
      Fail("roi must be a float vector of ", 2 * k, " values (starts, then ends), got ", DTypeName(roi->dtype()), " ",
           ShapeStr(roi->shape()));

    ResizeGeometry g;
    g.axes.resize(r);
    for (int64_t d = 0; d < r; ++d) {
      ResizeAxisSpec& s = g.axes[d];
      s.in = s.out = x[d];
      s.length_resized = static_cast<double>(x[d]);
    }
    if (roi)
      for (size_t i = 0; i < k; ++i) {
        g.axes[axes[i]].roi_start = roi->AsDouble(i);
        g.axes[axes[i]].roi_end = roi->AsDouble(i + k);
      }
    if (scales) {
      for (size_t i = 0; i < k; ++i) {
        ResizeAxisSpec& s = g.axes[axes[i]];
        const double scale = scales->data<float>()[i];
        if (!(scale > 0) || !std::isfinite(scale)) Fail("scales must be positive, got ", scale, " for axis ", axes[i]);
        const double crop = coord_ == ResizeCoord::kTfCropAndResize ? s.roi_end - s.roi_start : 1.0;
        const double len = std::floor(static_cast<double>(s.in) * crop * scale);
        if (!(len >= 0 && len < 4e18)) Fail("scale ", scale, " gives an invalid size on axis ", axes[i]);
        s.scale = scale;
        s.length_resized = static_cast<double>(s.in) * scale;
        s.out = static_cast<int64_t>(len);
      }
    } else {
      std::vector<double> ratio(k);
      for (size_t i = 0; i < k; ++i) {
        const int64_t want = sizes->data<int64_t>()[i];
        const int64_t in = x[axes[i]];
        if (want < 0) Fail("sizes must be non-negative, got ", want, " for axis ", axes[i]);
        if (in == 0 && want != 0) Fail("cannot resize the empty axis ", axes[i], " to ", want);
        ratio[i] = in ? static_cast<double>(want) / static_cast<double>(in) : 1.0;
      }
      if (policy_ == "stretch") {
        for (size_t i = 0; i < k; ++i) {
          ResizeAxisSpec& s = g.axes[axes[i]];
          s.out = sizes->data<int64_t>()[i];
          s.scale = ratio[i];
          s.length_resized = static_cast<double>(s.out);
        }
      } else {
        const double scale = policy_ == "not_larger" ? *std::min_element(ratio.begin(), ratio.end())
                                                     : *std::max_element(ratio.begin(), ratio.end());
        for (size_t i = 0; i < k; ++i) {
          ResizeAxisSpec& s = g.axes[axes[i]];
          s.scale = scale;
          s.length_resized = static_cast<double>(s.in) * scale;
          s.out = static_cast<int64_t>(s.length_resized + 0.5);  // round half up
        }
      }
    }
    for (int64_t d = 0; d < r; ++d) {
      const ResizeAxisSpec& s = g.axes[d];
      if (s.in == 0 && s.out != 0) Fail("cannot resize the empty axis ", d, " to ", s.out);
      if (s.out > 0 && !(s.scale > 0)) Fail("axis ", d, " has scale ", s.scale, " but a non-empty output");
      g.out.push_back(s.out);
    }
    return g;
  }

  std::string where_;
  ResizeMode mode_ = ResizeMode::kNearest;
  ResizeCoord coord_ = ResizeCoord::kHalfPixel;
  ResizeNearest nearest_ = ResizeNearest::kRoundPreferFloor;
  double extrapolation_ = 0;
  std::vector<int64_t> axes_attr_;
  std::string policy_;
};

// Resize over quantized codes (after fold-qdq, which folds it only when input
// and output share scale and zero point): nearest copies codes; linear mixes
// H and W with fixed-point weights (resize_q8.h) and needs every other axis
// unscaled. The extrapolation value (tf_crop_and_resize) is quantized once.
class QResizeKernel : public ResizeKernel {
 public:
  explicit QResizeKernel(const OpEnv& env) : ResizeKernel(env), where_q_(env.where()) {
    x_ = QuantOf(env, env.node.inputs[0], "input");
    const int32_t lo = x_.is_signed ? -128 : 0, hi = x_.is_signed ? 127 : 255;
    extrapolation_code_ = QuantizeValue(static_cast<float>(extrapolation_), x_.scale[0], ZeroPoint(x_), lo, hi);
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != CodeType(x_)) ctx.Fail("quantized input must be ", DTypeName(CodeType(x_)));
    auto present = [&](int i) { return ctx.has_input(i) && ShapeNumel(ctx.shape(i)) > 0; };
    const Tensor* roi = coord_ == ResizeCoord::kTfCropAndResize && present(1) ? &ctx.value(1) : nullptr;
    ResizeGeometry g;
    try {
      g = Geometry(ctx.shape(0), roi, present(2) ? &ctx.value(2) : nullptr, present(3) ? &ctx.value(3) : nullptr);
      ShapeNumel(g.out);
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    if (mode_ == ResizeMode::kLinear) {
      if (g.axes.size() < 2) ctx.Fail("quantized linear Resize needs at least 2 dims");
      for (size_t d = 0; d + 2 < g.axes.size(); ++d)
        if (g.axes[d].out != g.axes[d].in)
          ctx.Fail("quantized linear Resize mixes only the last two axes; axis ", d, " changes size");
    }
    ctx.set_output(0, CodeType(x_), g.out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    auto present = [&](int i) -> const Tensor* {
      return ctx.has_input(i) && ctx.input(i).numel() > 0 ? &ctx.input(i) : nullptr;
    };
    ResizeGeometry g = Geometry(x.shape(), coord_ == ResizeCoord::kTfCropAndResize ? present(1) : nullptr,
                                present(2), present(3));
    std::vector<ResizeAxis> axes;
    for (const ResizeAxisSpec& s : g.axes) axes.push_back(MakeResizeAxis(mode_, coord_, nearest_, s));
    Tensor& y = ctx.output(0);
    if (y.numel() == 0) return;
    auto run = [&](auto* px, auto* py) {
      using T = std::remove_const_t<std::remove_pointer_t<decltype(px)>>;
      const T extra = static_cast<T>(extrapolation_code_);
      if (mode_ == ResizeMode::kNearest) {
        const int64_t row_len = g.out.back();
        ctx.pool().ParallelFor(y.numel() / row_len, [&](int64_t lo, int64_t hi) {
          ResizeNearestQ8Reference(axes, px, py, extra, lo, hi);
        }, std::max<int64_t>(1, (1 << 13) / row_len));
        return;
      }
      const size_t r = axes.size();
      const int64_t plane = g.out[r - 2] * g.out[r - 1];
      ctx.pool().ParallelFor(y.numel() / plane, [&](int64_t lo, int64_t hi) {
        ResizeBilinearQ8Reference(axes[r - 2], axes[r - 1], px, py, extra, lo, hi);
      });
    };
    if (x.dtype() == DType::kUInt8) run(x.data<uint8_t>(), y.data<uint8_t>());
    else run(x.data<int8_t>(), y.data<int8_t>());
  }

 private:
  std::string where_q_;
  QuantParams x_;
  int32_t extrapolation_code_ = 0;
};

}  // namespace

void RegisterResizeOps(OpRegistry& r) {
  r.Add("Resize", MakeFactory<ResizeKernel>());
  r.AddQuantized("Resize", MakeFactory<QResizeKernel>());
}

}  // namespace nibble
