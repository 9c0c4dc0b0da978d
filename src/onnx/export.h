// nibble IR -> ONNX. With import.h, the only place that knows protobuf.
//
// Writes standard ONNX that ONNX Runtime loads: float graphs, and quantized
// graphs in QDQ form (QuantizeLinear/DequantizeLinear nodes over integer
// initializers). What the IR holds that ONNX has no field for is spelled out
// as ONNX: a node's fused activation becomes an explicit activation node after
// it. The same graph and options always give the same bytes.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"

namespace nibble {

struct ExportOptions {
  std::string producer_name = "nibble";
  std::string producer_version = "0.1";
  std::string doc_string;  // ModelProto.doc_string; omitted when empty
  // ModelProto.metadata_props, written in this order (keys should be unique).
  std::vector<std::pair<std::string, std::string>> metadata_props;
  // Initializers larger than this many bytes go to a side file "<model file>.data"
  // next to the model (ExportOnnxFile only). -1: only when the model would not
  // fit in one protobuf (~1.9 GiB), then every initializer over 1 KiB goes.
  int64_t external_data_threshold = -1;
  // 0: the IR version released with the graph's opset (opset 17 -> 8, 19 -> 9, 21 -> 10).
  int64_t ir_version = 0;
  // Opset versions for non-default domains the nodes use; a domain not listed
  // here gets 1 (ai.onnx.ml: the version released with the default opset).
  std::map<std::string, int64_t> domain_versions;
  // int8/uint8 initializers, by value name, written as ONNX INT4/UINT4 (their
  // codes must fit in 4 bits; the graph's opset must be 21 or later).
  std::set<std::string> int4_initializers;
  // Write value_info (type and shape) for intermediate values whose type is known.
  bool value_info = true;
};

// Serializes `g` as an ONNX model. Fails (nibble::Error) when the graph cannot
// be written faithfully: a value read but never defined, a value carrying
// quantization parameters (a lowered graph; export it in QDQ form before
// lowering), or a model over protobuf's 2 GiB limit (use ExportOnnxFile with
// external data).
std::string ExportOnnxBytes(const Graph& g, const ExportOptions& o = {});

// Writes the model to `path`, and "<path>.data" next to it when initializers
// go to external data (their location is that file's name, so the pair can be
// moved together).
void ExportOnnxFile(const Graph& g, const std::string& path, const ExportOptions& o = {});

// The IR version that came with the given default-domain opset (onnx's
// helper.VERSION_TABLE).
int64_t IrVersionForOpset(int64_t opset);

}  // namespace nibble
