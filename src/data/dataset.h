// A random-access collection of model inputs (and optional labels), the one
// interface calibration and evaluation read data through. Random access lets
// evaluation stop after --limit N samples and calibration take the first N or
// a seeded random subset without reading the rest.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nibble/tensor.h"

namespace nibble {

struct Sample {
  // (input name, tensor) pairs. An empty name means "the model's single input".
  // Tensors carry a leading batch dimension of 1.
  std::vector<std::pair<std::string, Tensor>> inputs;
  int64_t label = -1;  // class index, or -1 when the dataset has no labels
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Sample i, 0 <= i < size(). Reads (and decodes) it on every call; const and
  // free of shared mutable state, so threads may call it concurrently.
  Sample Get(int64_t i) const;
  virtual bool has_labels() const = 0;
  // Where sample i comes from, for error messages: "calib/0003.npy row 5".
  std::string Describe(int64_t i) const;
  // One line for logs: kind, root, sample count, labels.
  virtual std::string Summary() const = 0;
  // Class names by label index, when the layout names them (image folders).
  virtual std::vector<std::string> class_names() const { return {}; }

 protected:
  // Both called with 0 <= i < size() only.
  virtual Sample Load(int64_t i) const = 0;
  virtual std::string Where(int64_t i) const = 0;
};

// The first min(n, size) indices; n < 0 means all of them.
std::vector<int64_t> FirstIndices(int64_t size, int64_t n);
// min(n, size) distinct indices drawn uniformly at random from [0, size), in
// ascending order. The same seed gives the same subset on every platform and
// standard library (no std:: distributions, which are implementation-defined).
std::vector<int64_t> RandomIndices(int64_t size, int64_t n, uint64_t seed);

}  // namespace nibble
