#include "nibble/tensor.h"

#include <cstring>

#include "base/float16.h"
#include "base/limits.h"

namespace nibble {

int64_t ShapeNumel(const Shape& s) {
  NIBBLE_CHECK(static_cast<int64_t>(s.size()) <= kMaxRank, "rank ", s.size(), " exceeds the limit of ", kMaxRank);
  int64_t n = 1;
  for (int64_t d : s) {
    NIBBLE_CHECK(d >= 0, "negative dimension in shape ", ShapeStr(s));
    n = CheckedMul(n, d, "tensor element count");
  }
  NIBBLE_CHECK(n <= (int64_t{1} << 62), "tensor of shape ", ShapeStr(s), " is too large");
  return n;
}

std::string ShapeStr(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ",";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = ShapeNumel(shape_);
  int64_t bytes = CheckedMul(numel_, static_cast<int64_t>(DTypeSize(dtype_)), "tensor byte size");
  NIBBLE_CHECK(bytes <= MaxTensorBytes(), "tensor of shape ", ShapeStr(shape_), " (", DTypeName(dtype_), ") needs ",
               bytes, " bytes, over the limit of ", MaxTensorBytes(), " (NIBBLE_MAX_TENSOR_BYTES)");
  // 64-byte alignment so vector kernels can use aligned loads on any tensor.
  size_t alloc = (static_cast<size_t>(bytes) + 63) / 64 * 64 + 64;
  owner_ = std::shared_ptr<uint8_t[]>(new uint8_t[alloc]);
  std::memset(owner_.get(), 0, alloc);
  uintptr_t p = reinterpret_cast<uintptr_t>(owner_.get());
  data_ = reinterpret_cast<void*>((p + 63) & ~uintptr_t{63});
}

Tensor Tensor::Borrow(DType dtype, Shape shape, void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = ShapeNumel(t.shape_);
  t.data_ = data;
  return t;
}

Tensor Tensor::Reshaped(Shape shape) const {
  Tensor t = *this;
  int64_t n = ShapeNumel(shape);
  NIBBLE_CHECK(n == numel_, "cannot reshape ", ShapeStr(shape_), " to ", ShapeStr(shape));
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

void Tensor::CheckType(DType want) const {
  // float16 tensors are handed to kernels as their uint16 bit patterns.
  if (want == DType::kUInt16 && dtype_ == DType::kFloat16) return;
  NIBBLE_CHECK(want == dtype_, "tensor holds ", DTypeName(dtype_), ", accessed as ", DTypeName(want));
}

double Tensor::AsDouble(int64_t i) const {
  switch (dtype_) {
    case DType::kFloat32: return static_cast<const float*>(data_)[i];
    case DType::kFloat64: return static_cast<const double*>(data_)[i];
    case DType::kInt8: return static_cast<const int8_t*>(data_)[i];
    case DType::kUInt8: return static_cast<const uint8_t*>(data_)[i];
    case DType::kInt16: return static_cast<const int16_t*>(data_)[i];
    case DType::kUInt16: return static_cast<const uint16_t*>(data_)[i];
    case DType::kInt32: return static_cast<const int32_t*>(data_)[i];
    case DType::kUInt32: return static_cast<const uint32_t*>(data_)[i];
    case DType::kInt64: return static_cast<double>(static_cast<const int64_t*>(data_)[i]);
    case DType::kUInt64: return static_cast<double>(static_cast<const uint64_t*>(data_)[i]);
    case DType::kBool: return static_cast<const bool*>(data_)[i];
    case DType::kFloat16: return HalfBitsToFloat(static_cast<const uint16_t*>(data_)[i]);
    default: Fail("cannot read ", DTypeName(dtype_), " as a number");
  }
}

int64_t Tensor::AsInt64(int64_t i) const {
  switch (dtype_) {
    case DType::kInt64: return static_cast<const int64_t*>(data_)[i];
    case DType::kUInt64: return static_cast<int64_t>(static_cast<const uint64_t*>(data_)[i]);
    case DType::kFloat32:
    case DType::kFloat64: return static_cast<int64_t>(AsDouble(i));
    default: return static_cast<int64_t>(AsDouble(i));
  }
}

std::vector<int64_t> Tensor::ToInt64Vector() const {
  std::vector<int64_t> v(numel_);
  for (int64_t i = 0; i < numel_; ++i) v[i] = AsInt64(i);
  return v;
}

}  // namespace nibble
