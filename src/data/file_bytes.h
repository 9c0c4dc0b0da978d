// Whole-file reads with a ceiling, and transparent gunzip, for the dataset
// readers. Sizes come from the file system or from the decompressor, never
// from a field inside the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nibble {

// Decompressed data larger than this is refused (the largest common IDX file,
// EMNIST by_class training images, is ~550 MB).
constexpr int64_t kMaxDatasetFileBytes = int64_t{2} << 30;

// The file's bytes; fails naming the file if it cannot be read or exceeds max_bytes.
std::vector<uint8_t> ReadFileBytes(const std::string& path, int64_t max_bytes = kMaxDatasetFileBytes);

// True if the data starts with the gzip magic bytes 1f 8b.
bool IsGzip(const std::vector<uint8_t>& data);

// Inflates gzip data (one or more concatenated members), streaming, and fails
// naming `path` on corrupt or truncated input or output beyond max_bytes.
std::vector<uint8_t> Gunzip(const std::vector<uint8_t>& gz, const std::string& path,
                            int64_t max_bytes = kMaxDatasetFileBytes);

// The file's contents, gunzipped if they start with the gzip magic.
std::vector<uint8_t> ReadMaybeGzipped(const std::string& path, int64_t max_bytes = kMaxDatasetFileBytes);

}  // namespace nibble
