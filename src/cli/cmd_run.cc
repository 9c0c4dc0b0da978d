#include <filesystem>

#include "base/npy.h"
#include "cli/commands.h"
#include "nibble/session.h"

namespace nibble::cli {

// Output names become file names: anything outside [A-Za-z0-9._-] becomes '_'.
std::string SanitizeFileName(const std::string& name) {
  std::string r = name;
  for (char& c : r)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  if (r.empty() || r == "." || r == "..") r = "_" + r;
  return r;
}

int Run(const RunOptions& o) {
  SessionOptions so;
  so.threads = o.threads;
  so.disabled_passes = o.disabled_passes;
  auto session = Session::Load(o.model, so);
  std::vector<std::pair<std::string, Tensor>> inputs;
  const auto& decl = session->inputs();
  for (size_t k = 0; k < o.inputs.size(); ++k) {
    std::string spec = o.inputs[k], name, file = spec;
    auto eq = spec.find('=');
    if (eq != std::string::npos && !std::filesystem::exists(spec)) {
      name = spec.substr(0, eq);
      file = spec.substr(eq + 1);
    } else {
      NIBBLE_CHECK(k < decl.size(), o.model, ": more inputs given (", o.inputs.size(), ") than the model has (",
                   decl.size(), ")");
      name = decl[k].name;
    }
    inputs.emplace_back(name, ReadNpy(file));
  }
  auto outputs = session->Run(inputs);
  std::filesystem::create_directories(o.out_dir);
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string path = (std::filesystem::path(o.out_dir) / (SanitizeFileName(session->outputs()[i].name) + ".npy"));
    WriteNpy(path, outputs[i]);
  }
  return 0;
}

}  // namespace nibble::cli
