// A node attribute: one of the ONNX attribute kinds nibble understands.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nibble/tensor.h"

namespace nibble {

struct Attribute {
  enum class Kind { kFloat, kInt, kString, kTensor, kFloats, kInts, kStrings };
  Kind kind = Kind::kInt;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

// Typed, checked access to a node's attributes. Getters fail with the node's
// name when an attribute has the wrong kind.
class Attributes {
 public:
  bool Has(const std::string& name) const { return map_.count(name) > 0; }
  void Set(const std::string& name, Attribute a) { map_[name] = std::move(a); }
  void Erase(const std::string& name) { map_.erase(name); }
  const std::map<std::string, Attribute>& all() const { return map_; }

  int64_t GetInt(const std::string& name, int64_t def) const;
  float GetFloat(const std::string& name, float def) const;
  std::string GetString(const std::string& name, const std::string& def) const;
  std::vector<int64_t> GetInts(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> GetFloats(const std::string& name, std::vector<float> def = {}) const;
  const Tensor* GetTensor(const std::string& name) const;

  void SetInt(const std::string& name, int64_t v);
  void SetFloat(const std::string& name, float v);
  void SetString(const std::string& name, std::string v);
  void SetInts(const std::string& name, std::vector<int64_t> v);
  void SetFloats(const std::string& name, std::vector<float> v);

 private:
  const Attribute* Find(const std::string& name, Attribute::Kind kind) const;
  std::map<std::string, Attribute> map_;
};

}  // namespace nibble
