#include "onnx/tensor_proto.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/limits.h"
#include "base/packed_bits.h"

namespace nibble {
namespace fs = std::filesystem;

DType DTypeFromOnnx(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::kFloat32;
    case onnx::TensorProto::DOUBLE: return DType::kFloat64;
    case onnx::TensorProto::FLOAT16: return DType::kFloat16;
    case onnx::TensorProto::INT8: return DType::kInt8;
    case onnx::TensorProto::UINT8: return DType::kUInt8;
    case onnx::TensorProto::INT16: return DType::kInt16;
    case onnx::TensorProto::UINT16: return DType::kUInt16;
    case onnx::TensorProto::INT32: return DType::kInt32;
    case onnx::TensorProto::UINT32: return DType::kUInt32;
    case onnx::TensorProto::INT64: return DType::kInt64;
    case onnx::TensorProto::UINT64: return DType::kUInt64;
    case onnx::TensorProto::BOOL: return DType::kBool;
    default: return DType::kUndefined;
  }
}

int DTypeToOnnx(DType t) {
  switch (t) {
    case DType::kFloat32: return onnx::TensorProto::FLOAT;
    case DType::kFloat64: return onnx::TensorProto::DOUBLE;
    case DType::kFloat16: return onnx::TensorProto::FLOAT16;
    case DType::kInt8: return onnx::TensorProto::INT8;
    case DType::kUInt8: return onnx::TensorProto::UINT8;
    case DType::kInt16: return onnx::TensorProto::INT16;
    case DType::kUInt16: return onnx::TensorProto::UINT16;
    case DType::kInt32: return onnx::TensorProto::INT32;
    case DType::kUInt32: return onnx::TensorProto::UINT32;
    case DType::kInt64: return onnx::TensorProto::INT64;
    case DType::kUInt64: return onnx::TensorProto::UINT64;
    case DType::kBool: return onnx::TensorProto::BOOL;
    default: return onnx::TensorProto::UNDEFINED;
  }
}

const char* OnnxTypeName(int t) {
  // Spelled out: the onnx headers Debian ships predate float8 (17-20), int4 (21-22) and float4 (23).
  static const char* const kNames[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                       "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                       "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                       "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1"};
  if (t >= 0 && t < static_cast<int>(sizeof kNames / sizeof kNames[0])) return kNames[t];
  return "unknown";
}

namespace {

// Resolves an external-data location inside `dir`, refusing anything that
// escapes it (absolute paths, "..", symlinks out): the ONNX path-traversal class.
fs::path ResolveExternal(const std::string& location, const std::string& dir, const std::string& what) {
  NIBBLE_CHECK(!dir.empty(), what, ": external data is not allowed here (no model folder)");
  fs::path loc(location);
  NIBBLE_CHECK(!location.empty(), what, ": external data has an empty location");
  NIBBLE_CHECK(!loc.is_absolute() && !loc.has_root_name() && !loc.has_root_directory(), what,
               ": external data location '", location, "' is absolute; it must be relative to the model's folder");
  for (const auto& part : loc)
    NIBBLE_CHECK(part != "..", what, ": external data location '", location, "' leaves the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(dir), ec);
  fs::path full = fs::weakly_canonical(fs::path(dir) / loc, ec);
  NIBBLE_CHECK(!ec, what, ": cannot resolve external data location '", location, "'");
  auto rel = full.lexically_relative(base);
  NIBBLE_CHECK(!rel.empty() && *rel.begin() != "..", what, ": external data location '", location,
               "' resolves outside the model's folder");
  return full;
}

void ReadExternal(const onnx::TensorProto& p, const std::string& what, const std::string& dir, void* dst,
                  int64_t nbytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset" || kv.key() == "length") {
      char* end = nullptr;
      long long v = std::strtoll(kv.value().c_str(), &end, 10);
      NIBBLE_CHECK(end && *end == '\0' && v >= 0, what, ": bad external data ", kv.key(), " '", kv.value(), "'");
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  fs::path file = ResolveExternal(location, dir, what);
  if (length < 0) length = nbytes;
  NIBBLE_CHECK(length == nbytes, what, ": external data length ", length, " does not match its shape (", nbytes,
               " bytes)");
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  NIBBLE_CHECK(!ec, what, ": cannot open external data file '", location, "'");
  NIBBLE_CHECK(offset <= static_cast<int64_t>(size) && length <= static_cast<int64_t>(size) - offset, what,
               ": external data file '", location, "' is too short (", size, " bytes) for offset ", offset,
               " + length ", length);
  std::ifstream f(file, std::ios::binary);
  f.seekg(offset);
  f.read(static_cast<char*>(dst), length);
  NIBBLE_CHECK(f || length == 0, what, ": reading external data file '", location, "' failed");
}

template <class Dst, class Src>
void CopyConvert(const Src& field, void* dst, int64_t n) {
  Dst* d = static_cast<Dst*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<Dst>(field.Get(static_cast<int>(i)));
}

}  // namespace

namespace {

constexpr int kOnnxUInt4 = 21, kOnnxInt4 = 22;

// The tensor's shape, checked: not segmented, rank within kMaxRank, no negative dimension.
Shape CheckedShape(const onnx::TensorProto& p, const std::string& what) {
  NIBBLE_CHECK(!p.has_segment(), what, ": segmented tensors are not supported");
  NIBBLE_CHECK(p.dims_size() <= kMaxRank, what, ": rank ", p.dims_size(), " exceeds ", kMaxRank);
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape) NIBBLE_CHECK(d >= 0, what, ": negative dimension in shape ", ShapeStr(shape));
  return shape;
}

// The element count, failing on int64 overflow.
int64_t ShapeNumelChecked(const Shape& shape, const std::string& what) {
  int64_t numel = 1;
  for (int64_t d : shape) numel = CheckedMul(numel, d, (what + ": element count").c_str());
  return numel;
}

// INT4/UINT4: two elements per byte, element 0 in the low nibble (raw_data,
// external data, or int32_data holding one packed byte per entry), read into
// int8/uint8. The byte count is checked against the element count first.
Tensor Int4FromProto(const onnx::TensorProto& p, const std::string& what, const std::string& model_dir) {
  const bool is_signed = p.data_type() == kOnnxInt4;
  const DType dtype = is_signed ? DType::kInt8 : DType::kUInt8;
  const Shape shape = CheckedShape(p, what);
  const int64_t numel = ShapeNumelChecked(shape, what);
  const PackedFormat f = is_signed ? PackedFormat::Int(4) : PackedFormat::UInt(4);
  const int64_t packed = PackedBytes(f, 1, numel);
  NIBBLE_CHECK(numel <= MaxTensorBytes(), what, ": tensor of ", numel, " bytes exceeds the limit of ", MaxTensorBytes(),
               " (NIBBLE_MAX_TENSOR_BYTES)");
  std::string bytes;
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    bytes.resize(static_cast<size_t>(packed));
    ReadExternal(p, what, model_dir, bytes.data(), packed);
  } else if (p.has_raw_data()) {
    NIBBLE_CHECK(static_cast<int64_t>(p.raw_data().size()) == packed, what, ": raw_data holds ", p.raw_data().size(),
                 " bytes but shape ", ShapeStr(shape), " of ", OnnxTypeName(p.data_type()), " needs ", packed);
    bytes = p.raw_data();
  } else {
    NIBBLE_CHECK(p.int32_data_size() == packed, what, ": holds ", p.int32_data_size(), " packed values but shape ",
                 ShapeStr(shape), " of ", OnnxTypeName(p.data_type()), " needs ", packed);
    bytes.resize(static_cast<size_t>(packed));
    for (int64_t i = 0; i < packed; ++i) bytes[i] = static_cast<char>(p.int32_data(static_cast<int>(i)) & 0xff);
  }
  Tensor t(dtype, shape);
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  if (is_signed) UnpackBits(in, static_cast<int64_t>(bytes.size()), 1, numel, f, t.data<int8_t>());
  else UnpackBits(in, static_cast<int64_t>(bytes.size()), 1, numel, f, t.data<uint8_t>());
  return t;
}

}  // namespace

Tensor TensorFromProto(const onnx::TensorProto& p, const std::string& what, const std::string& model_dir) {
  if (p.data_type() == kOnnxInt4 || p.data_type() == kOnnxUInt4) return Int4FromProto(p, what, model_dir);
  DType dtype = DTypeFromOnnx(p.data_type());
  NIBBLE_CHECK(dtype != DType::kUndefined, what, ": tensor type ", OnnxTypeName(p.data_type()),
               " is not supported");
  const Shape shape = CheckedShape(p, what);
  const int64_t numel = ShapeNumelChecked(shape, what);
  int64_t elem = static_cast<int64_t>(DTypeSize(dtype));
  int64_t nbytes = CheckedMul(numel, elem, (what + ": byte size").c_str());

  // Validate the payload length against the shape *before* allocating.
  enum { kRaw, kExternal, kTyped } source = kTyped;
  int64_t typed_count = 0;
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    source = kExternal;
  } else if (p.has_raw_data()) {
    source = kRaw;
    NIBBLE_CHECK(static_cast<int64_t>(p.raw_data().size()) == nbytes, what, ": raw_data holds ", p.raw_data().size(),
                 " bytes but shape ", ShapeStr(shape), " of ", DTypeName(dtype), " needs ", nbytes);
  } else {
    switch (dtype) {
      case DType::kFloat32: typed_count = p.float_data_size(); break;
      case DType::kFloat64: typed_count = p.double_data_size(); break;
      case DType::kInt64: typed_count = p.int64_data_size(); break;
      case DType::kUInt32:
      case DType::kUInt64: typed_count = p.uint64_data_size(); break;
      default: typed_count = p.int32_data_size(); break;
    }
    NIBBLE_CHECK(typed_count == numel, what, ": holds ", typed_count, " values but shape ", ShapeStr(shape),
                 " needs ", numel);
  }
  NIBBLE_CHECK(nbytes <= MaxTensorBytes(), what, ": tensor of ", nbytes, " bytes exceeds the limit of ",
               MaxTensorBytes(), " (NIBBLE_MAX_TENSOR_BYTES)");
  Tensor t(dtype, shape);
  void* dst = t.raw();
  if (source == kExternal) {
    ReadExternal(p, what, model_dir, dst, nbytes);
  } else if (source == kRaw) {
    if (nbytes) std::memcpy(dst, p.raw_data().data(), nbytes);
  } else {
    switch (dtype) {
      case DType::kFloat32: CopyConvert<float>(p.float_data(), dst, numel); break;
      case DType::kFloat64: CopyConvert<double>(p.double_data(), dst, numel); break;
      case DType::kInt64: CopyConvert<int64_t>(p.int64_data(), dst, numel); break;
      case DType::kUInt32: CopyConvert<uint32_t>(p.uint64_data(), dst, numel); break;
      case DType::kUInt64: CopyConvert<uint64_t>(p.uint64_data(), dst, numel); break;
      case DType::kInt32: CopyConvert<int32_t>(p.int32_data(), dst, numel); break;
      case DType::kInt16: CopyConvert<int16_t>(p.int32_data(), dst, numel); break;
      case DType::kUInt16: CopyConvert<uint16_t>(p.int32_data(), dst, numel); break;
      case DType::kFloat16: CopyConvert<uint16_t>(p.int32_data(), dst, numel); break;  // bit patterns
      case DType::kInt8: CopyConvert<int8_t>(p.int32_data(), dst, numel); break;
      case DType::kUInt8: CopyConvert<uint8_t>(p.int32_data(), dst, numel); break;
      case DType::kBool: {
        bool* d = static_cast<bool*>(dst);
        for (int64_t i = 0; i < numel; ++i) d[i] = p.int32_data(static_cast<int>(i)) != 0;
        break;
      }
      default: Fail(what, ": cannot read ", DTypeName(dtype));
    }
  }
  if (dtype == DType::kBool) {  // normalize any nonzero byte to true
    uint8_t* b = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < numel; ++i) b[i] = b[i] != 0;
  }
  return t;
}

void AppendTensorBytesLE(const Tensor& t, std::string* out) {
  const char* src = static_cast<const char*>(t.raw());
  const size_t n = t.nbytes();
  const size_t start = out->size();
  if (n) out->append(src, n);
  if constexpr (std::endian::native == std::endian::big) {
    const size_t elem = DTypeSize(t.dtype());
    for (size_t i = start; elem > 1 && i < out->size(); i += elem) std::reverse(out->begin() + i, out->begin() + i + elem);
  }
}

void TensorToProto(const Tensor& t, onnx::TensorProto* p) {
  const int type = DTypeToOnnx(t.dtype());
  NIBBLE_CHECK(type != onnx::TensorProto::UNDEFINED, "cannot write a tensor of type ", DTypeName(t.dtype()));
  p->set_data_type(type);
  for (int64_t d : t.shape()) p->add_dims(d);
  // raw_data for every type: exact bits (float16 patterns, NaN payloads) and
  // one layout for inline and external data alike.
  AppendTensorBytesLE(t, p->mutable_raw_data());
}

void Int4ToProto(const Tensor& t, onnx::TensorProto* p, const std::string& what) {
  const bool is_signed = t.dtype() == DType::kInt8;
  NIBBLE_CHECK(is_signed || t.dtype() == DType::kUInt8, what, ": only int8/uint8 codes can be written as INT4, not ",
               DTypeName(t.dtype()));
  p->set_data_type(is_signed ? kOnnxInt4 : kOnnxUInt4);
  for (int64_t d : t.shape()) p->add_dims(d);
  const PackedFormat f = is_signed ? PackedFormat::Int(4) : PackedFormat::UInt(4);
  const int64_t numel = t.numel();
  std::string* raw = p->mutable_raw_data();
  raw->assign(static_cast<size_t>(PackedBytes(f, 1, numel)), '\0');
  auto* out = reinterpret_cast<uint8_t*>(raw->data());
  try {
    if (is_signed) PackBits(t.data<int8_t>(), 1, numel, f, out, static_cast<int64_t>(raw->size()));
    else PackBits(t.data<uint8_t>(), 1, numel, f, out, static_cast<int64_t>(raw->size()));
  } catch (const Error& e) {
    Fail(what, ": cannot write as ", is_signed ? "INT4" : "UINT4", ": ", e.what());
  }
}

}  // namespace nibble
