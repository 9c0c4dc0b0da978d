// The data and preprocessing flags shared by `quantize` and `eval`.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "data/preprocess.h"

namespace nibble::cli {

struct DataFlags {
  std::string resize, crop, mean, std, layout = "NCHW", channels = "RGB";
  bool grayscale = false;
  void Add(CLI::App* app);
  Preprocess ToPreprocess() const;
};

}  // namespace nibble::cli
