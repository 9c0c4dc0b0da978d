#include "runtime/ops/tensor_op_util.h"

#include <algorithm>
#include <cstring>

#include "base/limits.h"
#include "base/float16.h"

namespace nibble::tensor_ops {

int64_t NormalizeAxis(int64_t axis, int64_t rank, const std::string& where, const char* what) {
  if (axis < -rank || axis >= rank)
    Fail(where, ": ", what, " ", axis, " is out of range for an input of rank ", rank, " (expected ", -rank, " to ",
         rank - 1, ")");
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> NormalizeAxes(const std::vector<int64_t>& axes, int64_t rank, const std::string& where,
                                   const char* what) {
  std::vector<int64_t> r;
  for (int64_t a : axes) {
    int64_t n = NormalizeAxis(a, rank, where, what);
    if (std::find(r.begin(), r.end(), n) != r.end()) Fail(where, ": ", what, " lists axis ", a, " more than once");
    r.push_back(n);
  }
  return r;
}

std::vector<int64_t> ReadIntList(const Tensor& t, const std::string& where, const char* what) {
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)
    Fail(where, ": ", what, " must be int64 (or int32), got ", DTypeName(t.dtype()));
  if (t.rank() > 1) Fail(where, ": ", what, " must be a 1-D tensor, got shape ", ShapeStr(t.shape()));
  std::vector<int64_t> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i)
    v[i] = t.dtype() == DType::kInt64 ? t.data<int64_t>()[i] : t.data<int32_t>()[i];
  return v;
}

void CheckArity(const OpEnv& env, int min_in, int max_in, int min_out, int max_out) {
  const int n_in = static_cast<int>(env.node.inputs.size());
  const int n_out = static_cast<int>(env.node.outputs.size());
  auto range = [](int lo, int hi) { return hi < 0 ? Cat(lo, " or more") : lo == hi ? Cat(lo) : Cat(lo, " to ", hi); };
  if (n_in < min_in || (max_in >= 0 && n_in > max_in))
    Fail(env.where(), ": has ", n_in, " inputs, expected ", range(min_in, max_in), " (opset ", env.opset, ")");
  for (int i = 0; i < min_in; ++i)
    if (env.node.inputs[i] < 0) Fail(env.where(), ": input ", i, " is required but was left empty");
  if (n_out < min_out || (max_out >= 0 && n_out > max_out))
    Fail(env.where(), ": has ", n_out, " outputs, expected ", range(min_out, max_out));
}

void CheckNoEmptyInputs(const OpEnv& env) {
  for (size_t i = 0; i < env.node.inputs.size(); ++i)
    if (env.node.inputs[i] < 0) Fail(env.where(), ": input ", i, " is required but was left empty");
}

void CopyBytes(const Tensor& in, Tensor& out, const std::string& where) {
  if (in.nbytes() != out.nbytes())
    Fail(where, ": output of ", out.nbytes(), " bytes cannot hold input of ", in.nbytes(), " bytes (shape ",
         ShapeStr(in.shape()), " vs ", ShapeStr(out.shape()), ")");
  if (in.raw() != out.raw() && in.nbytes()) std::memmove(out.raw(), in.raw(), in.nbytes());
}

Tensor Float16ToFloat32(const Tensor& t) {
  Tensor f(DType::kFloat32, t.shape());
  const uint16_t* h = static_cast<const uint16_t*>(t.raw());
  float* p = f.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = HalfBitsToFloat(h[i]);
  return f;
}

void StoreAsFloat16(const Tensor& f32, Tensor& out) {
  const float* p = f32.data<float>();
  uint16_t* h = static_cast<uint16_t*>(out.raw());
  for (int64_t i = 0; i < f32.numel(); ++i) h[i] = DoubleToHalfBits(p[i]);
}

void SetValueDerivedOutput(InferContext& ctx, int i, DType t, Shape s) {
  if (static_cast<int64_t>(s.size()) > kMaxRank)
    ctx.Fail("output rank ", s.size(), " exceeds the limit of ", kMaxRank);
  int64_t numel = 1;
  for (int64_t d : s) {
    if (d < 0) ctx.Fail("output shape ", ShapeStr(s), " has a negative dimension");
    if (d != 0 && numel > MaxTensorBytes() / d) numel = MaxTensorBytes() + 1;  // saturate: too big either way
    else numel *= d;
  }
  if (numel > MaxTensorBytes() / static_cast<int64_t>(DTypeSize(t)))
    ctx.Fail("output of shape ", ShapeStr(s), " (", DTypeName(t), ") is over the tensor size limit of ",
             MaxTensorBytes(), " bytes (NIBBLE_MAX_TENSOR_BYTES)");
  ctx.set_output(i, t, std::move(s));
}

bool IsNumeric(DType t) { return t != DType::kBool && t != DType::kFloat16 && t != DType::kUndefined; }

}  // namespace nibble::tensor_ops
