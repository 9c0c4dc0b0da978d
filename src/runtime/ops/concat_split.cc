// Concat and Split along one axis. Viewed as [outer, axis, inner], each
// input (or output) owns a contiguous run of every outer row.
#include <cstring>
#include <optional>

#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

int64_t Prod(const Shape& s, size_t lo, size_t hi) {
  int64_t p = 1;
  for (size_t i = lo; i < hi; ++i) p *= s[i];
  return p;
}

class ConcatKernel : public OpKernel {
 public:
  explicit ConcatKernel(const OpEnv& env) : where_(env.where()) {
    CheckArity(env, 1, -1);
    CheckNoEmptyInputs(env);
    ParseAttributes(env, [&] {
      NIBBLE_CHECK(env.node.attrs.Has("axis"), "the 'axis' attribute is required");
      axis_ = env.node.attrs.GetInt("axis", 0);
    });
  }

  void Infer(InferContext& ctx) override {
    if (ctx.num_inputs() == 0) ctx.Fail("needs at least one input");
    const Shape& first = ctx.shape(0);
    const int64_t r = static_cast<int64_t>(first.size());
    if (r == 0) ctx.Fail("cannot concatenate scalars");
    const int64_t axis = NormalizeAxis(axis_, r, where_);
    Shape out = first;
    out[axis] = 0;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      const Shape& s = ctx.shape(i);
      if (ctx.dtype(i) != ctx.dtype(0))
        ctx.Fail("input ", i, " is ", DTypeName(ctx.dtype(i)), " but input 0 is ", DTypeName(ctx.dtype(0)));
      bool ok = s.size() == first.size();
      for (int64_t d = 0; ok && d < r; ++d) ok = d == axis || s[d] == first[d];
      if (!ok)
        ctx.Fail("input ", i, " has shape ", ShapeStr(s), ", which does not match input 0 ", ShapeStr(first),
                 " outside axis ", axis);
      if (s[axis] > (int64_t{1} << 62) - out[axis]) ctx.Fail("the concatenated axis is too large");
      out[axis] += s[axis];
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void Run(RunContext& ctx) override {
    Tensor& y = ctx.output(0);
    const int64_t axis = NormalizeAxis(axis_, y.rank(), where_);
    const size_t esize = DTypeSize(y.dtype());
    const int64_t outer = Prod(y.shape(), 0, axis);
    const size_t out_row = static_cast<size_t>(Prod(y.shape(), axis, y.rank())) * esize;
    uint8_t* dst = static_cast<uint8_t*>(y.raw());
    size_t offset = 0;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& x = ctx.input(i);
      const size_t row = static_cast<size_t>(Prod(x.shape(), axis, x.rank())) * esize;
      if (offset + row > out_row || x.nbytes() != outer * row)
        Fail(where_, ": input ", i, " ", ShapeStr(x.shape()), " does not fit the output ", ShapeStr(y.shape()));
      const uint8_t* src = static_cast<const uint8_t*>(x.raw());
      for (int64_t o = 0; o < outer && row; ++o) std::memcpy(dst + o * out_row + offset, src + o * row, row);
      offset += row;
    }
  }

 private:
  std::string where_;
  int64_t axis_ = 0;
};

// Split: sizes from the 'split' attribute (opset < 13) or input (13+), else
// num_outputs (18+, the last part may be smaller) or equal parts.
class SplitKernel : public OpKernel {
 public:
  explicit SplitKernel(const OpEnv& env) : where_(env.where()), opset_(env.opset) {
    CheckArity(env, 1, opset_ >= 13 ? 2 : 1, 1, -1);
    ParseAttributes(env, [&] {
      const Attributes& a = env.node.attrs;
      axis_ = a.GetInt("axis", 0);
      if (opset_ < 13 && a.Has("split")) split_attr_ = a.GetInts("split");
      if (opset_ >= 18 && a.Has("num_outputs")) {
        num_outputs_ = a.GetInt("num_outputs", 0);
        NIBBLE_CHECK(*num_outputs_ >= 1, "num_outputs must be at least 1, got ", *num_outputs_);
        NIBBLE_CHECK(*num_outputs_ == static_cast<int64_t>(env.node.outputs.size()), "num_outputs is ", *num_outputs_,
                     " but the node has ", env.node.outputs.size(), " outputs");
      }
    });
  }

  void Infer(InferContext& ctx) override {
    const Shape& in = ctx.shape(0);
    std::optional<std::vector<int64_t>> given = split_attr_;
    if (opset_ >= 13 && ctx.has_input(1)) {
      if (num_outputs_) ctx.Fail("give either the 'split' input or the 'num_outputs' attribute, not both");
      given = ReadIntList(ctx.value(1), where_, "split");
    }
    std::vector<int64_t> sizes = Sizes(in, given, ctx.num_outputs());
    const int64_t axis = NormalizeAxis(axis_, static_cast<int64_t>(in.size()), where_);
    for (int i = 0; i < ctx.num_outputs(); ++i) {
      if (!ctx.has_output(i)) continue;
      Shape s = in;
      s[axis] = sizes[i];
      ctx.set_output(i, ctx.dtype(0), s);
    }
  }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const int64_t axis = NormalizeAxis(axis_, x.rank(), where_);
    const size_t esize = DTypeSize(x.dtype());
    const int64_t outer = Prod(x.shape(), 0, axis);
    const int64_t inner = Prod(x.shape(), axis + 1, x.rank());
    const size_t in_row = static_cast<size_t>(x.dim(axis) * inner) * esize;
    std::optional<std::vector<int64_t>> given = split_attr_;
    if (opset_ >= 13 && ctx.has_input(1)) given = ReadIntList(ctx.input(1), where_, "split");
    const std::vector<int64_t> sizes = Sizes(x.shape(), given, ctx.num_outputs());
    const uint8_t* src = static_cast<const uint8_t*>(x.raw());
    size_t offset = 0;
    for (int i = 0; i < ctx.num_outputs(); ++i) {
      const size_t row = static_cast<size_t>(sizes[i] * inner) * esize;
      if (offset + row > in_row) Fail(where_, ": outputs exceed the input");
      if (ctx.has_output(i)) {
        if (ctx.output(i).nbytes() != outer * row) Fail(where_, ": output ", i, " has an unexpected size");
        uint8_t* dst = static_cast<uint8_t*>(ctx.output(i).raw());
        for (int64_t o = 0; o < outer && row; ++o) std::memcpy(dst + o * row, src + o * in_row + offset, row);
      }
      offset += row;
    }
  }

 private:
  std::vector<int64_t> Sizes(const Shape& in, const std::optional<std::vector<int64_t>>& given, int n) const {
    const int64_t axis = NormalizeAxis(axis_, static_cast<int64_t>(in.size()), where_);
    const int64_t dim = in[axis];
    std::vector<int64_t> sizes;
    if (given) {
      sizes = *given;
      if (static_cast<int>(sizes.size()) != n)
        Fail(where_, ": split ", ShapeStr(sizes), " has ", sizes.size(), " entries for ", n, " outputs");
      int64_t sum = 0;
      for (int64_t s : sizes) {
        if (s < 0) Fail(where_, ": split ", ShapeStr(sizes), " has a negative size");
        sum += s;
      }
      if (sum != dim) Fail(where_, ": split ", ShapeStr(sizes), " sums to ", sum, ", but axis ", axis, " has size ", dim);
    } else if (num_outputs_) {
      const int64_t chunk = (dim + n - 1) / n;
      const int64_t last = dim - chunk * (n - 1);
      if (last < 0) Fail(where_, ": axis ", axis, " of size ", dim, " cannot be split into ", n, " parts of ", chunk);
      sizes.assign(n, chunk);
      sizes.back() = last;
    } else {
      if (dim % n != 0) Fail(where_, ": axis ", axis, " of size ", dim, " does not split into ", n, " equal parts");
      sizes.assign(n, dim / n);
    }
    return sizes;
  }

  std::string where_;
  int64_t opset_;
  int64_t axis_ = 0;
  std::optional<std::vector<int64_t>> split_attr_;
  std::optional<int64_t> num_outputs_;
};

}  // namespace

void RegisterConcatSplitOps(OpRegistry& r) {
  r.Add("Concat", MakeFactory<ConcatKernel>());
  r.Add("Split", MakeFactory<SplitKernel>());
}

}  // namespace nibble
