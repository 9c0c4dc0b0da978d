// Helpers for building small graphs directly in tests.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "graph/graph.h"

namespace nibble::testing {

// Adds a node reading and writing named values (created on first mention).
inline int AddOp(Graph& g, const std::string& op, const std::vector<std::string>& ins,
                 const std::vector<std::string>& outs, const std::string& name = "") {
  Node n;
  n.op_type = op;
  n.name = name.empty() ? op + "_" + std::to_string(g.nodes.size()) : name;
  for (const auto& i : ins) n.inputs.push_back(i.empty() ? -1 : g.AddValue(i));
  for (const auto& o : outs) n.outputs.push_back(g.AddValue(o));
  return g.AddNode(std::move(n));
}

inline int AddInput(Graph& g, const std::string& name, DType t, Shape s) {
  int v = g.AddValue(name);
  g.values[v].dtype = t;
  g.values[v].has_shape = true;
  g.values[v].shape = s;
  g.values[v].dim_params.assign(s.size(), "");
  g.inputs.push_back(v);
  return v;
}

// [N][C][S] <-> [N][S][C] (channels-last), the test side's oracle for the
// layouts of runtime/channels_last.h: element (n, c, i) sits at (n C + c) S
// + i in NCHW and at (n S + i) C + c channels-last.
template <class T>
std::vector<T> Relayout(const T* v, size_t size, int64_t c, int64_t sp, bool to_channels_last) {
  std::vector<T> out(size);
  const int64_t images = c * sp > 0 ? static_cast<int64_t>(size) / (c * sp) : 0;
  for (int64_t n = 0; n < images; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < sp; ++i) {
        const int64_t nchw = (n * c + ch) * sp + i, nhwc = (n * sp + i) * c + ch;
        out[to_channels_last ? nhwc : nchw] = v[to_channels_last ? nchw : nhwc];
      }
  return out;
}
template <class T>
std::vector<T> ToChannelsLast(const T* v, size_t size, int64_t c, int64_t sp) {
  return Relayout(v, size, c, sp, true);
}
template <class T>
std::vector<T> FromChannelsLast(const T* v, size_t size, int64_t c, int64_t sp) {
  return Relayout(v, size, c, sp, false);
}

inline Tensor RandomTensor(Shape s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::kFloat32, std::move(s));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// Seeded random integers and coin flips for randomized kernel tests.
struct Rng {
  std::mt19937 gen;
  explicit Rng(uint32_t seed) : gen(seed) {}
  int64_t Int(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); }
  bool Coin(double p = 0.5) { return std::bernoulli_distribution(p)(gen); }
};

// The code range of an integer type, as int32.
template <class T>
constexpr int32_t Lo() {
  return std::numeric_limits<T>::min();
}
template <class T>
constexpr int32_t Hi() {
  return std::numeric_limits<T>::max();
}

// Same type, shape and bytes.
inline bool SameTensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

inline Tensor FloatTensor(Shape s, std::vector<float> v) {
  Tensor t(DType::kFloat32, std::move(s));
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

}  // namespace nibble::testing
