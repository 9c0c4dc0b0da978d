// Runs a generic lambda with the C++ type matching a DType:
//   DispatchNumeric(t, where, [&](auto tag) { using T = typename decltype(tag)::type; ... });
#pragma once
#include <cstdint>

#include "nibble/dtype.h"
#include "nibble/error.h"

namespace nibble {

template <class T>
struct TypeTag {
  using type = T;
};

template <class F>
void DispatchFloat(DType t, const std::string& where, F&& f) {
  switch (t) {
    case DType::kFloat32: return f(TypeTag<float>{});
    case DType::kFloat64: return f(TypeTag<double>{});
    default: Fail(where, ": element type ", DTypeName(t), " is not supported (expected float32 or float64)");
  }
}

template <class F>
void DispatchNumeric(DType t, const std::string& where, F&& f) {
  switch (t) {
    case DType::kFloat32: return f(TypeTag<float>{});
    case DType::kFloat64: return f(TypeTag<double>{});
    case DType::kInt8: return f(TypeTag<int8_t>{});
    case DType::kUInt8: return f(TypeTag<uint8_t>{});
    case DType::kInt16: return f(TypeTag<int16_t>{});
    case DType::kUInt16: return f(TypeTag<uint16_t>{});
    case DType::kInt32: return f(TypeTag<int32_t>{});
    case DType::kUInt32: return f(TypeTag<uint32_t>{});
    case DType::kInt64: return f(TypeTag<int64_t>{});
    case DType::kUInt64: return f(TypeTag<uint64_t>{});
    default: Fail(where, ": element type ", DTypeName(t), " is not supported here");
  }
}

// Any type, bool included, for ops that only move data.
template <class F>
void DispatchAny(DType t, const std::string& where, F&& f) {
  if (t == DType::kBool) return f(TypeTag<bool>{});
  if (t == DType::kFloat16) return f(TypeTag<uint16_t>{});  // moved as bit patterns
  DispatchNumeric(t, where, f);
}

}  // namespace nibble
