// A dense, row-major tensor: dtype, shape and a buffer that is either owned
// (shared, so copies are cheap views of one allocation) or borrowed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nibble/dtype.h"
#include "nibble/error.h"

namespace nibble {

using Shape = std::vector<int64_t>;

// Number of elements; fails (instead of overflowing) past 2^62 elements.
int64_t ShapeNumel(const Shape& s);
std::string ShapeStr(const Shape& s);

class Tensor {
 public:
  Tensor() = default;
  // Allocates a zero-filled buffer of the shape's size.
  Tensor(DType dtype, Shape shape);
  // A view over memory the caller keeps alive.
  static Tensor Borrow(DType dtype, Shape shape, void* data);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * DTypeSize(dtype_); }
  bool empty() const { return dtype_ == DType::kUndefined; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <class T> T* data() { CheckType(DTypeOf<T>()); return static_cast<T*>(data_); }
  template <class T> const T* data() const { CheckType(DTypeOf<T>()); return static_cast<const T*>(data_); }

  // Same buffer, new shape of the same element count.
  Tensor Reshaped(Shape shape) const;
  // A deep copy with its own buffer.
  Tensor Clone() const;
  // Element i converted to double / int64 whatever the dtype (for shape math and tests).
  double AsDouble(int64_t i) const;
  int64_t AsInt64(int64_t i) const;
  std::vector<int64_t> ToInt64Vector() const;

 private:
  void CheckType(DType want) const;
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<uint8_t[]> owner_;
  void* data_ = nullptr;
};

}  // namespace nibble
