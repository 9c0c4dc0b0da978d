// Graph rewrites that need no kernels. Each returns true when it changed the
// graph; each leaves the graph topologically sorted and indexed.
#pragma once
#include "graph/graph.h"

namespace nibble {

// Identity, and Dropout in inference mode, forward their input.
bool EliminateIdentityPass(Graph& g);
// Removes nodes none of whose outputs is read or is a graph output.
bool DeadNodeEliminationPass(Graph& g);
// Conv/Gemm followed by BatchNormalization (constant statistics) becomes one
// Conv/Gemm with rescaled weights and bias.
bool FoldBatchNormPass(Graph& g);
// DQ -> op -> Q patterns become ops over quantized values (Value::quant set),
// which the runtime runs with integer kernels. See pass_fold_qdq.cc.
bool FoldQdqPass(Graph& g);
// fold-qdq's step for binarized layers: DQ -> Conv [-> BatchNormalization] ->
// BipolarQuant becomes an integer Conv writing -1/+1 codes (its threshold
// folded into doubled weights and a bias) -> DQ. See pass_fold_bipolar_threshold.cc.
bool FoldBipolarThresholds(Graph& g);
// Whether a Resize can run on codes (fold-qdq and the quantizer agree on it):
// nearest, or linear with constant scales that leave all but the last two axes
// alone (the integer kernel mixes H and W only).
bool ResizeRunsOnCodes(const Graph& g, const Node& n);
// QOperator nodes (QLinearConv, QLinearMatMul and ONNX Runtime's
// com.microsoft QLinearAdd, QGemm, ...) become DQ -> float op -> Q, for
// fold-qdq to run as integer kernels. With standard_ops false only the
// com.microsoft ones are rewritten (they have no kernels of their own).
// See pass_lower_qoperator.cc.
bool LowerQOperatorPass(Graph& g, bool standard_ops);
bool LowerQOperatorPass(Graph& g);
// QONNX Quant / BipolarQuant with constant parameters that QuantizeLinear can
// express become Q -> Clip -> DQ (weights: integer codes -> Clip -> DQ); the
// rest stay for the float reference kernels, with the reason recorded in the
// graph's metadata. See pass_lower_qonnx.cc.
bool LowerQonnxPass(Graph& g);
// Relu / Clip (constant bounds) / HardSwish / LeakyRelu after Conv, Gemm,
// MatMul or Add becomes that node's epilogue.
bool FuseActivationPass(Graph& g);

}  // namespace nibble
