#include "data/npy_folder_dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

namespace nibble {
namespace fs = std::filesystem;
namespace {

constexpr const char* kLabelsFile = "labels.npy";

bool HasNpyExtension(const std::string& name) {
  if (name.size() < 4) return false;
  std::string ext = name.substr(name.size() - 4);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".npy";
}

// Sample file names in a folder, sorted; skips labels.npy and hidden files
// (editor and ._ AppleDouble droppings).
std::vector<std::string> ListNpyOrFail(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.empty() || n[0] == '.' || n == kLabelsFile || !HasNpyExtension(n)) continue;
    std::error_code ec2;
    if (!it->is_regular_file(ec2)) continue;
    names.push_back(n);
  }
  NIBBLE_CHECK(!ec, dir, ": cannot list folder (", ec.message(), ")");
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<int64_t> ReadLabels(const std::string& path, int64_t count) {
  Tensor t = ReadNpy(path);
  bool is_int = t.dtype() == DType::kInt64 || t.dtype() == DType::kInt32 || t.dtype() == DType::kInt16 ||
                t.dtype() == DType::kInt8 || t.dtype() == DType::kUInt8 || t.dtype() == DType::kUInt16 ||
                t.dtype() == DType::kUInt32;
  NIBBLE_CHECK(is_int, path, ": labels must be integers (int64 preferred), got ", DTypeName(t.dtype()));
  NIBBLE_CHECK(t.rank() == 1 || (t.rank() == 2 && t.dim(1) == 1), path, ": labels must have shape [N] or [N,1], got ",
               ShapeStr(t.shape()));
  NIBBLE_CHECK(t.dim(0) == count, path, ": holds ", t.dim(0), " labels but the folder holds ", count, " samples");
  return t.ToInt64Vector();
}

}  // namespace

std::vector<std::string> ListNpyFiles(const std::string& dir) {
  try {
    return ListNpyOrFail(dir);
  } catch (const Error&) {
    return {};
  }
}

NpyFolderDataset::NpyFolderDataset(const std::vector<NpyInput>& inputs) : inputs_(inputs) {
  NIBBLE_CHECK(!inputs.empty(), "npy dataset: no input folders given");
  std::set<std::string> seen;
  for (const auto& in : inputs) {
    NIBBLE_CHECK(inputs.size() == 1 || !in.name.empty(), "npy dataset: with several inputs each needs a name (NAME=DIR)");
    NIBBLE_CHECK(seen.insert(in.name).second, "npy dataset: input '", in.name, "' is given twice");
  }

  // File names per input; all inputs must list the same ones.
  std::vector<std::vector<std::string>> paths(inputs.size());
  std::vector<std::string> names;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::string& p = inputs[k].path;
    std::error_code ec;
    auto st = fs::status(p, ec);
    NIBBLE_CHECK(fs::exists(st), p, ": no such file or folder");
    std::vector<std::string> listed;
    if (fs::is_directory(st)) {
      listed = ListNpyOrFail(p);
      NIBBLE_CHECK(!listed.empty(), p, ": folder holds no .npy files");
      for (const auto& n : listed) paths[k].push_back((fs::path(p) / n).string());
    } else {
      listed = {fs::path(p).filename().string()};
      paths[k].push_back(p);
    }
    if (k == 0) {
      names = listed;
      continue;
    }
    if (listed != names) {
      std::vector<std::string> only_first, only_this;
      std::set_difference(names.begin(), names.end(), listed.begin(), listed.end(), std::back_inserter(only_first));
      std::set_difference(listed.begin(), listed.end(), names.begin(), names.end(), std::back_inserter(only_this));
      std::string detail = !only_first.empty() ? Cat(inputs[0].path, " has ", only_first[0], " but ", p, " does not")
                                               : Cat(p, " has ", only_this[0], " but ", inputs[0].path, " does not");
      Fail("npy dataset: input '", inputs[k].name, "' (", p, ") holds ", listed.size(), " .npy files and input '",
           inputs[0].name, "' (", inputs[0].path, ") holds ", names.size(),
           "; each input's folder must hold the same file names (", detail, ")");
    }
  }

  for (size_t f = 0; f < names.size(); ++f) {
    File file;
    file.first = count_;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const std::string& path = paths[k][f];
      NpyInfo info = ReadNpyInfo(path);
      NIBBLE_CHECK(!info.shape.empty(), path, ": a rank-0 array has no batch axis; save samples with shape [1,...]");
      if (k == 0)
        file.rows = info.shape[0];
      else
        NIBBLE_CHECK(info.shape[0] == file.rows, path, " holds ", info.shape[0], " samples (shape ",
                     ShapeStr(info.shape), ") but ", file.paths[0], " holds ", file.rows, " (shape ",
                     ShapeStr(file.infos[0].shape), ")");
      file.paths.push_back(path);
      file.infos.push_back(std::move(info));
    }
    count_ += file.rows;
    if (file.rows > 0) files_.push_back(std::move(file));
  }
  NIBBLE_CHECK(count_ > 0, inputs[0].path, ": the .npy files hold no samples (every first dimension is 0)");

  // labels.npy in any of the folders; if in several, they must agree.
  for (const auto& in : inputs) {
    std::error_code ec;
    if (!fs::is_directory(in.path, ec)) continue;
    std::string lp = (fs::path(in.path) / kLabelsFile).string();
    if (!fs::is_regular_file(lp, ec)) continue;
    std::vector<int64_t> l = ReadLabels(lp, count_);
    if (labels_path_.empty()) {
      labels_ = std::move(l);
      labels_path_ = lp;
    } else {
      NIBBLE_CHECK(l == labels_, lp, ": differs from ", labels_path_, "; keep one labels.npy");
    }
  }
}

std::pair<const NpyFolderDataset::File*, int64_t> NpyFolderDataset::Locate(int64_t i) const {
  auto it = std::upper_bound(files_.begin(), files_.end(), i, [](int64_t v, const File& f) { return v < f.first; });
  const File& f = *(it - 1);
  return {&f, i - f.first};
}

Sample NpyFolderDataset::Load(int64_t i) const {
  auto [file, row] = Locate(i);
  Sample s;
  for (size_t k = 0; k < inputs_.size(); ++k)
    s.inputs.emplace_back(inputs_[k].name, ReadNpyRows(file->paths[k], file->infos[k], row, 1));
  if (!labels_.empty()) s.label = labels_[i];
  return s;
}

std::string NpyFolderDataset::Where(int64_t i) const {
  auto [file, row] = Locate(i);
  std::string out;
  for (size_t k = 0; k < inputs_.size(); ++k) {
    if (k) out += ", ";
    if (!inputs_[k].name.empty()) out += inputs_[k].name + "=";
    out += file->paths[k];
    if (file->rows > 1) out += Cat(" row ", row);
  }
  return out;
}

std::string NpyFolderDataset::Summary() const {
  std::string where;
  for (size_t k = 0; k < inputs_.size(); ++k)
    where += (k ? ", " : "") + (inputs_[k].name.empty() ? "" : inputs_[k].name + "=") + inputs_[k].path;
  return Cat(".npy ", where, ": ", count_, " samples in ", files_.size(), " file", files_.size() == 1 ? "" : "s",
             labels_.empty() ? ", no labels" : Cat(", labels from ", labels_path_));
}

}  // namespace nibble
