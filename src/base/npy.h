// Reading and writing NumPy .npy files (format versions 1-3, little-endian,
// C order), the exchange format of the CLI.
#pragma once
#include <string>

#include "nibble/tensor.h"

namespace nibble {

Tensor ReadNpy(const std::string& path);
void WriteNpy(const std::string& path, const Tensor& t);

// The header of a .npy file, already checked against the file's length, so
// that rows can be read one at a time out of a large batch file.
struct NpyInfo {
  DType dtype = DType::kUndefined;
  Shape shape;
  int64_t data_offset = 0;  // bytes from the start of the file to the first element
};
NpyInfo ReadNpyInfo(const std::string& path);
// Rows [begin, begin+count) along the first axis, shaped [count, ...].
Tensor ReadNpyRows(const std::string& path, const NpyInfo& info, int64_t begin, int64_t count);

}  // namespace nibble
