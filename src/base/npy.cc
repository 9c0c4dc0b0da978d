#include "base/npy.h"

#include <cstring>
#include <fstream>
#include <regex>

#include "base/limits.h"

namespace nibble {
namespace {

struct NpyType {
  const char* descr;
  DType dtype;
};
const NpyType kTypes[] = {
    {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16}, {"|i1", DType::kInt8},
    {"|u1", DType::kUInt8},   {"<i2", DType::kInt16},   {"<u2", DType::kUInt16},  {"<i4", DType::kInt32},
    {"<u4", DType::kUInt32},  {"<i8", DType::kInt64},   {"<u8", DType::kUInt64},  {"|b1", DType::kBool},
};

}  // namespace

NpyInfo ReadNpyInfo(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NIBBLE_CHECK(f, path, ": cannot open");
  char magic[8];
  f.read(magic, 8);
  NIBBLE_CHECK(f && std::memcmp(magic, "\x93NUMPY", 6) == 0, path, ": not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint8_t b[2];
    f.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    uint8_t b[4];
    f.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  }
  NIBBLE_CHECK(f && header_len < (1u << 20), path, ": bad .npy header");
  std::string header(header_len, '\0');
  f.read(header.data(), header_len);
  NIBBLE_CHECK(f, path, ": truncated .npy header");

  std::smatch m;
  NIBBLE_CHECK(std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")), path, ": .npy header has no descr");
  std::string descr = m[1];
  if (descr == "<b1") descr = "|b1";
  if (descr == "<i1") descr = "|i1";
  if (descr == "<u1") descr = "|u1";
  DType dtype = DType::kUndefined;
  for (const auto& t : kTypes)
    if (descr == t.descr) dtype = t.dtype;
  NIBBLE_CHECK(dtype != DType::kUndefined, path, ": unsupported .npy dtype '", descr, "'");
  NIBBLE_CHECK(std::regex_search(header, m, std::regex("'fortran_order':\\s*False")), path,
               ": Fortran-ordered .npy is not supported");
  NIBBLE_CHECK(std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")), path, ": .npy header has no shape");
  Shape shape;
  std::string dims = m[1];
  std::regex num("[0-9]+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    NIBBLE_CHECK(it->str().size() < 19, path, ": absurd .npy dimension");
    shape.push_back(std::stoll(it->str()));
  }
  // Check the declared size against the file before allocating anything.
  auto data_pos = f.tellg();
  f.seekg(0, std::ios::end);
  int64_t available = static_cast<int64_t>(f.tellg() - data_pos);
  int64_t need = CheckedMul(ShapeNumel(shape), static_cast<int64_t>(DTypeSize(dtype)), ".npy size");
  NIBBLE_CHECK(need <= available, path, ": .npy data is shorter (", available, " bytes) than its shape ",
               ShapeStr(shape), " needs (", need, ")");
  return NpyInfo{dtype, shape, static_cast<int64_t>(data_pos)};
}

Tensor ReadNpyRows(const std::string& path, const NpyInfo& info, int64_t begin, int64_t count) {
  NIBBLE_CHECK(!info.shape.empty(), path, ": a rank-0 .npy has no rows");
  NIBBLE_CHECK(begin >= 0 && count >= 0 && begin + count <= info.shape[0], path, ": rows [", begin, ", ",
               begin + count, ") out of range for shape ", ShapeStr(info.shape));
  Shape row_shape(info.shape.begin() + 1, info.shape.end());
  int64_t row_bytes = CheckedMul(ShapeNumel(row_shape), static_cast<int64_t>(DTypeSize(info.dtype)), ".npy row size");
  Shape out_shape = info.shape;
  out_shape[0] = count;
  Tensor t(info.dtype, out_shape);
  if (t.nbytes() == 0) return t;
  std::ifstream f(path, std::ios::binary);
  NIBBLE_CHECK(f, path, ": cannot open");
  f.seekg(info.data_offset + begin * row_bytes);
  f.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  NIBBLE_CHECK(f, path, ": .npy data is shorter than its shape ", ShapeStr(info.shape), " needs (file changed?)");
  return t;
}

Tensor ReadNpy(const std::string& path) {
  NpyInfo info = ReadNpyInfo(path);
  Tensor t(info.dtype, info.shape);
  if (t.nbytes() == 0) return t;
  std::ifstream f(path, std::ios::binary);
  NIBBLE_CHECK(f, path, ": cannot open");
  f.seekg(info.data_offset);
  f.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  NIBBLE_CHECK(f, path, ": .npy data is shorter than its shape ", ShapeStr(info.shape), " needs");
  return t;
}

void WriteNpy(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  for (const auto& e : kTypes)
    if (e.dtype == t.dtype()) descr = e.descr;
  NIBBLE_CHECK(descr, path, ": cannot write ", DTypeName(t.dtype()), " as .npy");
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ",";
  if (t.shape().size() > 1) shape.pop_back();
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  NIBBLE_CHECK(f, path, ": cannot open for writing");
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  char lb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(lb, 2);
  f.write(header.data(), header.size());
  f.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  NIBBLE_CHECK(f, path, ": write failed");
}

}  // namespace nibble
