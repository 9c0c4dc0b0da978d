// Helpers shared by the shape and data-movement ops (see register_tensor_ops.cc).
// They live in their own namespace so they never collide with other op families.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/op.h"

namespace nibble::tensor_ops {

// axis in [-rank, rank) -> [0, rank), or fails: "<where>: <what> 5 is out of range for rank 3".
int64_t NormalizeAxis(int64_t axis, int64_t rank, const std::string& where, const char* what = "axis");
// Each axis normalized; fails on a repeated axis.
std::vector<int64_t> NormalizeAxes(const std::vector<int64_t>& axes, int64_t rank, const std::string& where,
                                   const char* what = "axes");

// The contents of an int32/int64 tensor of rank 0 or 1 (e.g. a shape, axes or
// pads input) as int64s; fails naming `what` for other types or ranks.
std::vector<int64_t> ReadIntList(const Tensor& t, const std::string& where, const char* what);

// Copies a tensor's bytes to an output of the same size (a no-op when they share memory).
void CopyBytes(const Tensor& in, Tensor& out, const std::string& where);

// Calls f(TypeTag<U>{}) with the unsigned integer type of the given element
// size: for ops that move elements without looking at them.
template <class F>
void DispatchBySize(size_t size, const std::string& where, F&& f);

// Fails unless the node has min_in..max_in inputs, the first min_in of them
// given, and min_out..max_out outputs (-1: no upper bound).
void CheckArity(const OpEnv& env, int min_in, int max_in, int min_out = 1, int max_out = 1);
// For variadic ops whose inputs are all required.
void CheckNoEmptyInputs(const OpEnv& env);

// Runs a kernel constructor's attribute parsing so that errors name the node.
template <class F>
void ParseAttributes(const OpEnv& env, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.find(env.where()) == std::string::npos) Fail(env.where(), ": ", msg);
    throw;
  }
}

// float16 tensors are computed on as float32: decode before, encode after.
Tensor Float16ToFloat32(const Tensor& t);
void StoreAsFloat16(const Tensor& f32, Tensor& out);

// ctx.set_output for shapes computed from input values (Range, Expand, Pad, ...):
// a rank, element count or byte size past nibble's limits fails here, naming
// the node, instead of later at allocation.
void SetValueDerivedOutput(InferContext& ctx, int i, DType t, Shape s);

// Element type checks for Infer, with ONNX-style wording.
bool IsNumeric(DType t);  // every type but bool, float16 and undefined

}  // namespace nibble::tensor_ops

#include "runtime/ops/dispatch.h"

namespace nibble::tensor_ops {

template <class F>
void DispatchBySize(size_t size, const std::string& where, F&& f) {
  switch (size) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    case 4: return f(TypeTag<uint32_t>{});
    case 8: return f(TypeTag<uint64_t>{});
    default: Fail(where, ": elements of ", size, " bytes are not supported");
  }
}

}  // namespace nibble::tensor_ops
