// How quantized weight codes are stored at rest, so that a file shrinks with
// its bit-widths.
//
//   int8    one code per byte: int8 codes -> Clip(qmin, qmax) -> DQ (QCDQ, the
//           form Brevitas writes; any ONNX reader).
//   int4    codes of 4 bits or fewer as ONNX INT4 initializers read straight
//           by an opset-21 DequantizeLinear (ONNX Runtime 1.18+ reads them):
//           half the bytes of int8 at every width <= 4.
//   packed  codes of 4 bits or fewer stored at their exact width, bit-packed,
//           behind an `ai.nibble.UnpackBits` node: W2 a quarter of int8, W1 an
//           eighth. Only nibble reads these; `nibble convert` writes them back
//           as int4 or int8.
//
// In every form the weight's width is what its codes need (fold-qdq reads it
// from the Clip bounds, or from the codes themselves where no Clip is left).
//
// ai.nibble.UnpackBits(packed: uint8[n]) -> codes (int8, or uint8 for kind "uint")
//   attributes: bits (1..8), kind ("int", "uint" or "bipolar": 0 -> -1, 1 -> +1),
//   narrow (0/1), shape (ints). Elements run on without padding, least
//   significant bit first (as ONNX INT4). n must be exactly the packed size.
#pragma once
#include <string>

#include "graph/graph.h"
#include "onnx/export.h"

namespace nibble {

enum class WeightStorage { kInt8, kInt4, kPacked };

// "int8", "int4", "packed"; fails naming the accepted spellings.
WeightStorage ParseWeightStorage(const std::string& s);
const char* WeightStorageName(WeightStorage s);

struct WeightStorageReport {
  int int4 = 0;       // weights written as INT4
  int packed = 0;     // weights written bit-packed
  std::string note;   // why a compact form was not used ("" when it was, or nothing qualified)
};

// Rewrites the int8-codes -> Clip -> DQ chains of weights whose Clip states 4
// bits or fewer into the chosen form, and sets the export options that write
// it (INT4 initializers, the ai.nibble domain). Raises the graph's opset to 21
// for INT4 only when every node means the same there; otherwise it leaves the
// int8 form and says why in the report.
WeightStorageReport StoreWeightsCompactly(Graph& g, WeightStorage s, ExportOptions& eo);

// The constant an ai.nibble.UnpackBits node stands for (the importer folds
// these nodes). Fails naming `where` on any malformed attribute or size.
Tensor UnpackBitsNodeValue(const Node& n, const Tensor& packed, const std::string& where);

constexpr const char* kNibbleDomain = "ai.nibble";

}  // namespace nibble
