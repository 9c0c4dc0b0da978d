// Reading and writing NumPy .npy files (format versions 1-3, little-endian,
// C order), the exchange format of the CLI.
#pragma once
#include <string>

#include "nibble/tensor.h"

namespace nibble {

Tensor ReadNpy(const std::string& path);
void WriteNpy(const std::string& path, const Tensor& t);

}  // namespace nibble
