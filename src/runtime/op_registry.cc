#include "runtime/op_registry.h"

namespace nibble {

const OpRegistry& OpRegistry::Get() {
  static const OpRegistry* r = [] {
    auto* reg = new OpRegistry;
    RegisterAllOps(*reg);
    return reg;
  }();
  return *r;
}

void OpRegistry::Add(const std::string& op_type, OpFactory f) { ops_[op_type] = std::move(f); }

const OpFactory* OpRegistry::Find(const std::string& domain, const std::string& op_type) const {
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  auto it = ops_.find(op_type);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::Names() const {
  std::vector<std::string> r;
  for (const auto& kv : ops_) r.push_back(kv.first);
  return r;
}

}  // namespace nibble
