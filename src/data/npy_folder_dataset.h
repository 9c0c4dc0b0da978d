// Samples stored as .npy files: a folder of them (sorted by file name), or one
// file. Axis 0 of every file is the batch axis: each row is a sample and keeps
// a leading dimension of 1, so a file saved from a [1,...] model input is one
// sample and a [N,...] file is N samples. Models with several inputs get one
// folder per input holding the same file names, paired by name.
// Labels: an optional labels.npy (integers, one per sample, in sample order)
// in the folder.
#pragma once
#include <string>
#include <vector>

#include "base/npy.h"
#include "data/dataset.h"

namespace nibble {

struct NpyInput {
  std::string name;  // model input name; "" = the model's single input
  std::string path;  // a folder of .npy files, or a single .npy file
};

// Sample file names (*.npy, any case, not labels.npy, not hidden) in a folder,
// sorted by name; empty if there are none or the folder cannot be listed.
std::vector<std::string> ListNpyFiles(const std::string& dir);

class NpyFolderDataset : public Dataset {
 public:
  explicit NpyFolderDataset(const std::vector<NpyInput>& inputs);

  int64_t size() const override { return count_; }
  bool has_labels() const override { return !labels_.empty(); }
  std::string Summary() const override;

 protected:
  Sample Load(int64_t i) const override;
  std::string Where(int64_t i) const override;

 private:
  struct File {
    std::vector<std::string> paths;  // one per input
    std::vector<NpyInfo> infos;      // one per input
    int64_t first = 0;               // index of its first sample
    int64_t rows = 0;
  };
  // File holding sample i, and the row within it.
  std::pair<const File*, int64_t> Locate(int64_t i) const;

  std::vector<NpyInput> inputs_;
  std::vector<File> files_;
  std::vector<int64_t> labels_;
  std::string labels_path_;
  int64_t count_ = 0;
};

}  // namespace nibble
