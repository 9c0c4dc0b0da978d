// Neural-network operator families: pooling, normalization, softmax,
// reductions, resize and ConvTranspose.
#include "runtime/op_registry.h"

namespace nibble {

void RegisterPoolOps(OpRegistry& r);           // pool.cc
void RegisterBatchNormOps(OpRegistry& r);      // batchnorm.cc
void RegisterNormalizationOps(OpRegistry& r);  // layernorm.cc: LayerNormalization, InstanceNormalization
void RegisterSoftmaxOps(OpRegistry& r);        // softmax.cc: Softmax, LogSoftmax, Hardmax
void RegisterReduceOps(OpRegistry& r);         // reduce.cc
void RegisterResizeOps(OpRegistry& r);         // resize.cc
void RegisterConvTransposeOps(OpRegistry& r);  // conv_transpose.cc

void RegisterNnOps(OpRegistry& r) {
  RegisterPoolOps(r);
  RegisterBatchNormOps(r);
  RegisterNormalizationOps(r);
  RegisterSoftmaxOps(r);
  RegisterReduceOps(r);
  RegisterResizeOps(r);
  RegisterConvTransposeOps(r);
}

}  // namespace nibble
