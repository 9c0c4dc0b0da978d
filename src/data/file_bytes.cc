#include "data/file_bytes.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "nibble/error.h"

namespace nibble {

std::vector<uint8_t> ReadFileBytes(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  NIBBLE_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a directory, expected a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  NIBBLE_CHECK(f, path, ": cannot open (", std::strerror(errno), ")");
  std::vector<uint8_t> data;
  // Read in chunks rather than trusting a size query: works for pipes too and
  // never allocates more than was actually read (+ one chunk).
  constexpr size_t kChunk = size_t{1} << 20;
  while (true) {
    size_t old = data.size();
    if (static_cast<int64_t>(old) > max_bytes) {
      std::fclose(f);
      Fail(path, ": file is larger than the limit of ", max_bytes, " bytes");
    }
    data.resize(old + kChunk);
    size_t got = std::fread(data.data() + old, 1, kChunk, f);
    data.resize(old + got);
    if (got < kChunk) break;
  }
  bool err = std::ferror(f);
  std::fclose(f);
  NIBBLE_CHECK(!err, path, ": read error");
  NIBBLE_CHECK(static_cast<int64_t>(data.size()) <= max_bytes, path, ": file is larger than the limit of ", max_bytes,
               " bytes");
  return data;
}

bool IsGzip(const std::vector<uint8_t>& data) { return data.size() >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

std::vector<uint8_t> Gunzip(const std::vector<uint8_t>& gz, const std::string& path, int64_t max_bytes) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  NIBBLE_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, path, ": cannot initialise zlib");
  struct Guard {
    z_stream* z;
    ~Guard() { inflateEnd(z); }
  } guard{&zs};

  std::vector<uint8_t> out;
  const uint8_t* in = gz.data();
  size_t in_left = gz.size();
  constexpr size_t kChunk = size_t{1} << 20;
  while (true) {
    // zlib counts in 32-bit uInt; feed at most 1 GiB at a time.
    zs.next_in = const_cast<Bytef*>(in);
    zs.avail_in = static_cast<uInt>(std::min<size_t>(in_left, size_t{1} << 30));
    size_t fed = zs.avail_in;
    size_t old = out.size();
    NIBBLE_CHECK(static_cast<int64_t>(old) <= max_bytes, path, ": decompresses to more than the limit of ", max_bytes,
                 " bytes");
    out.resize(old + kChunk);
    zs.next_out = out.data() + old;
    zs.avail_out = static_cast<uInt>(kChunk);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + (kChunk - zs.avail_out));
    size_t used = fed - zs.avail_in;
    in += used;
    in_left -= used;
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (as `cat a.gz b.gz` makes); trailing
      // zero padding is tolerated, anything else is not.
      if (in_left >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
        NIBBLE_CHECK(inflateReset(&zs) == Z_OK, path, ": zlib reset failed");
        continue;
      }
      NIBBLE_CHECK(std::all_of(in, in + in_left, [](uint8_t b) { return b == 0; }), path, ": ", in_left,
                   " bytes of garbage after the gzip data");
      break;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR)
      Fail(path, ": corrupt gzip data (", zs.msg ? zs.msg : "zlib error", ")");
    // Z_OK or Z_BUF_ERROR: no progress with all input consumed means it ended early.
    if (in_left == 0 && zs.avail_out != 0) Fail(path, ": truncated gzip data (ends before the end of the stream)");
  }
  NIBBLE_CHECK(static_cast<int64_t>(out.size()) <= max_bytes, path, ": decompresses to more than the limit of ",
               max_bytes, " bytes");
  return out;
}

std::vector<uint8_t> ReadMaybeGzipped(const std::string& path, int64_t max_bytes) {
  std::vector<uint8_t> data = ReadFileBytes(path, max_bytes);
  if (IsGzip(data)) return Gunzip(data, path, max_bytes);
  return data;
}

}  // namespace nibble
