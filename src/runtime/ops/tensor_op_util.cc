#include "runtime/ops/tensor_op_util.h"

#include <algorithm>
#include <cstring>

#include "kernels/reference/float16.h"

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

bool IsNumeric(DType t) { return t != DType::kBool && t != DType::kFloat16 && t != DType::kUndefined; }

}  // namespace nibble::tensor_ops
