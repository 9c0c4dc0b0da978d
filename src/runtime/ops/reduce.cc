// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceSumSquare, ReduceLogSum, ReduceLogSumExp.
// `axes` is an attribute before opset 18 (13 for ReduceSum) and an optional
// input after; no axes means all axes, unless noop_with_empty_axes (input form
// only) makes the op an identity. Reductions whose reduced dims are adjacent
// (after merging neighbours and dropping 1s) take the row-accumulating path;
// the rest walk the reference odometer.
#include <algorithm>
#include <cstring>

#include "kernels/reference/reduce_f32.h"
#include "runtime/op_registry.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

bool IsFloat(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

struct ReducePlan {
  bool noop = false;
  std::vector<bool> reduce;  // per input dim
  Shape out;
};

class ReduceKernel : public OpKernel {
 public:
  ReduceKernel(const OpEnv& env, ReduceKind kind, const char* name) : where_(env.where()), kind_(kind) {
    const Attributes& a = env.node.attrs;
    keepdims_ = a.GetInt("keepdims", 1) != 0;
    const int64_t input_since = kind == ReduceKind::kSum ? 13 : 18;
    axes_from_input_ = env.opset >= input_since;
    if (axes_from_input_) {
      NIBBLE_CHECK(!a.Has("axes"), where_, ": ", name, " takes axes as an input (not an attribute) from opset ",
                   input_since, "; this model imports opset ", env.opset);
      noop_with_empty_axes_ = a.GetInt("noop_with_empty_axes", 0) != 0;
    } else {
      axes_attr_ = a.GetInts("axes");
    }
  }

  void Infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    bool ok;
    switch (kind_) {
      case ReduceKind::kMax:
      case ReduceKind::kMin: ok = t != DType::kFloat16 && t != DType::kUndefined; break;
      case ReduceKind::kL2:
      case ReduceKind::kLogSum:
      case ReduceKind::kLogSumExp: ok = IsFloat(t); break;
      default: ok = t != DType::kFloat16 && t != DType::kBool && t != DType::kUndefined;
    }
    if (!ok) ctx.Fail("element type ", DTypeName(t), " is not supported");
    std::vector<int64_t> axes;
    if (axes_from_input_ && ctx.has_input(1)) {
      if (ctx.dtype(1) != DType::kInt64) ctx.Fail("axes must be int64, got ", DTypeName(ctx.dtype(1)));
      if (ctx.shape(1).size() != 1) ctx.Fail("axes must be 1-D, got shape ", ShapeStr(ctx.shape(1)));
      if (ShapeNumel(ctx.shape(1)) > 0) axes = ctx.value(1).ToInt64Vector();
    } else {
      axes = axes_attr_;
    }
    ReducePlan p;
    try {
      p = Plan(ctx.shape(0), axes);
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
    ctx.set_output(0, t, p.out);
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    std::vector<int64_t> axes = axes_attr_;
    if (axes_from_input_ && ctx.has_input(1)) axes = ctx.input(1).ToInt64Vector();
    ReducePlan p = Plan(x.shape(), axes);
    if (p.noop) {
      if (x.nbytes()) std::memcpy(y.raw(), x.raw(), x.nbytes());
      return;
    }
    // Merge neighbouring dims that are both kept or both reduced; 1s do not matter.
    std::vector<std::pair<int64_t, bool>> seg;
    for (size_t d = 0; d < x.shape().size(); ++d) {
      if (x.dim(d) == 1) continue;
      if (!seg.empty() && seg.back().second == p.reduce[d]) seg.back().first *= x.dim(d);
      else seg.push_back({x.dim(d), p.reduce[d]});
    }
    int64_t outer = 1, n = 1, inner = 1;
    bool simple = true;
    size_t i = 0;
    if (i < seg.size() && !seg[i].second) outer = seg[i++].first;
    if (i < seg.size() && seg[i].second) n = seg[i++].first;
    if (i < seg.size() && !seg[i].second) inner = seg[i++].first;
    simple = i == seg.size();

    DispatchAny(x.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = y.data<T>();
      ThreadPool& pool = ctx.pool();
      if (!simple) {
        const int64_t per = std::max<int64_t>(1, x.numel() / std::max<int64_t>(1, y.numel()));
        pool.ParallelFor(y.numel(), [&](int64_t lo, int64_t hi) {
          ReduceReference(kind_, x.shape(), p.reduce, px, py, lo, hi);
        }, std::max<int64_t>(1, (1 << 14) / per));
        return;
      }
      const int64_t row = std::max<int64_t>(1, n * inner);
      if (outer >= pool.num_threads() || inner == 1) {
        pool.ParallelFor(outer, [&](int64_t lo, int64_t hi) {
          ReduceOuterInner(kind_, px, py, n, inner, lo, hi, 0, inner);
        }, std::max<int64_t>(1, (1 << 14) / row));
      } else {
        pool.ParallelFor(inner, [&](int64_t lo, int64_t hi) {
          ReduceOuterInner(kind_, px, py, n, inner, 0, outer, lo, hi);
        }, std::max<int64_t>(16, (1 << 14) / std::max<int64_t>(1, n * outer)));
      }
    });
  }

 private:
  ReducePlan Plan(const Shape& s, const std::vector<int64_t>& axes) const {
    const int64_t r = static_cast<int64_t>(s.size());
    ReducePlan p;
    if (axes.empty() && noop_with_empty_axes_) {
      p.noop = true;
      p.out = s;
      return p;
    }
    p.reduce.assign(r, axes.empty());
    for (int64_t a : axes) {
      int64_t d = a < 0 ? a + r : a;
      if (d < 0 || d >= r) Fail("axis ", a, " is out of range for rank ", r);
      if (p.reduce[d]) Fail("axis ", a, " is listed twice");
      p.reduce[d] = true;
    }
    for (int64_t d = 0; d < r; ++d) {
      if (!p.reduce[d]) p.out.push_back(s[d]);
      else if (keepdims_) p.out.push_back(1);
    }
    return p;
  }

  std::string where_;
  ReduceKind kind_;
  bool keepdims_ = true;
  bool axes_from_input_ = false;
  bool noop_with_empty_axes_ = false;
  std::vector<int64_t> axes_attr_;
};

template <ReduceKind kind>
OpFactory Reduce(const char* name) {
  return [name](const OpEnv& env) -> std::unique_ptr<OpKernel> {
    return std::make_unique<ReduceKernel>(env, kind, name);
  };
}

}  // namespace

void RegisterReduceOps(OpRegistry& r) {
  r.Add("ReduceSum", Reduce<ReduceKind::kSum>("ReduceSum"));
  r.Add("ReduceMean", Reduce<ReduceKind::kMean>("ReduceMean"));
  r.Add("ReduceMax", Reduce<ReduceKind::kMax>("ReduceMax"));
  r.Add("ReduceMin", Reduce<ReduceKind::kMin>("ReduceMin"));
  r.Add("ReduceProd", Reduce<ReduceKind::kProd>("ReduceProd"));
  r.Add("ReduceL1", Reduce<ReduceKind::kL1>("ReduceL1"));
  r.Add("ReduceL2", Reduce<ReduceKind::kL2>("ReduceL2"));
  r.Add("ReduceSumSquare", Reduce<ReduceKind::kSumSquare>("ReduceSumSquare"));
  r.Add("ReduceLogSum", Reduce<ReduceKind::kLogSum>("ReduceLogSum"));
  r.Add("ReduceLogSumExp", Reduce<ReduceKind::kLogSumExp>("ReduceLogSumExp"));
}

}  // namespace nibble
