// The one hand-edited list of operator families nibble runs.
#include "runtime/op_registry.h"

namespace nibble {

void RegisterElementwiseBinaryOps(OpRegistry& r);
void RegisterElementwiseUnaryOps(OpRegistry& r);
void RegisterConvOps(OpRegistry& r);
void RegisterGemmOps(OpRegistry& r);
void RegisterTensorOps(OpRegistry& r);  // shape and data-movement ops
void RegisterNnOps(OpRegistry& r);
void RegisterQuantizedElementwiseOps(OpRegistry& r);  // integer Add/Mul/LUT/pool/Concat over quantized codes
void RegisterQuantOps(OpRegistry& r);   // ONNX quantization ops: Q/DQ, QLinearConv/MatMul, *Integer
void RegisterQonnxOps(OpRegistry& r);   // QONNX Quant, BipolarQuant, Trunc (float reference kernels)
void RegisterMultiThreshold(OpRegistry& r);  // QONNX MultiThreshold (FINN), float

void RegisterAllOps(OpRegistry& r) {
  RegisterElementwiseBinaryOps(r);
  RegisterElementwiseUnaryOps(r);
  RegisterConvOps(r);
  RegisterGemmOps(r);
  RegisterTensorOps(r);
  RegisterNnOps(r);
  RegisterQuantizedElementwiseOps(r);
  RegisterQuantOps(r);
  RegisterQonnxOps(r);
  RegisterMultiThreshold(r);
}

}  // namespace nibble
