#include "runtime/op_registry.h"

#include "base/qonnx_quant.h"

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

void OpRegistry::AddInDomain(const std::string& domain, const std::string& op_type, OpFactory f) {
  NIBBLE_CHECK(qonnx::IsQonnxDomain(domain), "ops of domain '", domain, "' cannot be registered");
  qonnx_[op_type] = std::move(f);
}

void OpRegistry::AddQuantized(const std::string& op_type, OpFactory f) { quantized_[op_type] = std::move(f); }

std::unique_ptr<OpKernel> OpRegistry::Create(const OpEnv& env) const {
  const Node& n = env.node;
  const OpFactory* f = Find(n.domain, n.op_type);
  NIBBLE_CHECK(f, env.where(), ": operator not supported");
  if (!n.domain.empty()) return (*f)(env);
  bool quantized = !n.inputs.empty() && n.inputs[0] >= 0 && env.graph.values[n.inputs[0]].quant.has_value();
  auto q = quantized_.find(n.op_type);
  if (quantized && q != quantized_.end()) return q->second(env);
  return (*f)(env);
}

const OpFactory* OpRegistry::Find(const std::string& domain, const std::string& op_type) const {
  if (qonnx::IsQonnxDomain(domain)) {
    auto it = qonnx_.find(op_type);
    return it == qonnx_.end() ? nullptr : &it->second;
  }
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
