// ONNX -> nibble IR. The only place (with export) that sees protobuf.
#pragma once
#include <string>

#include "graph/graph.h"

namespace nibble {

// Loads a .onnx file. External data files are read from the model's folder and
// may not point outside it. Fails with a message naming the file and the node
// or tensor at fault.
Graph ImportOnnxFile(const std::string& path);
// Parses an in-memory model; `model_dir` resolves external data ("" forbids it).
Graph ImportOnnxBytes(const void* data, size_t size, const std::string& label, const std::string& model_dir);

// Reads a serialized TensorProto (the ONNX test-data format, input_0.pb).
Tensor ImportTensorProtoFile(const std::string& path, std::string* name = nullptr);

// The opset range nibble accepts for the default domain.
constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 22;

}  // namespace nibble
