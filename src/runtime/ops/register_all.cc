// The one hand-edited list of operator families nibble runs.
#include "runtime/op_registry.h"

namespace nibble {

void RegisterElementwiseBinaryOps(OpRegistry& r);
void RegisterElementwiseUnaryOps(OpRegistry& r);
void RegisterConvOps(OpRegistry& r);
void RegisterGemmOps(OpRegistry& r);
void RegisterTensorOps(OpRegistry& r);  // shape and data-movement ops
void RegisterNnOps(OpRegistry& r);      // pooling, normalization, softmax, reduce, resize, ConvTranspose

void RegisterAllOps(OpRegistry& r) {
  RegisterElementwiseBinaryOps(r);
  RegisterElementwiseUnaryOps(r);
  RegisterConvOps(r);
  RegisterGemmOps(r);
  RegisterTensorOps(r);
  RegisterNnOps(r);
}

}  // namespace nibble
