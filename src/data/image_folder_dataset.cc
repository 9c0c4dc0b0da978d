#include "data/image_folder_dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "base/limits.h"
#include "data/file_bytes.h"
#include "stb_image.h"

namespace nibble {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kMaxImageFileBytes = int64_t{512} << 20;
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;  // 16k x 16k
constexpr int kMaxFolderDepth = 16;                     // also stops symlink cycles

bool Hidden(const fs::path& p) {
  std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

bool IsDir(const fs::directory_entry& e) {
  std::error_code ec;
  return e.is_directory(ec);
}

bool IsImage(const fs::directory_entry& e) {
  std::error_code ec;
  return !Hidden(e.path()) && HasImageExtension(e.path().filename().string()) && e.is_regular_file(ec);
}

// Images under dir, recursively, ordered as torchvision's sorted(os.walk(...)):
// by containing folder, then by file name. Stops early after `limit` files.
std::vector<std::string> FindImages(const std::string& dir, size_t limit = SIZE_MAX) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, name)
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink |
                                               fs::directory_options::skip_permission_denied, ec);
  for (fs::recursive_directory_iterator end; !ec && it != end && found.size() < limit; it.increment(ec)) {
    if (IsDir(*it)) {
      if (Hidden(it->path()) || it.depth() >= kMaxFolderDepth) it.disable_recursion_pending();
      continue;
    }
    if (IsImage(*it)) found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
  }
  NIBBLE_CHECK(!ec, dir, ": cannot list folder (", ec.message(), ")");
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [folder, name] : found) out.push_back((fs::path(folder) / name).string());
  return out;
}

}  // namespace

bool HasImageExtension(const std::string& file_name) {
  size_t dot = file_name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = file_name.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

Tensor LoadImage(const std::string& path, const Preprocess& pre) {
  ValidatePreprocess(pre);
  std::vector<uint8_t> bytes = ReadFileBytes(path, kMaxImageFileBytes);
  NIBBLE_CHECK(!bytes.empty(), path, ": empty file, not an image");
  NIBBLE_CHECK(bytes.size() <= INT32_MAX, path, ": image file too large");
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, n = 0;
  // Size first, so a tiny file declaring a huge image is refused before decoding.
  NIBBLE_CHECK(stbi_info_from_memory(bytes.data(), len, &w, &h, &n), path, ": cannot decode image (",
               stbi_failure_reason(), ")");
  NIBBLE_CHECK(w > 0 && h > 0 && static_cast<int64_t>(w) * h <= kMaxImagePixels &&
                   static_cast<int64_t>(w) * h * 3 * 4 <= MaxTensorBytes(),
               path, ": image of ", w, "x", h, " pixels is too large");
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(bytes.data(), len, &w, &h, &n, 0),
                                               stbi_image_free);
  NIBBLE_CHECK(px, path, ": cannot decode image (", stbi_failure_reason(), ")");
  NIBBLE_CHECK(n >= 1 && n <= 4, path, ": image has ", n, " channels");
  bytes.clear();
  bytes.shrink_to_fit();

  const int out_c = pre.grayscale ? 1 : 3;
  const size_t count = static_cast<size_t>(w) * h;
  std::vector<float> hwc(count * out_c);
  const stbi_uc* p = px.get();
  for (size_t i = 0; i < count; ++i, p += n) {
    float r = p[0], g = n >= 3 ? p[1] : p[0], b = n >= 3 ? p[2] : p[0];  // 2 channels = gray + alpha
    if (pre.grayscale) {
      hwc[i] = n >= 3 ? 0.299f * r + 0.587f * g + 0.114f * b : r;
    } else {
      hwc[i * 3 + 0] = r;
      hwc[i * 3 + 1] = g;
      hwc[i * 3 + 2] = b;
    }
  }
  px.reset();
  return PreprocessImage(hwc.data(), h, w, out_c, pre, path);
}

ImageLayout ProbeImageLayout(const std::string& root) {
  bool flat = false, nested = false;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return ImageLayout::kNone;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (IsImage(*it)) flat = true;
    if (!nested && IsDir(*it) && !Hidden(it->path())) {
      try {
        nested = !FindImages(it->path().string(), 1).empty();
      } catch (const Error&) {
      }
    }
  }
  if (flat && nested) return ImageLayout::kMixed;
  if (flat) return ImageLayout::kFlat;
  if (nested) return ImageLayout::kClassFolders;
  return ImageLayout::kNone;
}

ImageFolderDataset::ImageFolderDataset(const std::string& root, const Preprocess& pre) : root_(root), pre_(pre) {
  ValidatePreprocess(pre);
  std::error_code ec;
  NIBBLE_CHECK(fs::exists(root, ec), root, ": no such folder");
  NIBBLE_CHECK(fs::is_directory(root, ec), root, ": not a folder (an image dataset is a folder of images or of class folders)");
  std::vector<std::string> top_images, class_dirs;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (IsImage(*it)) top_images.push_back(it->path().string());
    if (IsDir(*it) && !Hidden(it->path())) class_dirs.push_back(it->path().filename().string());
  }
  NIBBLE_CHECK(!ec, root, ": cannot list folder (", ec.message(), ")");
  if (!top_images.empty()) {
    NIBBLE_CHECK(class_dirs.empty(), root, ": holds both images (", fs::path(top_images[0]).filename().string(),
                 ") and sub-folders (", class_dirs[0],
                 "); use class sub-folders only (labelled, ImageFolder layout) or images only (unlabelled)");
    std::sort(top_images.begin(), top_images.end());
    files_ = std::move(top_images);
    return;
  }
  NIBBLE_CHECK(!class_dirs.empty(), root, ": holds no images (.png .jpg .jpeg .bmp) and no class sub-folders");
  std::sort(class_dirs.begin(), class_dirs.end());
  for (size_t c = 0; c < class_dirs.size(); ++c) {
    std::string dir = (fs::path(root) / class_dirs[c]).string();
    std::vector<std::string> images = FindImages(dir);
    NIBBLE_CHECK(!images.empty(), dir, ": class folder holds no images (.png .jpg .jpeg .bmp)");
    for (auto& f : images) {
      files_.push_back(std::move(f));
      labels_.push_back(static_cast<int64_t>(c));
    }
  }
  classes_ = std::move(class_dirs);
}

Sample ImageFolderDataset::Load(int64_t i) const {
  Sample s;
  s.inputs.emplace_back("", LoadImage(files_[i], pre_));
  if (!labels_.empty()) s.label = labels_[i];
  return s;
}

std::string ImageFolderDataset::Summary() const {
  if (classes_.empty()) return Cat("images ", root_, ": ", files_.size(), " unlabelled images");
  return Cat("images ", root_, ": ", files_.size(), " images in ", classes_.size(), " classes");
}

}  // namespace nibble
