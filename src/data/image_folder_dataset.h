// Image files as samples, decoded with stb_image (PNG, JPEG, BMP).
// Two layouts:
//  * torchvision ImageFolder: ROOT/<class>/.../<image>; classes are the
//    sub-folder names sorted, label = index in that order; files are ordered
//    like torchvision's (by folder, then name). Every class folder must hold
//    at least one image.
//  * flat: ROOT/<image>, sorted by name, no labels.
// A root holding both images and sub-folders is refused as ambiguous. Hidden
// files and folders (leading '.') are skipped.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/preprocess.h"

namespace nibble {

// .png .jpg .jpeg .bmp, any case.
bool HasImageExtension(const std::string& file_name);

// Decodes one image file and runs the preprocessing chain: float32 [1,C,H,W]
// or [1,H,W,C]. Errors name the file.
Tensor LoadImage(const std::string& path, const Preprocess& pre);

enum class ImageLayout {
  kNone,          // no images at all
  kFlat,          // images directly in the root
  kClassFolders,  // images only in sub-folders
  kMixed,         // both: ambiguous
};
// Looks at the root's entries (and into sub-folders until it finds one image);
// never throws on a missing or unreadable folder (returns kNone).
ImageLayout ProbeImageLayout(const std::string& root);

class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(const std::string& root, const Preprocess& pre);

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  bool has_labels() const override { return !classes_.empty(); }
  std::string Summary() const override;
  std::vector<std::string> class_names() const override { return classes_; }

 protected:
  Sample Load(int64_t i) const override;
  std::string Where(int64_t i) const override { return files_[i]; }

 private:
  std::string root_;
  Preprocess pre_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;      // empty for the flat layout
  std::vector<std::string> classes_;  // empty for the flat layout
};

}  // namespace nibble
