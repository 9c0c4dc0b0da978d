// nibble's intermediate representation: a graph of nodes over values, in SSA
// form (each value has at most one producer). Float and quantized graphs are
// the same IR; importers fill it and passes rewrite it. No protobuf here.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <optional>

#include "base/activation.h"
#include "base/quant_params.h"
#include "graph/attribute.h"
#include "nibble/tensor.h"

namespace nibble {

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  bool has_shape = false;          // the rank is known
  Shape shape;                     // -1 where a dimension is unknown (dynamic)
  std::vector<std::string> dim_params;  // symbolic names of dynamic dims, "" if none
  Tensor constant;                 // set for initializers and folded constants
  int producer = -1;               // node index, -1 for graph inputs/constants
  // Set when the value holds quantized codes (dtype int8/uint8/int32): its
  // real value is scale * (q - zero_point). Kernels choose integer paths by it.
  std::optional<QuantParams> quant;

  bool is_constant() const { return !constant.empty(); }
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;
  std::vector<int> inputs;   // value ids; -1 for an omitted optional input
  std::vector<int> outputs;  // value ids; -1 for an omitted optional output
  Attributes attrs;
  Activation fused;          // activation folded into this node by a pass
};

class Graph {
 public:
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs;   // runtime inputs (initializers are not listed)
  std::vector<int> outputs;
  int64_t opset = 0;         // default-domain opset the model imports
  std::string name;
  std::string path;          // the file it came from, for error messages
  // The model's metadata_props (the quantizer records why nodes stay float there).
  std::vector<std::pair<std::string, std::string>> metadata;

  int AddValue(const std::string& name);
  int AddConstant(const std::string& name, Tensor t);
  int FindValue(const std::string& name) const;  // -1 if absent
  // A fresh, unused value name derived from `base`.
  std::string UniqueName(const std::string& base);

  int AddNode(Node n);
  // Recomputes producers and the name index; fails on two producers of a value.
  void RebuildIndex();
  // For each value, the nodes that read it.
  std::vector<std::vector<int>> Consumers() const;
  // Orders nodes so producers precede consumers; fails on a cycle.
  void TopologicalSort();
  // Drops nodes whose flag is set and values nobody references any more.
  void RemoveNodes(const std::vector<bool>& remove);
  // Replaces every use of value `from` (node inputs and graph outputs) by `to`.
  void ReplaceUses(int from, int to);

  bool IsGraphOutput(int value) const;
  // "model.onnx: node 'conv1' (Conv)" — the prefix of every error about a node.
  std::string Where(int node) const;
  std::string Where(const Node& node) const;

 private:
  std::unordered_map<std::string, int> by_name_;
};

}  // namespace nibble
