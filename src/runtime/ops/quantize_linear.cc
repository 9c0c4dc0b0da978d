// QuantizeLinear, DequantizeLinear (versions 10, 13, 19, 21: per tensor and per axis) and
// DynamicQuantizeLinear, with their scales and zero points read from inputs
// (see quant_args.h for how those are checked). The arithmetic is the
// reference's (requantize.h): x / scale in float32, round half to even,
// + zero point, saturate; and (q - zero_point) * scale.
//
// Not supported, each with a clear error: blocked quantization (block_size > 0,
// opset 21), float8, int4/uint4 and float4 codes (the importer does not hold
// those types; an output_dtype naming one is rejected here), int32 input to
// QuantizeLinear.
#include "kernels/reference/requantize.h"
#include "kernels/x86/quantize_linear_x86.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"
#include "runtime/ops/quant_args.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace onnx_quant {

void RegisterQLinearOps(OpRegistry& r);  // qlinear_ops.cc

namespace {

// How scale and zero point spread over x: x viewed as [outer, channels, inner],
// slice c using scale[c] (channels == 1: per tensor).
struct AxisLayout {
  int64_t outer = 1, channels = 1, inner = 1;
};

// Per tensor when the scale holds one value, per axis when it is 1-D with
// x.shape[axis] values; anything else fails naming the node.
AxisLayout LayoutOf(const Shape& x, const Shape& scale, int64_t axis, int64_t opset, const std::string& where,
                    const char* scale_name) {
  AxisLayout l;
  if (IsPerTensor(scale)) {
    l.inner = ShapeNumel(x);
    return l;
  }
  NIBBLE_CHECK(scale.size() == 1, where, ": ", scale_name, " has shape ", ShapeStr(scale),
               "; expected one value (per-tensor) or a 1-D tensor (per-axis); blocked quantization is not supported");
  NIBBLE_CHECK(opset >= 13, where, ": per-axis quantization (", scale_name, " of shape ", ShapeStr(scale),
               ") needs opset 13 or later, the model imports opset ", opset);
  NIBBLE_CHECK(!x.empty(), where, ": per-axis quantization of a scalar input");
  const int64_t a = tensor_ops::NormalizeAxis(axis, static_cast<int64_t>(x.size()), where);
  NIBBLE_CHECK(scale[0] == x[a], where, ": ", scale_name, " has ", scale[0], " values but the input has ", x[a],
               " along axis ", a, " (shape ", ShapeStr(x), "); per-axis quantization needs one scale per slice");
  l.channels = x[a];
  for (int64_t d = 0; d < a; ++d) l.outer *= x[d];
  for (int64_t d = a + 1; d < static_cast<int64_t>(x.size()); ++d) l.inner *= x[d];
  return l;
}

// The same check at session creation, when every dim it needs is known.
void CheckLayoutIfKnown(const OpEnv& env, int x_index, const ScaleInput& scale, int64_t axis) {
  std::optional<Shape> x = KnownShape(env, x_index);
  if (!x || !scale.known_shape()) return;
  for (int64_t d : *scale.known_shape())
    if (d < 0) return;
  if (!IsPerTensor(*scale.known_shape()) && scale.known_shape()->size() == 1 && !x->empty()) {
    const int64_t r = static_cast<int64_t>(x->size());
    if (axis >= -r && axis < r && (*x)[axis < 0 ? axis + r : axis] < 0) return;  // a dynamic dim
  }
  Shape xs = *x;
  for (int64_t& d : xs) d = std::max<int64_t>(d, 0);  // other dims do not matter here
  LayoutOf(xs, *scale.known_shape(), axis, env.opset, env.where(), scale.name());
}

// Splits [0, numel) over the pool into runs that share one channel and calls
// fn(first element, count, channel) for each.
template <class F>
void ForEachChannelRun(ThreadPool& pool, const AxisLayout& l, F&& fn) {
  const int64_t numel = l.outer * l.channels * l.inner;
  if (numel == 0) return;
  pool.ParallelFor(
      numel,
      [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi;) {
          const int64_t row = i / l.inner;
          const int64_t end = std::min(hi, (row + 1) * l.inner);
          fn(i, end - i, row % l.channels);
          i = end;
        }
      },
      1 << 14);
}

bool IsQuantizedCodeType(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16 || t == DType::kUInt16;
}

// QuantizeLinear's output_dtype attribute (an ONNX TensorProto code).
DType OutputDTypeAttribute(int64_t code, const std::string& where) {
  switch (code) {
    case 0: return DType::kUndefined;  // not given
    case 2: return DType::kUInt8;
    case 3: return DType::kInt8;
    case 4: return DType::kUInt16;
    case 5: return DType::kInt16;
    case 17:
    case 18:
    case 19:
    case 20:
      Fail(where, ": output_dtype ", code, " is a float8 type; nibble quantizes to int8, uint8, int16 or uint16 only");
    case 21:
    case 22:
      Fail(where, ": output_dtype ", code, " is a 4-bit type (uint4/int4), which nibble does not hold; use int8 or uint8");
    default:
      Fail(where, ": output_dtype ", code,
           " is not a quantized integer type (expected 2 uint8, 3 int8, 4 uint16, 5 int16)");
  }
}

void CheckNoBlockSize(const OpEnv& env) {
  const int64_t b = env.node.attrs.GetInt("block_size", 0);
  NIBBLE_CHECK(b == 0, env.where(), ": blocked quantization (block_size ", b,
               ") is not supported; nibble takes per-tensor or per-axis scales");
}

class QuantizeLinearKernel : public OpKernel {
 public:
  explicit QuantizeLinearKernel(const OpEnv& env)
      : where_(env.where()), opset_(env.opset), scale_(env, 1, "y_scale"), zero_point_(env, 2, "y_zero_point") {
    tensor_ops::CheckArity(env, 2, 3);
    axis_ = env.node.attrs.GetInt("axis", 1);
    CheckNoBlockSize(env);
    output_dtype_ = OutputDTypeAttribute(env.node.attrs.GetInt("output_dtype", 0), where_);
    // `saturate` only changes float8 results, which are rejected above.
    CheckSameShape(scale_, zero_point_, where_);
    CheckLayoutIfKnown(env, 0, scale_, axis_);
    // A width under 8 bits on the output (the absorbed Clip of a Q -> Clip -> DQ): clamp to it.
    const int y = env.node.outputs.empty() ? -1 : env.node.outputs[0];
    if (y >= 0 && env.graph.values[y].quant && env.graph.values[y].quant->bits < 8) {
      narrow_lo_ = env.graph.values[y].quant->qmin();
      narrow_hi_ = env.graph.values[y].quant->qmax();
    }
  }

  void Infer(InferContext& ctx) override {
    const DType xt = ctx.dtype(0);
    if (xt != DType::kFloat32 && xt != DType::kFloat16)
      ctx.Fail("x has type ", DTypeName(xt), "; QuantizeLinear takes float32 or float16");
    if (ctx.dtype(1) != xt)
      ctx.Fail("y_scale has type ", DTypeName(ctx.dtype(1)), " but x is ", DTypeName(xt), "; they must match");
    DType yt = output_dtype_ == DType::kUndefined ? DType::kUInt8 : output_dtype_;
    if (ctx.has_input(2)) {
      const DType zt = ctx.dtype(2);
      if (!IsQuantizedCodeType(zt))
        ctx.Fail("y_zero_point has type ", DTypeName(zt), "; expected int8, uint8, int16 or uint16");
      if (output_dtype_ != DType::kUndefined && zt != output_dtype_)
        ctx.Fail("output_dtype is ", DTypeName(output_dtype_), " but y_zero_point is ", DTypeName(zt));
      yt = zt;
      CheckSameShape(ctx.shape(1), ctx.shape(2), where_, "y_scale", "y_zero_point");
    }
    LayoutOf(ctx.shape(0), ctx.shape(1), axis_, opset_, where_, "y_scale");
    ctx.set_output(0, yt, ctx.shape(0));
  }

  void Run(RunContext& ctx) override {
    const Tensor& x0 = ctx.input(0);
    const std::vector<float> scale = scale_.Read(ctx);
    const std::vector<int32_t> zp = zero_point_.Read(ctx);
    const Shape& scale_shape = ctx.input(1).shape();
    if (zero_point_.present()) CheckSameShape(scale_shape, ctx.input(2).shape(), where_, "y_scale", "y_zero_point");
    const AxisLayout l = LayoutOf(x0.shape(), scale_shape, axis_, opset_, where_, "y_scale");
    const Tensor x = x0.dtype() == DType::kFloat16 ? tensor_ops::Float16ToFloat32(x0) : x0;
    const float* px = x.data<float>();
    Tensor& y = ctx.output(0);
    DispatchNumeric(y.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
        std::vector<T> z(l.channels, T(0));
        for (int64_t c = 0; c < l.channels && !zp.empty(); ++c) z[c] = static_cast<T>(zp[c]);
        T* py = y.data<T>();
        for (int64_t c = 0; c < l.channels; ++c)
          NIBBLE_CHECK(std::isfinite(scale[c]) && scale[c] > 0, where_, ": y_scale ", scale[c],
                       " is not a finite positive number");
        ForEachChannelRun(ctx.pool(), l, [&](int64_t i, int64_t n, int64_t c) {
          QuantizeLinearX86<T>(px + i, py + i, n, scale[c], z[c]);
          // Under 8 bits (the absorbed Clip of Q -> Clip -> DQ): the codes stay inside [qmin, qmax].
          if (narrow_lo_ > std::numeric_limits<T>::min() || narrow_hi_ < std::numeric_limits<T>::max())
            for (int64_t k = i; k < i + n; ++k)
              py[k] = static_cast<T>(std::clamp<int32_t>(py[k], narrow_lo_, narrow_hi_));
        });
      } else if constexpr (std::is_same_v<T, int16_t> || std::is_same_v<T, uint16_t>) {
        // requantize.h instantiates QuantizeLinear for 8-bit codes; this is its loop.
        constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
        T* py = y.data<T>();
        ForEachChannelRun(ctx.pool(), l, [&](int64_t i, int64_t n, int64_t c) {
          const int32_t z = zp.empty() ? 0 : zp[c];
          for (int64_t k = i; k < i + n; ++k) py[k] = static_cast<T>(QuantizeValue(px[k], scale[c], z, qmin, qmax));
        });
      } else {
        Fail(where_, ": output type ", DTypeName(y.dtype()), " is not a quantized code type");
      }
    });
  }

 private:
  std::string where_;
  int64_t opset_;
  ScaleInput scale_;
  ZeroPointInput zero_point_;
  int64_t axis_;
  DType output_dtype_;
  int32_t narrow_lo_ = std::numeric_limits<int32_t>::min(), narrow_hi_ = std::numeric_limits<int32_t>::max();
};

class DequantizeLinearKernel : public OpKernel {
 public:
  explicit DequantizeLinearKernel(const OpEnv& env)
      : where_(env.where()), opset_(env.opset), scale_(env, 1, "x_scale"), zero_point_(env, 2, "x_zero_point") {
    tensor_ops::CheckArity(env, 2, 3);
    axis_ = env.node.attrs.GetInt("axis", 1);
    CheckNoBlockSize(env);
    CheckSameShape(scale_, zero_point_, where_);
    CheckLayoutIfKnown(env, 0, scale_, axis_);
  }

  void Infer(InferContext& ctx) override {
    const DType xt = ctx.dtype(0);
    if (!IsQuantizedCodeType(xt) && xt != DType::kInt32)
      ctx.Fail("x has type ", DTypeName(xt), "; DequantizeLinear takes int8, uint8, int16, uint16 or int32");
    const DType st = ctx.dtype(1);
    if (st != DType::kFloat32 && st != DType::kFloat16)
      ctx.Fail("x_scale has type ", DTypeName(st), "; expected float32 or float16");
    if (ctx.has_input(2)) {
      if (ctx.dtype(2) != xt)
        ctx.Fail("x_zero_point has type ", DTypeName(ctx.dtype(2)), " but x is ", DTypeName(xt), "; they must match");
      CheckSameShape(ctx.shape(1), ctx.shape(2), where_, "x_scale", "x_zero_point");
    }
    LayoutOf(ctx.shape(0), ctx.shape(1), axis_, opset_, where_, "x_scale");
    ctx.set_output(0, st, ctx.shape(0));
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const std::vector<float> scale = scale_.Read(ctx);
    const std::vector<int32_t> zp = zero_point_.Read(ctx);
    const Shape& scale_shape = ctx.input(1).shape();
    if (zero_point_.present()) CheckSameShape(scale_shape, ctx.input(2).shape(), where_, "x_scale", "x_zero_point");
    const AxisLayout l = LayoutOf(x.shape(), scale_shape, axis_, opset_, where_, "x_scale");
    if (x.dtype() == DType::kInt32)
      for (int32_t z : zp)
        NIBBLE_CHECK(z == 0, where_, ": x_zero_point ", z,
                     " for int32 input; ONNX dequantizes int32 with zero point 0");
    Tensor& out = ctx.output(0);
    Tensor y = out.dtype() == DType::kFloat16 ? Tensor(DType::kFloat32, out.shape()) : out;
    float* py = y.data<float>();
    DispatchNumeric(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t> || std::is_same_v<T, int32_t>) {
        std::vector<T> z(l.channels, T(0));
        for (int64_t c = 0; c < l.channels && !zp.empty(); ++c) z[c] = static_cast<T>(zp[c]);
        const T* px = x.data<T>();
        ForEachChannelRun(ctx.pool(), l, [&](int64_t i, int64_t n, int64_t c) {
          DequantizeLinear<T>(px + i, py + i, n, scale[c], z[c]);
        });
      } else if constexpr (std::is_same_v<T, int16_t> || std::is_same_v<T, uint16_t>) {
        // requantize.h instantiates DequantizeLinear for 8- and 32-bit codes; this is its loop.
        const T* px = x.data<T>();
        ForEachChannelRun(ctx.pool(), l, [&](int64_t i, int64_t n, int64_t c) {
          const int32_t z = zp.empty() ? 0 : zp[c];
          for (int64_t k = i; k < i + n; ++k) py[k] = DequantizeValue(px[k], scale[c], z);
        });
      } else {
        Fail(where_, ": input type ", DTypeName(x.dtype()), " is not a quantized code type");
      }
    });
    if (out.dtype() == DType::kFloat16) tensor_ops::StoreAsFloat16(y, out);
  }

 private:
  std::string where_;
  int64_t opset_;
  ScaleInput scale_;
  ZeroPointInput zero_point_;
  int64_t axis_;
};

// uint8 only, as ONNX defines it: the range [min(x, 0), max(x, 0)] mapped onto [0, 255].
class DynamicQuantizeLinearKernel : public OpKernel {
 public:
  explicit DynamicQuantizeLinearKernel(const OpEnv& env) : where_(env.where()) {
    tensor_ops::CheckArity(env, 1, 1, 1, 3);
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != DType::kFloat32) ctx.Fail("x has type ", DTypeName(ctx.dtype(0)), "; expected float32");
    ctx.set_output(0, DType::kUInt8, ctx.shape(0));
    if (ctx.num_outputs() > 1) ctx.set_output(1, DType::kFloat32, {});
    if (ctx.num_outputs() > 2) ctx.set_output(2, DType::kUInt8, {});
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const float* px = x.data<float>();
    float lo = 0.f, hi = 0.f;  // the range always includes 0
    for (int64_t i = 0; i < x.numel(); ++i) {
      NIBBLE_CHECK(std::isfinite(px[i]), where_, ": x[", i, "] = ", px[i],
                   "; a NaN or infinite input has no uint8 scale");
      lo = std::min(lo, px[i]);
      hi = std::max(hi, px[i]);
    }
    // The reference's float32 steps, in its order.
    const float scale = (hi == lo ? 1.f : hi - lo) / 255.f;
    NIBBLE_CHECK(std::isfinite(scale) && scale > 0, where_, ": the input range [", lo, ", ", hi,
                 "] gives no finite positive uint8 scale");
    const float initial_zero_point = 0.f - lo / scale;
    const uint8_t zp = static_cast<uint8_t>(RoundHalfEven(std::clamp(initial_zero_point, 0.f, 255.f)));
    uint8_t* py = ctx.output(0).data<uint8_t>();
    ctx.pool().ParallelFor(
        x.numel(), [&](int64_t b, int64_t e) { QuantizeLinearX86<uint8_t>(px + b, py + b, e - b, scale, zp); }, 1 << 14);
    if (ctx.has_output(1)) ctx.output(1).data<float>()[0] = scale;
    if (ctx.has_output(2)) ctx.output(2).data<uint8_t>()[0] = zp;
  }

 private:
  std::string where_;
};

}  // namespace
}  // namespace onnx_quant

void RegisterQuantOps(OpRegistry& r) {
  r.Add("QuantizeLinear", MakeFactory<onnx_quant::QuantizeLinearKernel>());
  r.Add("DequantizeLinear", MakeFactory<onnx_quant::DequantizeLinearKernel>());
  r.Add("DynamicQuantizeLinear", MakeFactory<onnx_quant::DynamicQuantizeLinearKernel>());
  onnx_quant::RegisterQLinearOps(r);
}

}  // namespace nibble
