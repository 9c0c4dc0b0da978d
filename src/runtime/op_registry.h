// op_type -> factory for the default ONNX domain. The list of registered ops
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
  // nullptr when the op is unknown (or in a domain nibble does not implement).
  const OpFactory* Find(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, OpFactory> ops_;
};

// Defined in ops/register_all.cc.
void RegisterAllOps(OpRegistry& r);

}  // namespace nibble
