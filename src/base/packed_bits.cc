#include "base/packed_bits.h"

#include <cstring>

#include "base/limits.h"
#include "nibble/error.h"

namespace nibble {
namespace {

void CheckFormat(const PackedFormat& f) {
  using K = PackedFormat::Kind;
  NIBBLE_CHECK(f.bits >= 1 && f.bits <= 8, "packed bits: width ", f.bits, " is outside 1..8");
  NIBBLE_CHECK(f.kind != K::kInt || f.bits >= 2, "packed bits: a signed integer needs at least 2 bits");
  NIBBLE_CHECK(f.kind != K::kTernary || f.bits == 2, "packed bits: ternary is stored in 2 bits");
  NIBBLE_CHECK((f.kind != K::kBipolar && f.kind != K::kBinary) || f.bits == 1, "packed bits: binary kinds use 1 bit");
  NIBBLE_CHECK(!(f.kind == K::kUInt && f.narrow && f.bits == 1), "packed bits: narrow uint1 holds only 0");
  NIBBLE_CHECK(f.row_align_bits >= 1 && f.row_align_bits <= 4096, "packed bits: row alignment ", f.row_align_bits,
               " is outside 1..4096 bits");
}

// Field value (the stored bit pattern) of v, and back.
uint32_t Encode(const PackedFormat& f, int32_t v) {
  if (f.kind == PackedFormat::Kind::kBipolar) return v > 0 ? 1u : 0u;
  return static_cast<uint32_t>(v) & ((1u << f.bits) - 1u);
}
int32_t Decode(const PackedFormat& f, uint32_t field) {
  switch (f.kind) {
    case PackedFormat::Kind::kBipolar: return field ? 1 : -1;
    case PackedFormat::Kind::kInt:
    case PackedFormat::Kind::kTernary: {
      const uint32_t sign = 1u << (f.bits - 1);
      return static_cast<int32_t>(field ^ sign) - static_cast<int32_t>(sign);
    }
    default: return static_cast<int32_t>(field);
  }
}

inline void PutBit(uint8_t* out, int64_t p, BitOrder o) {
  out[p >> 3] |= static_cast<uint8_t>(o == BitOrder::kLsbFirst ? 1u << (p & 7) : 0x80u >> (p & 7));
}
inline uint32_t GetBit(const uint8_t* in, int64_t p, BitOrder o) {
  return o == BitOrder::kLsbFirst ? (in[p >> 3] >> (p & 7)) & 1u : (in[p >> 3] >> (7 - (p & 7))) & 1u;
}

}  // namespace

PackedFormat PackedFormat::Int(int bits, bool narrow, BitOrder o) { return {Kind::kInt, bits, narrow, o, 1}; }
PackedFormat PackedFormat::UInt(int bits, bool narrow, BitOrder o) { return {Kind::kUInt, bits, narrow, o, 1}; }
PackedFormat PackedFormat::Ternary(BitOrder o) { return {Kind::kTernary, 2, true, o, 1}; }
PackedFormat PackedFormat::Bipolar(BitOrder o) { return {Kind::kBipolar, 1, false, o, 1}; }
PackedFormat PackedFormat::Binary(BitOrder o) { return {Kind::kBinary, 1, false, o, 1}; }
PackedFormat PackedFormat::WithRowAlign(int align_bits) const {
  PackedFormat f = *this;
  f.row_align_bits = align_bits;
  return f;
}

int32_t PackedFormat::min_value() const {
  switch (kind) {
    case Kind::kInt: return -(1 << (bits - 1)) + (narrow ? 1 : 0);
    case Kind::kTernary:
    case Kind::kBipolar: return -1;
    default: return 0;
  }
}
int32_t PackedFormat::max_value() const {
  switch (kind) {
    case Kind::kInt: return (1 << (bits - 1)) - 1;
    case Kind::kUInt: return (1 << bits) - 1 - (narrow ? 1 : 0);
    default: return 1;
  }
}
bool PackedFormat::Valid(int32_t v) const {
  if (kind == Kind::kBipolar) return v == -1 || v == 1;
  return v >= min_value() && v <= max_value();
}
std::string PackedFormat::Name() const {
  switch (kind) {
    case Kind::kInt: return Cat("int", bits, narrow ? " narrow" : "");
    case Kind::kUInt: return Cat("uint", bits, narrow ? " narrow" : "");
    case Kind::kTernary: return "ternary";
    case Kind::kBipolar: return "bipolar";
    case Kind::kBinary: return "binary";
  }
  return "?";
}

int64_t PackedRowStrideBits(const PackedFormat& f, int64_t row_len) {
  CheckFormat(f);
  NIBBLE_CHECK(row_len >= 0, "packed bits: negative row length");
  int64_t bits = CheckedMul(row_len, f.bits, "packed row bits");
  const int64_t a = f.row_align_bits;
  if (a > 1) bits = (bits + a - 1) / a * a;
  return bits;
}

int64_t PackedBytes(const PackedFormat& f, int64_t rows, int64_t row_len) {
  NIBBLE_CHECK(rows >= 0, "packed bits: negative row count");
  const int64_t total = CheckedMul(rows, PackedRowStrideBits(f, row_len), "packed tensor bits");
  return total / 8 + (total % 8 != 0);
}

template <class T>
void PackBits(const T* values, int64_t rows, int64_t row_len, const PackedFormat& f, uint8_t* out, int64_t out_bytes) {
  const int64_t need = PackedBytes(f, rows, row_len);
  NIBBLE_CHECK(out_bytes >= need, "packed bits: ", rows, "x", row_len, " ", f.Name(), " values need ", need,
               " bytes, the buffer has ", out_bytes);
  if (need) std::memset(out, 0, static_cast<size_t>(need));
  const int64_t stride = PackedRowStrideBits(f, row_len);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < row_len; ++j) {
      const int32_t v = static_cast<int32_t>(values[r * row_len + j]);
      NIBBLE_CHECK(f.Valid(v), "packed bits: value ", v, " at [", r, ", ", j, "] is not a valid ", f.Name(), " code");
      const uint32_t field = Encode(f, v);
      const int64_t p = r * stride + j * f.bits;
      for (int k = 0; k < f.bits; ++k) {
        // LSB-first streams take the element's low bit first; MSB-first its high bit.
        const int bit = f.order == BitOrder::kLsbFirst ? k : f.bits - 1 - k;
        if ((field >> bit) & 1u) PutBit(out, p + k, f.order);
      }
    }
}

template <class T>
void UnpackBits(const uint8_t* in, int64_t in_bytes, int64_t rows, int64_t row_len, const PackedFormat& f, T* out) {
  const int64_t need = PackedBytes(f, rows, row_len);
  NIBBLE_CHECK(in_bytes >= need, "packed bits: ", rows, "x", row_len, " ", f.Name(), " values need ", need,
               " bytes but only ", in_bytes, " are present");
  const int64_t stride = PackedRowStrideBits(f, row_len);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < row_len; ++j) {
      const int64_t p = r * stride + j * f.bits;
      uint32_t field = 0;
      for (int k = 0; k < f.bits; ++k) {
        const int bit = f.order == BitOrder::kLsbFirst ? k : f.bits - 1 - k;
        field |= GetBit(in, p + k, f.order) << bit;
      }
      const int32_t v = Decode(f, field);
      NIBBLE_CHECK(f.Valid(v), "packed bits: stored code ", v, " at [", r, ", ", j, "] is not a valid ", f.Name());
      out[r * row_len + j] = static_cast<T>(v);
    }
}

template void PackBits<int8_t>(const int8_t*, int64_t, int64_t, const PackedFormat&, uint8_t*, int64_t);
template void PackBits<uint8_t>(const uint8_t*, int64_t, int64_t, const PackedFormat&, uint8_t*, int64_t);
template void PackBits<int32_t>(const int32_t*, int64_t, int64_t, const PackedFormat&, uint8_t*, int64_t);
template void UnpackBits<int8_t>(const uint8_t*, int64_t, int64_t, int64_t, const PackedFormat&, int8_t*);
template void UnpackBits<uint8_t>(const uint8_t*, int64_t, int64_t, int64_t, const PackedFormat&, uint8_t*);
template void UnpackBits<int32_t>(const uint8_t*, int64_t, int64_t, int64_t, const PackedFormat&, int32_t*);

}  // namespace nibble
