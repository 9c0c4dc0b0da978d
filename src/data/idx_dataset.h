// IDX files, the MNIST / Fashion-MNIST format (http://yann.lecun.com/exdb/mnist/):
// big-endian header {0, 0, type, ndims, dims[ndims] as uint32} then the data.
// Plain or gzipped (detected by magic bytes). Only unsigned bytes (type 0x08):
// images [N,H,W], labels [N].
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/preprocess.h"

namespace nibble {

// A fully validated IDX file of unsigned bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // decompressed file; data starts at `offset`
  size_t offset = 0;
  const uint8_t* data() const { return bytes.data() + offset; }
};

// Reads and checks magic, type code (0x08 only), rank (== expected_rank) and
// that the dims' product equals the data length exactly. Errors name the file.
IdxArray ReadIdx(const std::string& path, int expected_rank);

// Samples are float32 [1,1,H,W] (or [1,H,W,1] for NHWC): pixel/255 when
// pre.scale, then (x - mean) / std; resize and crop apply as for images.
class IdxDataset : public Dataset {
 public:
  // labels_path may be empty (no labels).
  IdxDataset(const std::string& images_path, const std::string& labels_path, const Preprocess& pre);

  int64_t size() const override { return count_; }
  bool has_labels() const override { return !labels_.empty(); }
  std::string Summary() const override;

 protected:
  Sample Load(int64_t i) const override;
  std::string Where(int64_t i) const override;

 private:
  std::string images_path_, labels_path_;
  IdxArray images_;
  std::vector<uint8_t> labels_;  // empty if none
  int64_t count_ = 0, height_ = 0, width_ = 0;
  Preprocess pre_;
};

}  // namespace nibble
