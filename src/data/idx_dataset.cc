#include "data/idx_dataset.h"

#include "data/file_bytes.h"
#include "nibble/error.h"

namespace nibble {
namespace {

std::string Hex2(uint8_t b) {
  const char* d = "0123456789abcdef";
  return {d[b >> 4], d[b & 15]};
}

}  // namespace

IdxArray ReadIdx(const std::string& path, int expected_rank) {
  IdxArray a;
  a.bytes = ReadMaybeGzipped(path);
  const std::vector<uint8_t>& b = a.bytes;
  NIBBLE_CHECK(b.size() >= 4, path, ": too short for an IDX header (", b.size(), " bytes)");
  NIBBLE_CHECK(b[0] == 0 && b[1] == 0, path, ": not an IDX file (magic starts ", Hex2(b[0]), " ", Hex2(b[1]),
               ", expected 00 00)");
  NIBBLE_CHECK(b[2] == 0x08, path, ": IDX type code 0x", Hex2(b[2]), " is not supported (only 0x08, unsigned bytes)");
  int ndims = b[3];
  NIBBLE_CHECK(ndims == expected_rank, path, ": IDX file has ", ndims, " dimensions, expected ", expected_rank,
               expected_rank == 3 ? " (images: count, rows, columns)" : " (labels: count)");
  size_t header = 4 + 4 * static_cast<size_t>(ndims);
  NIBBLE_CHECK(b.size() >= header, path, ": truncated IDX header (", b.size(), " bytes, the header needs ", header, ")");
  // The product is bounded by the actual data length, which is bounded by the
  // read limit, so the dims can never make anyone allocate.
  const uint64_t available = b.size() - header;
  uint64_t product = 1;
  bool too_big = false;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = b.data() + 4 + 4 * d;
    uint64_t v = (uint64_t(p[0]) << 24) | (uint64_t(p[1]) << 16) | (uint64_t(p[2]) << 8) | p[3];
    a.dims.push_back(static_cast<int64_t>(v));
    if (v != 0 && product > available / v) too_big = true;
    product *= too_big ? 1 : v;
  }
  std::string dims;
  for (size_t d = 0; d < a.dims.size(); ++d) dims += Cat(d ? "x" : "", a.dims[d]);
  NIBBLE_CHECK(!too_big && product <= available, path, ": IDX dims ", dims, " need more data than the file has (",
               available, " bytes after the header): truncated or corrupt");
  NIBBLE_CHECK(product == available, path, ": IDX dims ", dims, " account for ", product, " bytes but the file has ",
               available, " after the header (", available - product, " extra)");
  a.offset = header;
  return a;
}

IdxDataset::IdxDataset(const std::string& images_path, const std::string& labels_path, const Preprocess& pre)
    : images_path_(images_path), labels_path_(labels_path), pre_(pre) {
  ValidatePreprocess(pre);
  NIBBLE_CHECK(pre.mean.size() <= 1 && pre.stddev.size() <= 1, images_path,
               ": IDX images have 1 channel; give one mean and one std value, not three");
  images_ = ReadIdx(images_path, 3);
  count_ = images_.dims[0];
  height_ = images_.dims[1];
  width_ = images_.dims[2];
  NIBBLE_CHECK(count_ > 0, images_path, ": IDX file holds no images");
  NIBBLE_CHECK(height_ > 0 && width_ > 0, images_path, ": IDX images are ", height_, "x", width_, " (empty)");
  NIBBLE_CHECK(height_ <= (1 << 16) && width_ <= (1 << 16), images_path, ": IDX images of ", height_, "x", width_,
               " are implausibly large");
  if (!labels_path.empty()) {
    IdxArray l = ReadIdx(labels_path, 1);
    NIBBLE_CHECK(l.dims[0] == count_, labels_path, ": holds ", l.dims[0], " labels but ", images_path, " holds ",
                 count_, " images");
    labels_.assign(l.data(), l.data() + l.dims[0]);
  }
}

Sample IdxDataset::Load(int64_t i) const {
  const uint8_t* px = images_.data() + static_cast<size_t>(i) * height_ * width_;
  std::vector<float> img(px, px + height_ * width_);
  Sample s;
  s.inputs.emplace_back("", PreprocessImage(img.data(), static_cast<int>(height_), static_cast<int>(width_), 1, pre_,
                                            Describe(i)));
  if (!labels_.empty()) s.label = labels_[i];
  return s;
}

std::string IdxDataset::Where(int64_t i) const { return Cat(images_path_, " image ", i); }

std::string IdxDataset::Summary() const {
  return Cat("IDX ", images_path_, ": ", count_, " images of ", height_, "x", width_,
             labels_.empty() ? ", no labels" : Cat(", labels from ", labels_path_));
}

}  // namespace nibble
