#include "graph/attribute.h"

namespace nibble {

const Attribute* Attributes::Find(const std::string& name, Attribute::Kind kind) const {
  auto it = map_.find(name);
  if (it == map_.end()) return nullptr;
  NIBBLE_CHECK(it->second.kind == kind, "attribute '", name, "' has the wrong type");
  return &it->second;
}

int64_t Attributes::GetInt(const std::string& name, int64_t def) const {
  const Attribute* a = Find(name, Attribute::Kind::kInt);
  return a ? a->i : def;
}
float Attributes::GetFloat(const std::string& name, float def) const {
  const Attribute* a = Find(name, Attribute::Kind::kFloat);
  return a ? a->f : def;
}
std::string Attributes::GetString(const std::string& name, const std::string& def) const {
  const Attribute* a = Find(name, Attribute::Kind::kString);
  return a ? a->s : def;
}
std::vector<int64_t> Attributes::GetInts(const std::string& name, std::vector<int64_t> def) const {
  const Attribute* a = Find(name, Attribute::Kind::kInts);
  return a ? a->ints : def;
}
std::vector<float> Attributes::GetFloats(const std::string& name, std::vector<float> def) const {
  const Attribute* a = Find(name, Attribute::Kind::kFloats);
  return a ? a->floats : def;
}
const Tensor* Attributes::GetTensor(const std::string& name) const {
  const Attribute* a = Find(name, Attribute::Kind::kTensor);
  return a ? &a->t : nullptr;
}

void Attributes::SetInt(const std::string& name, int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  map_[name] = a;
}
void Attributes::SetFloat(const std::string& name, float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  map_[name] = a;
}
void Attributes::SetString(const std::string& name, std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  map_[name] = a;
}
void Attributes::SetInts(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  map_[name] = a;
}
void Attributes::SetFloats(const std::string& name, std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  map_[name] = a;
}

}  // namespace nibble
