// TensorProto <-> Tensor. Reading checks every size field against the bytes
// actually present before anything is allocated.
#pragma once
#include <string>

#include <onnx/onnx_pb.h>

#include "nibble/tensor.h"

namespace nibble {

// ONNX TensorProto.DataType -> DType; kUndefined when nibble cannot hold it.
DType DTypeFromOnnx(int onnx_type);
int DTypeToOnnx(DType t);
const char* OnnxTypeName(int onnx_type);

// `what` names the tensor in errors (file and initializer/node); `model_dir`
// is where external data may live ("" means external data is refused).
Tensor TensorFromProto(const onnx::TensorProto& p, const std::string& what, const std::string& model_dir);

// Tensor -> TensorProto (dims, data type, little-endian raw_data; float16 as
// its bit patterns). The name and data location are left to the caller.
void TensorToProto(const Tensor& t, onnx::TensorProto* p);
// int8 codes as ONNX INT4 (uint8 as UINT4), two per byte, element 0 in the low
// nibble. Fails when a code does not fit in 4 bits.
void Int4ToProto(const Tensor& t, onnx::TensorProto* p, const std::string& what);
// The tensor's bytes in the order raw_data and external data files hold them
// (little-endian), appended to `out`.
void AppendTensorBytesLE(const Tensor& t, std::string* out);

}  // namespace nibble
