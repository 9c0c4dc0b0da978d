// TensorProto <-> Tensor, with every size field checked against the bytes
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

}  // namespace nibble
