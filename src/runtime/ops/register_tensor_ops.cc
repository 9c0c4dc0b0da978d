// The shape and data-movement op families, one file each.
#include "runtime/op_registry.h"

namespace nibble {

void RegisterReshapeOps(OpRegistry& r);          // Reshape, Flatten, Squeeze, Unsqueeze
void RegisterIdentityDropoutOps(OpRegistry& r);  // Identity, Dropout
void RegisterShapeOps(OpRegistry& r);            // Shape, Size, ConstantOfShape
void RegisterRangeOp(OpRegistry& r);
void RegisterTransposeOp(OpRegistry& r);
void RegisterExpandTileOps(OpRegistry& r);       // Expand, Tile
void RegisterConcatSplitOps(OpRegistry& r);      // Concat, Split
void RegisterSliceOp(OpRegistry& r);
void RegisterGatherOp(OpRegistry& r);
void RegisterCastOp(OpRegistry& r);
void RegisterPadOp(OpRegistry& r);
void RegisterWhereOp(OpRegistry& r);
void RegisterCompareLogicalOps(OpRegistry& r);   // Equal, Less, Greater, LessOrEqual, GreaterOrEqual, Not, And, Or, Xor
void RegisterVariadicOps(OpRegistry& r);         // Max, Min, Sum, Mean
void RegisterArgMinMaxOps(OpRegistry& r);        // ArgMax, ArgMin

void RegisterTensorOps(OpRegistry& r) {
  RegisterReshapeOps(r);
  RegisterIdentityDropoutOps(r);
  RegisterShapeOps(r);
  RegisterRangeOp(r);
  RegisterTransposeOp(r);
  RegisterExpandTileOps(r);
  RegisterConcatSplitOps(r);
  RegisterSliceOp(r);
  RegisterGatherOp(r);
  RegisterCastOp(r);
  RegisterPadOp(r);
  RegisterWhereOp(r);
  RegisterCompareLogicalOps(r);
  RegisterVariadicOps(r);
  RegisterArgMinMaxOps(r);
}

}  // namespace nibble
