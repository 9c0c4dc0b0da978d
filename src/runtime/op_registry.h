// op_type -> factory for the default ONNX domain (and QONNX's three ops). The list of registered ops
// is written once, by hand, in ops/register_all.cc.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/op.h"

namespace nibble {

class OpRegistry {
 public:
  static const OpRegistry& Get();
  void Add(const std::string& op_type, OpFactory f);
  // The integer kernel of an op, used instead of the float one when the node's
  // first input holds quantized codes (Value::quant set, by fold-qdq).
  void AddQuantized(const std::string& op_type, OpFactory f);
  // An op of a non-default domain. Only QONNX's (qonnx.custom_op.general,
  // also found as finn.custom_op.general and onnx.brevitas) are looked up.
  void AddInDomain(const std::string& domain, const std::string& op_type, OpFactory f);
  // Makes the kernel for a node: the quantized one when it applies.
  std::unique_ptr<OpKernel> Create(const OpEnv& env) const;
  // nullptr when the op is unknown (or in a domain nibble does not implement).
  const OpFactory* Find(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, OpFactory> ops_;
  std::map<std::string, OpFactory> quantized_;
  std::map<std::string, OpFactory> qonnx_;  // QONNX Quant, BipolarQuant, Trunc
};

// Defined in ops/register_all.cc.
void RegisterAllOps(OpRegistry& r);

}  // namespace nibble
