#include "data/dataset_spec.h"

#include <filesystem>

#include "data/idx_dataset.h"
#include "data/image_folder_dataset.h"
#include "data/npy_folder_dataset.h"

namespace nibble {
namespace fs = std::filesystem;

const char kDatasetSpecHelp[] =
    "Data specs:\n"
    "  idx:IMAGES[,LABELS]  IDX files, plain or .gz (MNIST, Fashion-MNIST)\n"
    "  images:DIR           image folder: class sub-folders (labelled) or images only\n"
    "  npy:PATH             folder of .npy files (optional labels.npy), or one .npy file\n"
    "  DIR                  a folder of .npy files or of images, told apart by content\n"
    "  FILE.npy             one .npy file whose first axis is the sample axis\n"
    "  NAME=PATH ...        for multi-input models: one .npy folder per input, same file names\n";

namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool Exists(const std::string& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

bool IsDirectory(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool IsNpyPath(const std::string& p) {
  if (IsDirectory(p)) return !ListNpyFiles(p).empty();
  std::string ext = fs::path(p).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".npy";
}

bool LooksLikeIdx(const std::string& name) {
  return name.find("idx") != std::string::npos && name.find("ubyte") != std::string::npos;
}

std::unique_ptr<Dataset> OpenIdx(const std::string& spec, const Preprocess& pre) {
  std::string rest = spec.substr(4);
  NIBBLE_CHECK(!rest.empty(), "data spec '", spec, "': expected idx:IMAGES[,LABELS]");
  std::string images = rest, labels;
  if (!Exists(rest)) {
    size_t comma = rest.find(',');
    if (comma != std::string::npos) {
      images = rest.substr(0, comma);
      labels = rest.substr(comma + 1);
      NIBBLE_CHECK(!images.empty() && !labels.empty(), "data spec '", spec, "': expected idx:IMAGES[,LABELS]");
    }
  }
  NIBBLE_CHECK(Exists(images), images, ": no such file (from data spec '", spec, "')");
  NIBBLE_CHECK(labels.empty() || Exists(labels), labels, ": no such file (from data spec '", spec, "')");
  return std::make_unique<IdxDataset>(images, labels, pre);
}

std::unique_ptr<Dataset> OpenImages(const std::string& dir, const Preprocess& pre) {
  return std::make_unique<ImageFolderDataset>(dir, pre);
}

std::unique_ptr<Dataset> OpenNpy(const std::string& name, const std::string& path) {
  return std::make_unique<NpyFolderDataset>(std::vector<NpyInput>{{name, path}});
}

// A path without a prefix: decide by what is there.
std::unique_ptr<Dataset> OpenPath(const std::string& path, const Preprocess& pre) {
  if (!IsDirectory(path)) {
    if (IsNpyPath(path)) return OpenNpy("", path);
    std::string name = fs::path(path).filename().string();
    NIBBLE_CHECK(!LooksLikeIdx(name), path, ": looks like an IDX file; use idx:", path, "[,LABELS]");
    NIBBLE_CHECK(!HasImageExtension(name), path, ": a single image is not a dataset; put images in a folder");
    Fail(path, ": not a dataset (expected a folder of .npy files or images, a .npy file, or idx:IMAGES[,LABELS])");
  }
  bool npy = !ListNpyFiles(path).empty();
  ImageLayout layout = ProbeImageLayout(path);
  NIBBLE_CHECK(!(npy && layout != ImageLayout::kNone), path,
               ": holds both .npy files and images; say which with npy:", path, " or images:", path);
  if (npy) return OpenNpy("", path);
  if (layout != ImageLayout::kNone) return OpenImages(path, pre);  // kMixed fails there, with details
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
    NIBBLE_CHECK(!LooksLikeIdx(it->path().filename().string()), path, ": holds no .npy files or images but has IDX files (",
                 it->path().filename().string(), "); use idx:IMAGES[,LABELS]");
  Fail(path, ": holds no .npy files and no images (.png .jpg .jpeg .bmp), directly or in class sub-folders");
}

}  // namespace

std::unique_ptr<Dataset> OpenDataset(const std::vector<std::string>& specs, const Preprocess& pre) {
  NIBBLE_CHECK(!specs.empty(), "no data given");
  ValidatePreprocess(pre);
  for (const auto& s : specs) NIBBLE_CHECK(!s.empty(), "empty data spec");

  if (specs.size() == 1) {
    const std::string& s = specs[0];
    if (Exists(s)) return OpenPath(s, pre);
    if (StartsWith(s, "idx:")) return OpenIdx(s, pre);
    if (StartsWith(s, "images:")) {
      std::string dir = s.substr(7);
      NIBBLE_CHECK(!dir.empty(), "data spec '", s, "': expected images:DIR");
      return OpenImages(dir, pre);
    }
    if (StartsWith(s, "npy:")) {
      std::string p = s.substr(4);
      NIBBLE_CHECK(!p.empty(), "data spec '", s, "': expected npy:PATH");
      return OpenNpy("", p);
    }
  }

  // NAME=PATH, one per model input.
  std::vector<NpyInput> inputs;
  for (const auto& s : specs) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) {
      NIBBLE_CHECK(specs.size() == 1, "data spec '", s,
                   "': with several data specs each must be NAME=DIR (one .npy folder per model input)");
      Fail(s, ": no such file or folder (a data spec is idx:IMAGES[,LABELS], images:DIR, npy:PATH, a folder, a .npy "
              "file, or NAME=DIR)");
    }
    NpyInput in{s.substr(0, eq), s.substr(eq + 1)};
    NIBBLE_CHECK(!in.name.empty(), "data spec '", s, "': empty input name before '='");
    NIBBLE_CHECK(!in.path.empty(), "data spec '", s, "': empty path after '='");
    NIBBLE_CHECK(Exists(in.path), in.path, ": no such file or folder (from data spec '", s, "')");
    NIBBLE_CHECK(IsNpyPath(in.path), in.path, ": NAME=PATH needs a folder of .npy files or a .npy file (from data spec '",
                 s, "')");
    inputs.push_back(std::move(in));
  }
  return std::make_unique<NpyFolderDataset>(inputs);
}

}  // namespace nibble
