// The ONNX integer operators that take their quantization from inputs:
// QLinearConv, QLinearMatMul (8-bit codes, requantized output) and ConvInteger,
// MatMulInteger (int32 output). The integer sums are the reference kernels'
// (ConvQ8Int32Reference, GemmQ8Int32Reference: exact, and they refuse weights
// that could overflow int32). The QLinear requantization is ONNX's
// (RequantizeAsOnnx in quant_args.h: float product, round half to even), not
// the fixed-point rule of requantize.h, because these are conformance kernels
// and the ONNX backend tests and ONNX Runtime round that way.
//
// Granularity, as the specification allows:
//   QLinearConv / ConvInteger: x per tensor; w per tensor or per output channel ([M]); y per tensor.
//   QLinearMatMul / MatMulInteger: a per tensor or per row ([M] or [..., M, 1]); b per tensor or per
//   column ([N] or [..., 1, N]); y per tensor.
#include "kernels/reference/matmul_shape.h"
#include "kernels/reference/broadcast.h"
#include "kernels/reference/conv_q8.h"
#include "kernels/reference/gemm_q8.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"
#include "runtime/ops/quant_args.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble::onnx_quant {
namespace {

// f(TypeTag<int8_t>) or f(TypeTag<uint8_t>).
template <class F>
void Dispatch8(DType t, const std::string& where, const char* what, F&& f) {
  if (t == DType::kInt8) return f(TypeTag<int8_t>{});
  if (t == DType::kUInt8) return f(TypeTag<uint8_t>{});
  Fail(where, ": ", what, " has type ", DTypeName(t), "; expected int8 or uint8");
}

bool Is8Bit(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8;
}

bool AllKnown(const Shape& s) {
  for (int64_t d : s)
    if (d < 0) return false;
  return true;
}

// A scale or zero point of one value, or one per channel: "[M]".
void CheckPerChannel(const Shape& s, int64_t channels, const std::string& where, const char* name) {
  if (!AllKnown(s) || channels < 0 || IsPerTensor(s)) return;
  NIBBLE_CHECK(s.size() == 1 && s[0] == channels, where, ": ", name, " has shape ", ShapeStr(s),
               "; expected one value (per tensor) or ", channels, " (one per output channel)");
}

// ------------------------------------------------------------------ convolution

struct ConvAttributes {
  int64_t group;
  std::vector<int64_t> kernel_shape, strides, dilations, pads;
  std::string auto_pad;

  explicit ConvAttributes(const Attributes& a)
      : group(a.GetInt("group", 1)),
        kernel_shape(a.GetInts("kernel_shape")),
        strides(a.GetInts("strides")),
        dilations(a.GetInts("dilations")),
        pads(a.GetInts("pads")),
        auto_pad(a.GetString("auto_pad", "NOTSET")) {}

  // Sizes, padding and output shape for these input and weight shapes.
  ConvQ8Params Geometry(const Shape& x, const Shape& w) const {
    if (x.size() < 3 || x.size() > 5) Fail("input must be 3-D to 5-D (N, C, spatial...), got ", ShapeStr(x));
    if (w.size() != x.size()) Fail("weight rank ", w.size(), " does not match input rank ", x.size());
    NIBBLE_CHECK(group >= 1, "group must be >= 1, got ", group);
    ConvQ8Params p;
    p.batch = x[0];
    p.in_channels = x[1];
    p.out_channels = w[0];
    p.group = group;
    if (p.in_channels % group || p.out_channels % group)
      Fail("channels (", p.in_channels, " in, ", p.out_channels, " out) are not divisible by group ", group);
    if (w[1] != p.in_channels / group)
      Fail("weight has ", w[1], " input channels per group, expected ", p.in_channels / group);
    p.geo.in.assign(x.begin() + 2, x.end());
    p.geo.kernel.assign(w.begin() + 2, w.end());
    if (!kernel_shape.empty() && kernel_shape != p.geo.kernel)
      Fail("kernel_shape ", ShapeStr(kernel_shape), " disagrees with the weight's ", ShapeStr(p.geo.kernel));
    p.geo.stride = strides;
    p.geo.dilation = dilations;
    ComputeWindow(p.geo, pads, auto_pad, false);
    return p;
  }

  Shape OutputShape(const ConvQ8Params& p) const {
    Shape y = {p.batch, p.out_channels};
    y.insert(y.end(), p.geo.out.begin(), p.geo.out.end());
    return y;
  }
};

// acc[n, m, ...] (int32, exact), split over the pool by (batch element, output
// channel): each run of output channels of one image and one group is a
// convolution of its own (group 1) over that group's input channels and weights.
template <class TX, class TW>
void ConvAccumulate(const ConvQ8Params& p, const TX* x, const TW* w, int32_t* acc, ThreadPool& pool) {
  const int64_t in_size = p.geo.spatial_size_in(), out_size = p.geo.spatial_size_out();
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t w_size = cg * p.geo.kernel_size();  // weights per output channel
  pool.ParallelFor(p.batch * p.out_channels, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi;) {
      const int64_t n = i / p.out_channels, m = i % p.out_channels, g = m / mg;
      const int64_t count = std::min(hi - i, (g + 1) * mg - m);  // stay inside one image and one group
      ConvQ8Params q = p;
      q.batch = 1;
      q.in_channels = cg;
      q.out_channels = count;
      q.group = 1;
      if (p.w_zero_point.size() > 1)
        q.w_zero_point.assign(p.w_zero_point.begin() + m, p.w_zero_point.begin() + m + count);
      ConvQ8Int32Reference<TX, TW>(q, x + (n * p.in_channels + g * cg) * in_size, w + m * w_size,
                                   acc + (n * p.out_channels + m) * out_size);
      i += count;
    }
  });
}

// QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point[, B].
class QLinearConvKernel : public OpKernel {
 public:
  explicit QLinearConvKernel(const OpEnv& env)
      : where_(env.where()),
        attrs_(env.node.attrs),
        x_scale_(env, 1, "x_scale"),
        w_scale_(env, 4, "w_scale"),
        y_scale_(env, 6, "y_scale"),
        x_zero_point_(env, 2, "x_zero_point"),
        w_zero_point_(env, 5, "w_zero_point"),
        y_zero_point_(env, 7, "y_zero_point") {
    tensor_ops::CheckArity(env, 8, 9);
    CheckSameShape(x_scale_, x_zero_point_, where_);
    CheckSameShape(w_scale_, w_zero_point_, where_);
    CheckSameShape(y_scale_, y_zero_point_, where_);
    for (const auto* s : {&x_scale_, &y_scale_})
      if (s->known_shape()) CheckPerTensor(*s->known_shape(), where_, s->name());
    for (const auto* z : {&x_zero_point_, &y_zero_point_})
      if (z->known_shape()) CheckPerTensor(*z->known_shape(), where_, z->name());
    const std::optional<Shape> w = KnownShape(env, 3);
    const int64_t m = w && !w->empty() ? (*w)[0] : -1;
    if (w_scale_.known_shape()) CheckPerChannel(*w_scale_.known_shape(), m, where_, "w_scale");
    if (w_zero_point_.known_shape()) CheckPerChannel(*w_zero_point_.known_shape(), m, where_, "w_zero_point");
    if (const std::optional<Shape> b = KnownShape(env, 8); b && m >= 0 && AllKnown(*b))
      NIBBLE_CHECK(b->size() == 1 && (*b)[0] == m, where_, ": B has shape ", ShapeStr(*b), ", expected [", m, "]");
  }

  void Infer(InferContext& ctx) override {
    if (!Is8Bit(ctx.dtype(0))) ctx.Fail("x has type ", DTypeName(ctx.dtype(0)), "; expected int8 or uint8");
    if (!Is8Bit(ctx.dtype(3))) ctx.Fail("w has type ", DTypeName(ctx.dtype(3)), "; expected int8 or uint8");
    if (!Is8Bit(ctx.dtype(7))) ctx.Fail("y_zero_point has type ", DTypeName(ctx.dtype(7)), "; expected int8 or uint8");
    if (ctx.dtype(2) != ctx.dtype(0))
      ctx.Fail("x_zero_point has type ", DTypeName(ctx.dtype(2)), " but x is ", DTypeName(ctx.dtype(0)));
    if (ctx.dtype(5) != ctx.dtype(3))
      ctx.Fail("w_zero_point has type ", DTypeName(ctx.dtype(5)), " but w is ", DTypeName(ctx.dtype(3)));
    for (int i : {1, 4, 6})
      if (ctx.dtype(i) != DType::kFloat32)
        ctx.Fail("input ", i, " (a scale) has type ", DTypeName(ctx.dtype(i)), "; expected float32");
    ConvQ8Params p;
    try {
      p = attrs_.Geometry(ctx.shape(0), ctx.shape(3));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    CheckShapes(ctx.shape(1), ctx.shape(2), ctx.shape(4), ctx.shape(5), ctx.shape(6), ctx.shape(7), p.out_channels);
    if (ctx.has_input(8)) {
      if (ctx.dtype(8) != DType::kInt32) ctx.Fail("B has type ", DTypeName(ctx.dtype(8)), "; expected int32");
      if (ctx.shape(8) != Shape{p.out_channels})
        ctx.Fail("B has shape ", ShapeStr(ctx.shape(8)), ", expected [", p.out_channels, "]");
    }
    ctx.set_output(0, ctx.dtype(7), attrs_.OutputShape(p));
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(3);
    ConvQ8Params p = attrs_.Geometry(x.shape(), w.shape());
    CheckShapes(ctx.input(1).shape(), ctx.input(2).shape(), ctx.input(4).shape(), ctx.input(5).shape(),
                ctx.input(6).shape(), ctx.input(7).shape(), p.out_channels);
    const float x_scale = x_scale_.Read(ctx)[0], y_scale = y_scale_.Read(ctx)[0];
    const std::vector<float> w_scale = w_scale_.Read(ctx);
    p.x_zero_point = x_zero_point_.Read(ctx)[0];
    p.w_zero_point = w_zero_point_.Read(ctx);
    const int32_t y_zero_point = y_zero_point_.Read(ctx)[0];
    std::vector<float> multiplier(w_scale.size());
    for (size_t m = 0; m < w_scale.size(); ++m) multiplier[m] = QLinearMultiplier(x_scale, w_scale[m], y_scale, where_);
    const int32_t* bias = ctx.has_input(8) ? ctx.input(8).data<int32_t>() : nullptr;

    std::vector<int32_t> acc(ShapeNumel(attrs_.OutputShape(p)));
    Dispatch8(x.dtype(), where_, "x", [&](auto tx) {
      Dispatch8(w.dtype(), where_, "w", [&](auto tw) {
        using TX = typename decltype(tx)::type;
        using TW = typename decltype(tw)::type;
        ConvAccumulate<TX, TW>(p, x.data<TX>(), w.data<TW>(), acc.data(), ctx.pool());
      });
    });
    Tensor& y = ctx.output(0);
    const int64_t plane = p.geo.spatial_size_out();
    Dispatch8(y.dtype(), where_, "y", [&](auto ty) {
      using TY = typename decltype(ty)::type;
      TY* py = y.data<TY>();
      constexpr int32_t qmin = std::numeric_limits<TY>::min(), qmax = std::numeric_limits<TY>::max();
      ctx.pool().ParallelFor(p.batch * p.out_channels, [&](int64_t lo, int64_t hi) {
        for (int64_t nm = lo; nm < hi; ++nm) {
          const int64_t m = nm % p.out_channels;
          const float mult = multiplier[multiplier.size() == 1 ? 0 : m];
          const int64_t b = bias ? bias[m] : 0;
          for (int64_t i = nm * plane; i < (nm + 1) * plane; ++i)
            py[i] = static_cast<TY>(RequantizeAsOnnx(acc[i] + b, mult, y_zero_point, qmin, qmax));
        }
      });
    });
  }

 private:
  void CheckShapes(const Shape& xs, const Shape& xz, const Shape& ws, const Shape& wz, const Shape& ys, const Shape& yz,
                   int64_t m) const {
    CheckSameShape(xs, xz, where_, "x_scale", "x_zero_point");
    CheckSameShape(ws, wz, where_, "w_scale", "w_zero_point");
    CheckSameShape(ys, yz, where_, "y_scale", "y_zero_point");
    CheckPerTensor(xs, where_, "x_scale");
    CheckPerTensor(xz, where_, "x_zero_point");
    CheckPerTensor(ys, where_, "y_scale");
    CheckPerTensor(yz, where_, "y_zero_point");
    CheckPerChannel(ws, m, where_, "w_scale");
    CheckPerChannel(wz, m, where_, "w_zero_point");
  }

  std::string where_;
  ConvAttributes attrs_;
  ScaleInput x_scale_, w_scale_, y_scale_;
  ZeroPointInput x_zero_point_, w_zero_point_, y_zero_point_;
};

// ConvInteger: x, w[, x_zero_point[, w_zero_point]] -> int32.
class ConvIntegerKernel : public OpKernel {
 public:
  explicit ConvIntegerKernel(const OpEnv& env)
      : where_(env.where()),
        attrs_(env.node.attrs),
        x_zero_point_(env, 2, "x_zero_point"),
        w_zero_point_(env, 3, "w_zero_point") {
    tensor_ops::CheckArity(env, 2, 4);
    if (x_zero_point_.known_shape()) CheckPerTensor(*x_zero_point_.known_shape(), where_, "x_zero_point");
    const std::optional<Shape> w = KnownShape(env, 1);
    if (w_zero_point_.known_shape())
      CheckPerChannel(*w_zero_point_.known_shape(), w && !w->empty() ? (*w)[0] : -1, where_, "w_zero_point");
  }

  void Infer(InferContext& ctx) override {
    if (!Is8Bit(ctx.dtype(0))) ctx.Fail("x has type ", DTypeName(ctx.dtype(0)), "; expected int8 or uint8");
    if (!Is8Bit(ctx.dtype(1))) ctx.Fail("w has type ", DTypeName(ctx.dtype(1)), "; expected int8 or uint8");
    ConvQ8Params p;
    try {
      p = attrs_.Geometry(ctx.shape(0), ctx.shape(1));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    if (ctx.has_input(2)) {
      if (ctx.dtype(2) != ctx.dtype(0))
        ctx.Fail("x_zero_point has type ", DTypeName(ctx.dtype(2)), " but x is ", DTypeName(ctx.dtype(0)));
      CheckPerTensor(ctx.shape(2), where_, "x_zero_point");
    }
    if (ctx.has_input(3)) {
      if (ctx.dtype(3) != ctx.dtype(1))
        ctx.Fail("w_zero_point has type ", DTypeName(ctx.dtype(3)), " but w is ", DTypeName(ctx.dtype(1)));
      CheckPerChannel(ctx.shape(3), p.out_channels, where_, "w_zero_point");
    }
    ctx.set_output(0, DType::kInt32, attrs_.OutputShape(p));
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    ConvQ8Params p = attrs_.Geometry(x.shape(), w.shape());
    if (x_zero_point_.present()) {
      CheckPerTensor(ctx.input(2).shape(), where_, "x_zero_point");
      p.x_zero_point = x_zero_point_.Read(ctx)[0];
    }
    if (w_zero_point_.present()) {
      CheckPerChannel(ctx.input(3).shape(), p.out_channels, where_, "w_zero_point");
      p.w_zero_point = w_zero_point_.Read(ctx);
    }
    Dispatch8(x.dtype(), where_, "x", [&](auto tx) {
      Dispatch8(w.dtype(), where_, "w", [&](auto tw) {
        using TX = typename decltype(tx)::type;
        using TW = typename decltype(tw)::type;
        ConvAccumulate<TX, TW>(p, x.data<TX>(), w.data<TW>(), ctx.output(0).data<int32_t>(), ctx.pool());
      });
    });
  }

 private:
  std::string where_;
  ConvAttributes attrs_;
  ZeroPointInput x_zero_point_, w_zero_point_;
};

// ------------------------------------------------------------------ matrix product


enum class Side { kRows, kColumns };  // a's parameters go per row, b's per column

// Where the parameters of each operand matrix start in a scale or zero-point
// tensor: one value for all (per tensor), one per row / column shared by all
// matrices ([L]), or one vector per matrix ([..., L, 1] for rows,
// [..., 1, L] for columns, leading dims equal to the operand's or 1).
struct ParamLayout {
  int64_t length = 1;            // values per matrix: 1 or L (rows of a, columns of b)
  std::vector<int64_t> offsets;  // per operand matrix; empty when every matrix starts at 0

  int64_t offset(int64_t matrix) const { return offsets.empty() ? 0 : offsets[matrix]; }
};

ParamLayout MatrixParamLayout(const Shape& p, const Shape& operand, Side side, const std::string& where,
                              const char* name) {
  ParamLayout l;
  if (IsPerTensor(p)) return l;
  Shape o = operand;
  if (o.size() == 1) side == Side::kRows ? (void)o.insert(o.begin(), 1) : o.push_back(1);
  const size_t r = o.size();
  const int64_t len = side == Side::kRows ? o[r - 2] : o[r - 1];
  l.length = len;
  if (p.size() == 1 && p[0] == len) return l;
  bool fits =
      p.size() == r && (side == Side::kRows ? p[r - 2] == len && p[r - 1] == 1 : p[r - 2] == 1 && p[r - 1] == len);
  for (size_t d = 0; fits && d + 2 < r; ++d) fits = p[d] == 1 || p[d] == o[d];
  if (!fits) {
    const char* per = side == Side::kRows ? "row" : "column";
    Shape full(o.begin(), o.end() - 2);
    full.push_back(side == Side::kRows ? len : 1);
    full.push_back(side == Side::kRows ? 1 : len);
    Fail(where, ": ", name, " has shape ", ShapeStr(p), " but its operand has shape ", ShapeStr(operand),
         "; expected one value (per tensor), [", len, "] (one per ", per, ") or ", ShapeStr(full));
  }
  const Shape p_batch(p.begin(), p.end() - 2), o_batch(o.begin(), o.end() - 2);
  if (ShapeNumel(p_batch) == 1) return l;
  std::vector<int64_t> st[1] = {BroadcastStrides(p_batch, o_batch)};
  l.offsets.resize(ShapeNumel(o_batch));
  ForEachBroadcast(o_batch, st, [&](int64_t i, const int64_t* idx) { l.offsets[i] = idx[0] * len; });
  return l;
}

// For each output matrix, which matrix of a and of b it multiplies.
std::vector<std::pair<int64_t, int64_t>> MatrixPairs(const MatMulGeometry& g) {
  std::vector<int64_t> st[2] = {BroadcastStrides(g.batch_a, g.batch), BroadcastStrides(g.batch_b, g.batch)};
  std::vector<std::pair<int64_t, int64_t>> pairs;
  ForEachBroadcast(g.batch, st, [&](int64_t, const int64_t* idx) { pairs.push_back({idx[0], idx[1]}); });
  return pairs;
}

// Calls fn(pair, first row, rows) over every (output matrix, block of rows), split over the pool.
template <class F>
void ForEachRowBlock(ThreadPool& pool, int64_t pairs, int64_t m, F&& fn) {
  pool.ParallelFor(pairs * m, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi;) {
      const int64_t pair = i / m, row = i % m;
      const int64_t rows = std::min(hi - i, m - row);
      fn(pair, row, rows);
      i += rows;
    }
  });
}

// The zero points of rows [row, row + rows) of one a matrix (or all columns of one b matrix).
std::vector<int32_t> Slice(const std::vector<int32_t>& v, const ParamLayout& l, int64_t matrix, int64_t first,
                           int64_t count) {
  if (v.empty()) return {};
  if (l.length == 1) return {v[l.offset(matrix)]};
  const int32_t* p = v.data() + l.offset(matrix) + first;
  return std::vector<int32_t>(p, p + count);
}

// int32 sums of one block of rows: acc[rows, n].
template <class TA, class TB>
void GemmBlock(const MatMulGeometry& g, const TA* a, const TB* b, const std::vector<int32_t>& a_zp,
               const ParamLayout& al, const std::vector<int32_t>& b_zp, const ParamLayout& bl,
               std::pair<int64_t, int64_t> mats, int64_t row, int64_t rows, int32_t* acc) {
  GemmQ8Params p;
  p.m = rows;
  p.n = g.n;
  p.k = g.k;
  p.a_zero_point = Slice(a_zp, al, mats.first, row, rows);
  p.b_zero_point = Slice(b_zp, bl, mats.second, 0, g.n);
  GemmQ8Int32Reference<TA, TB>(p, a + (mats.first * g.m + row) * g.k, b + mats.second * g.k * g.n, acc);
}

// MatMulInteger: A, B[, a_zero_point[, b_zero_point]] -> int32.
class MatMulIntegerKernel : public OpKernel {
 public:
  explicit MatMulIntegerKernel(const OpEnv& env)
      : where_(env.where()), a_zero_point_(env, 2, "a_zero_point"), b_zero_point_(env, 3, "b_zero_point") {
    tensor_ops::CheckArity(env, 2, 4);
    const std::optional<Shape> a = KnownShape(env, 0), b = KnownShape(env, 1);
    if (a && AllKnown(*a) && !a->empty() && a_zero_point_.known_shape() && AllKnown(*a_zero_point_.known_shape()))
      MatrixParamLayout(*a_zero_point_.known_shape(), *a, Side::kRows, where_, "a_zero_point");
    if (b && AllKnown(*b) && !b->empty() && b_zero_point_.known_shape() && AllKnown(*b_zero_point_.known_shape()))
      MatrixParamLayout(*b_zero_point_.known_shape(), *b, Side::kColumns, where_, "b_zero_point");
  }

  void Infer(InferContext& ctx) override {
    if (!Is8Bit(ctx.dtype(0))) ctx.Fail("A has type ", DTypeName(ctx.dtype(0)), "; expected int8 or uint8");
    if (!Is8Bit(ctx.dtype(1))) ctx.Fail("B has type ", DTypeName(ctx.dtype(1)), "; expected int8 or uint8");
    MatMulGeometry g;
    try {
      g = MatMulShapes(ctx.shape(0), ctx.shape(1));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    if (ctx.has_input(2)) {
      if (ctx.dtype(2) != ctx.dtype(0))
        ctx.Fail("a_zero_point has type ", DTypeName(ctx.dtype(2)), " but A is ", DTypeName(ctx.dtype(0)));
      MatrixParamLayout(ctx.shape(2), ctx.shape(0), Side::kRows, where_, "a_zero_point");
    }
    if (ctx.has_input(3)) {
      if (ctx.dtype(3) != ctx.dtype(1))
        ctx.Fail("b_zero_point has type ", DTypeName(ctx.dtype(3)), " but B is ", DTypeName(ctx.dtype(1)));
      MatrixParamLayout(ctx.shape(3), ctx.shape(1), Side::kColumns, where_, "b_zero_point");
    }
    ctx.set_output(0, DType::kInt32, g.out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const MatMulGeometry g = MatMulShapes(a.shape(), b.shape());
    ParamLayout al, bl;
    if (a_zero_point_.present())
      al = MatrixParamLayout(ctx.input(2).shape(), a.shape(), Side::kRows, where_, "a_zero_point");
    if (b_zero_point_.present())
      bl = MatrixParamLayout(ctx.input(3).shape(), b.shape(), Side::kColumns, where_, "b_zero_point");
    const std::vector<int32_t> a_zp = a_zero_point_.Read(ctx), b_zp = b_zero_point_.Read(ctx);
    const auto pairs = MatrixPairs(g);
    int32_t* y = ctx.output(0).data<int32_t>();
    Dispatch8(a.dtype(), where_, "A", [&](auto ta) {
      Dispatch8(b.dtype(), where_, "B", [&](auto tb) {
        using TA = typename decltype(ta)::type;
        using TB = typename decltype(tb)::type;
        ForEachRowBlock(ctx.pool(), static_cast<int64_t>(pairs.size()), g.m, [&](int64_t i, int64_t row, int64_t rows) {
          GemmBlock<TA, TB>(g, a.data<TA>(), b.data<TB>(), a_zp, al, b_zp, bl, pairs[i], row, rows,
                            y + (i * g.m + row) * g.n);
        });
      });
    });
  }

 private:
  std::string where_;
  ZeroPointInput a_zero_point_, b_zero_point_;
};

// QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
class QLinearMatMulKernel : public OpKernel {
 public:
  explicit QLinearMatMulKernel(const OpEnv& env)
      : where_(env.where()),
        a_scale_(env, 1, "a_scale"),
        b_scale_(env, 4, "b_scale"),
        y_scale_(env, 6, "y_scale"),
        a_zero_point_(env, 2, "a_zero_point"),
        b_zero_point_(env, 5, "b_zero_point"),
        y_zero_point_(env, 7, "y_zero_point") {
    tensor_ops::CheckArity(env, 8, 8);
    CheckSameShape(a_scale_, a_zero_point_, where_);
    CheckSameShape(b_scale_, b_zero_point_, where_);
    CheckSameShape(y_scale_, y_zero_point_, where_);
    if (y_scale_.known_shape()) CheckPerTensor(*y_scale_.known_shape(), where_, "y_scale");
    if (y_zero_point_.known_shape()) CheckPerTensor(*y_zero_point_.known_shape(), where_, "y_zero_point");
    const std::optional<Shape> a = KnownShape(env, 0), b = KnownShape(env, 3);
    if (a && AllKnown(*a) && !a->empty() && a_scale_.known_shape() && AllKnown(*a_scale_.known_shape()))
      MatrixParamLayout(*a_scale_.known_shape(), *a, Side::kRows, where_, "a_scale");
    if (b && AllKnown(*b) && !b->empty() && b_scale_.known_shape() && AllKnown(*b_scale_.known_shape()))
      MatrixParamLayout(*b_scale_.known_shape(), *b, Side::kColumns, where_, "b_scale");
  }

  void Infer(InferContext& ctx) override {
    if (!Is8Bit(ctx.dtype(0))) ctx.Fail("a has type ", DTypeName(ctx.dtype(0)), "; expected int8 or uint8");
    if (!Is8Bit(ctx.dtype(3))) ctx.Fail("b has type ", DTypeName(ctx.dtype(3)), "; expected int8 or uint8");
    if (!Is8Bit(ctx.dtype(7))) ctx.Fail("y_zero_point has type ", DTypeName(ctx.dtype(7)), "; expected int8 or uint8");
    if (ctx.dtype(2) != ctx.dtype(0))
      ctx.Fail("a_zero_point has type ", DTypeName(ctx.dtype(2)), " but a is ", DTypeName(ctx.dtype(0)));
    if (ctx.dtype(5) != ctx.dtype(3))
      ctx.Fail("b_zero_point has type ", DTypeName(ctx.dtype(5)), " but b is ", DTypeName(ctx.dtype(3)));
    const DType st = ctx.dtype(1);
    if (st != DType::kFloat32 && st != DType::kFloat16)
      ctx.Fail("a_scale has type ", DTypeName(st), "; expected float32 or float16");
    if (ctx.dtype(4) != st || ctx.dtype(6) != st) ctx.Fail("a_scale, b_scale and y_scale must have one type");
    MatMulGeometry g;
    try {
      g = MatMulShapes(ctx.shape(0), ctx.shape(3));
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    Layouts(ctx.shape(0), ctx.shape(3), ctx.shape(1), ctx.shape(2), ctx.shape(4), ctx.shape(5), ctx.shape(6),
            ctx.shape(7));
    ctx.set_output(0, ctx.dtype(7), g.out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    const MatMulGeometry g = MatMulShapes(a.shape(), b.shape());
    // Not a structured binding: clang 14 cannot capture those in the lambda below.
    const auto layouts =
        Layouts(a.shape(), b.shape(), ctx.input(1).shape(), ctx.input(2).shape(), ctx.input(4).shape(),
                ctx.input(5).shape(), ctx.input(6).shape(), ctx.input(7).shape());
    const auto& al = layouts.first;
    const auto& bl = layouts.second;
    const std::vector<float> a_scale = a_scale_.Read(ctx), b_scale = b_scale_.Read(ctx);
    const float y_scale = y_scale_.Read(ctx)[0];
    const std::vector<int32_t> a_zp = a_zero_point_.Read(ctx), b_zp = b_zero_point_.Read(ctx);
    const int32_t y_zp = y_zero_point_.Read(ctx)[0];
    for (float as : a_scale)  // fails before any work when a product of scales overflows
      for (float bs : b_scale) QLinearMultiplier(as, bs, y_scale, where_);
    const auto pairs = MatrixPairs(g);
    Tensor& y = ctx.output(0);
    Dispatch8(a.dtype(), where_, "a", [&](auto ta) {
      Dispatch8(b.dtype(), where_, "b", [&](auto tb) {
        Dispatch8(y.dtype(), where_, "y", [&](auto ty) {
          using TA = typename decltype(ta)::type;
          using TB = typename decltype(tb)::type;
          using TY = typename decltype(ty)::type;
          constexpr int32_t qmin = std::numeric_limits<TY>::min(), qmax = std::numeric_limits<TY>::max();
          TY* py = y.data<TY>();
          ForEachRowBlock(
              ctx.pool(), static_cast<int64_t>(pairs.size()), g.m, [&](int64_t i, int64_t row, int64_t rows) {
                std::vector<int32_t> acc(rows * g.n);
                GemmBlock<TA, TB>(g, a.data<TA>(), b.data<TB>(), a_zp, al, b_zp, bl, pairs[i], row, rows, acc.data());
                const float* as = a_scale.data() + al.offset(pairs[i].first);
                const float* bs = b_scale.data() + bl.offset(pairs[i].second);
                TY* out = py + (i * g.m + row) * g.n;
                for (int64_t r = 0; r < rows; ++r) {
                  const float ar = as[al.length == 1 ? 0 : row + r];
                  for (int64_t c = 0; c < g.n; ++c) {
                    const float mult = ar * bs[bl.length == 1 ? 0 : c] / y_scale;  // float32, as ONNX
                    out[r * g.n + c] = static_cast<TY>(RequantizeAsOnnx(acc[r * g.n + c], mult, y_zp, qmin, qmax));
                  }
                }
              });
        });
      });
    });
  }

 private:
  std::pair<ParamLayout, ParamLayout> Layouts(const Shape& a, const Shape& b, const Shape& as, const Shape& az,
                                              const Shape& bs, const Shape& bz, const Shape& ys,
                                              const Shape& yz) const {
    CheckSameShape(as, az, where_, "a_scale", "a_zero_point");
    CheckSameShape(bs, bz, where_, "b_scale", "b_zero_point");
    CheckSameShape(ys, yz, where_, "y_scale", "y_zero_point");
    CheckPerTensor(ys, where_, "y_scale");
    CheckPerTensor(yz, where_, "y_zero_point");
    return {MatrixParamLayout(as, a, Side::kRows, where_, "a_scale"),
            MatrixParamLayout(bs, b, Side::kColumns, where_, "b_scale")};
  }

  std::string where_;
  ScaleInput a_scale_, b_scale_, y_scale_;
  ZeroPointInput a_zero_point_, b_zero_point_, y_zero_point_;
};

}  // namespace

void RegisterQLinearOps(OpRegistry& r) {
  r.Add("QLinearConv", MakeFactory<QLinearConvKernel>());
  r.Add("ConvInteger", MakeFactory<ConvIntegerKernel>());
  r.Add("QLinearMatMul", MakeFactory<QLinearMatMulKernel>());
  r.Add("MatMulInteger", MakeFactory<MatMulIntegerKernel>());
}

}  // namespace nibble::onnx_quant
