// Sub-byte integer tensors: pack and unpack codes of 1..8 bits.
//
// Kinds: signed integers (int2..int8, two's complement, optionally narrow:
// no -2^(b-1)), unsigned (uint1..uint8, optionally narrow: no 2^b-1),
// ternary {-1, 0, +1} (2-bit two's complement storage; the pattern 10 = -2 is
// invalid), bipolar {-1, +1} (1 bit: 0 -> -1, 1 -> +1) and binary {0, 1}.
//
// Layout: a row of `row_len` elements is a bit stream, element j at bit
// j*bits. Bit order within a byte:
//   kLsbFirst  stream bit p is bit (p % 8) of byte p / 8, and an element's least
//              significant bit comes first: ONNX INT4/UINT4 (element 0 in the low nibble).
//   kMsbFirst  stream bit p is bit 7 - (p % 8), most significant bit first
//              (element 0 in the high nibble; what bit-plane kernels read).
// Rows start at a multiple of `row_align_bits` (1: rows run on without
// padding; 8: whole bytes; 64: whole 64-bit words). Padding bits are zero.
//
// Unpacking takes the number of bytes actually present and fails (nibble::Error)
// before reading past them, and on codes outside the kind's range.
#pragma once
#include <cstdint>
#include <string>

namespace nibble {

enum class BitOrder { kLsbFirst, kMsbFirst };

struct PackedFormat {
  enum class Kind { kInt, kUInt, kTernary, kBipolar, kBinary };
  Kind kind = Kind::kInt;
  int bits = 4;  // storage bits per element
  bool narrow = false;
  BitOrder order = BitOrder::kLsbFirst;
  int row_align_bits = 1;

  static PackedFormat Int(int bits, bool narrow = false, BitOrder o = BitOrder::kLsbFirst);
  static PackedFormat UInt(int bits, bool narrow = false, BitOrder o = BitOrder::kLsbFirst);
  static PackedFormat Ternary(BitOrder o = BitOrder::kLsbFirst);
  static PackedFormat Bipolar(BitOrder o = BitOrder::kLsbFirst);
  static PackedFormat Binary(BitOrder o = BitOrder::kLsbFirst);
  PackedFormat WithRowAlign(int align_bits) const;

  int32_t min_value() const;
  int32_t max_value() const;
  bool Valid(int32_t v) const;  // in range (bipolar: -1 or +1 only)
  std::string Name() const;     // "int4", "uint3 narrow", "ternary", ...
};

// Bits from one row's start to the next (padded to row_align_bits).
int64_t PackedRowStrideBits(const PackedFormat& f, int64_t row_len);
// Bytes that `rows` rows of `row_len` elements occupy; fails on overflow.
int64_t PackedBytes(const PackedFormat& f, int64_t rows, int64_t row_len);

// T: int8_t, uint8_t or int32_t. Pack fails when a value is outside the format
// or `out_bytes` is less than PackedBytes; Unpack when `in_bytes` is less than
// PackedBytes (truncated input) or a stored code is invalid.
template <class T>
void PackBits(const T* values, int64_t rows, int64_t row_len, const PackedFormat& f, uint8_t* out, int64_t out_bytes);
template <class T>
void UnpackBits(const uint8_t* in, int64_t in_bytes, int64_t rows, int64_t row_len, const PackedFormat& f, T* out);

}  // namespace nibble
