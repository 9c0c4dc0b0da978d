// Sub-byte packing (base/packed_bits.h): round trips for every kind, width,
// bit order and row alignment over random data with odd lengths; byte layouts
// checked by hand; truncated buffers and invalid codes rejected; the ONNX
// importer's INT4/UINT4 initializers.
#include "base/packed_bits.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <random>
#include <vector>

#include "nibble/error.h"
#include "onnx/tensor_proto.h"

namespace nibble {
namespace {

std::vector<PackedFormat> AllFormats() {
  std::vector<PackedFormat> fs;
  for (BitOrder o : {BitOrder::kLsbFirst, BitOrder::kMsbFirst}) {
    for (int b = 2; b <= 8; ++b)
      for (bool narrow : {false, true}) fs.push_back(PackedFormat::Int(b, narrow, o));
    for (int b = 1; b <= 8; ++b)
      for (bool narrow : {false, true})
        if (!(b == 1 && narrow)) fs.push_back(PackedFormat::UInt(b, narrow, o));
    fs.push_back(PackedFormat::Ternary(o));
    fs.push_back(PackedFormat::Bipolar(o));
    fs.push_back(PackedFormat::Binary(o));
  }
  return fs;
}

std::vector<int32_t> RandomCodes(const PackedFormat& f, int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> d(f.min_value(), f.max_value());
  std::vector<int32_t> v(n);
  for (auto& x : v) {
    do x = d(rng);
    while (!f.Valid(x));  // bipolar: skip 0
  }
  return v;
}

TEST(PackedBits, RoundTripEveryFormatOrderAndAlignment) {
  std::mt19937 rng(7);
  for (const PackedFormat& base : AllFormats())
    for (int align : {1, 8, 64})
      for (int64_t rows : {1, 3})
        for (int64_t len : {0, 1, 5, 7, 13, 64, 67}) {
          const PackedFormat f = base.WithRowAlign(align);
          auto v = RandomCodes(f, rows * len, rng);
          const int64_t bytes = PackedBytes(f, rows, len);
          const int64_t stride = PackedRowStrideBits(f, len);
          EXPECT_EQ(stride % align, 0);
          EXPECT_EQ(bytes, (rows * stride + 7) / 8);
          std::vector<uint8_t> buf(bytes + 1, 0xAB);
          PackBits(v.data(), rows, len, f, buf.data(), bytes);
          EXPECT_EQ(buf[bytes], 0xAB) << "wrote past the end: " << f.Name();
          std::vector<int32_t> back(rows * len, 99);
          UnpackBits(buf.data(), bytes, rows, len, f, back.data());
          ASSERT_EQ(back, v) << f.Name() << " align " << align << " rows " << rows << " len " << len;
          if (f.min_value() >= -128 && f.max_value() <= 127) {
            std::vector<int8_t> v8(v.begin(), v.end()), b8(v.size());
            UnpackBits(buf.data(), bytes, rows, len, f, b8.data());
            EXPECT_EQ(b8, v8);
          }
        }
}

TEST(PackedBits, HandCheckedLayouts) {
  uint8_t b[4] = {};
  // int4 LSB-first (ONNX INT4): element 0 in the low nibble.
  const int8_t i4[3] = {1, -2, 7};
  PackBits(i4, 1, 3, PackedFormat::Int(4), b, 2);
  EXPECT_EQ(b[0], 0xE1);  // -2 = 0xE, 1 = 0x1
  EXPECT_EQ(b[1], 0x07);  // odd length: the high nibble is zero padding
  PackBits(i4, 1, 3, PackedFormat::Int(4, false, BitOrder::kMsbFirst), b, 2);
  EXPECT_EQ(b[0], 0x1E);
  EXPECT_EQ(b[1], 0x70);
  // uint4: 15, 0
  const uint8_t u4[2] = {15, 3};
  PackBits(u4, 1, 2, PackedFormat::UInt(4), b, 1);
  EXPECT_EQ(b[0], 0x3F);
  // Bipolar: -1 -> 0, +1 -> 1.
  const int8_t bp[8] = {1, -1, -1, 1, 1, 1, -1, -1};
  PackBits(bp, 1, 8, PackedFormat::Bipolar(), b, 1);
  EXPECT_EQ(b[0], 0x39);  // bits 0,3,4,5
  PackBits(bp, 1, 8, PackedFormat::Bipolar(BitOrder::kMsbFirst), b, 1);
  EXPECT_EQ(b[0], 0x9C);
  // Ternary: -1 -> 11, 0 -> 00, 1 -> 01.
  const int8_t t[4] = {-1, 0, 1, -1};
  PackBits(t, 1, 4, PackedFormat::Ternary(), b, 1);
  EXPECT_EQ(b[0], 0xD3);  // 11 | 00<<2 | 01<<4 | 11<<6
  PackBits(t, 1, 4, PackedFormat::Ternary(BitOrder::kMsbFirst), b, 1);
  EXPECT_EQ(b[0], 0xC7);  // 11 00 01 11
  // int3 crosses bytes: 3, -1, 2 -> 011, 111, 010 -> LSB-first stream 011|111|010.
  const int8_t i3[3] = {3, -1, 2};
  PackBits(i3, 1, 3, PackedFormat::Int(3), b, 2);
  EXPECT_EQ(b[0], 0xBB);  // 0b10111011: 3 | 7<<3 | (2 & 3)<<6
  EXPECT_EQ(b[1], 0x00);  // 2 >> 2 = 0
  // Rows padded to bytes: two rows of 3 binary values -> one byte each.
  const uint8_t bin[6] = {1, 0, 1, 0, 1, 1};
  PackBits(bin, 2, 3, PackedFormat::Binary().WithRowAlign(8), b, 2);
  EXPECT_EQ(b[0], 0x05);
  EXPECT_EQ(b[1], 0x06);
  EXPECT_EQ(PackedBytes(PackedFormat::Binary().WithRowAlign(64), 2, 3), 16);
}

TEST(PackedBits, TruncatedBuffersAreRejected) {
  std::vector<uint8_t> buf(64, 0);
  std::vector<int8_t> out(200);
  for (const PackedFormat& f : AllFormats()) {
    const int64_t need = PackedBytes(f, 3, 13);
    ASSERT_LE(need, 64);
    EXPECT_THROW(UnpackBits(buf.data(), need - 1, 3, 13, f, out.data()), Error) << f.Name();
    EXPECT_THROW(UnpackBits(buf.data(), 0, 1, 1, f, out.data()), Error) << f.Name();
    std::vector<int8_t> zeros(39, f.kind == PackedFormat::Kind::kBipolar ? 1 : 0);
    EXPECT_THROW(PackBits(zeros.data(), 3, 13, f, buf.data(), need - 1), Error) << f.Name();
  }
  // Overflowing sizes fail instead of wrapping.
  EXPECT_THROW(PackedBytes(PackedFormat::Int(4), int64_t{1} << 40, int64_t{1} << 40), Error);
}

TEST(PackedBits, InvalidCodesAreRejected) {
  uint8_t b[2] = {};
  const int8_t too_big[1] = {8};
  EXPECT_THROW(PackBits(too_big, 1, 1, PackedFormat::Int(4), b, 2), Error);
  const int8_t minus8[1] = {-8};
  EXPECT_THROW(PackBits(minus8, 1, 1, PackedFormat::Int(4, true), b, 2), Error);  // narrow
  const int8_t zero[1] = {0};
  EXPECT_THROW(PackBits(zero, 1, 1, PackedFormat::Bipolar(), b, 2), Error);
  // Stored ternary pattern 10 (-2) and narrow int4 -8 are invalid on reading.
  const uint8_t ternary_bad[1] = {0x02};
  int8_t out[4];
  EXPECT_THROW(UnpackBits(ternary_bad, 1, 1, 1, PackedFormat::Ternary(), out), Error);
  const uint8_t i4_bad[1] = {0x08};
  EXPECT_THROW(UnpackBits(i4_bad, 1, 1, 1, PackedFormat::Int(4, true), out), Error);
  UnpackBits(i4_bad, 1, 1, 1, PackedFormat::Int(4), out);
  EXPECT_EQ(out[0], -8);
}

onnx::TensorProto Int4Proto(int type, std::vector<int64_t> dims) {
  onnx::TensorProto p;
  p.set_data_type(type);
  for (int64_t d : dims) p.add_dims(d);
  return p;
}

TEST(PackedBits, OnnxInt4InitializersUnpackWithBoundsChecks) {
  // INT4 [5]: 1, -2, 7, -8, 3 -> bytes 0xE1, 0x87, 0x03.
  auto p = Int4Proto(22, {5});
  p.set_raw_data(std::string("\xE1\x87\x03", 3));
  Tensor t = TensorFromProto(p, "w", "");
  ASSERT_EQ(t.dtype(), DType::kInt8);
  const int8_t want[5] = {1, -2, 7, -8, 3};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.data<int8_t>()[i], want[i]);
  // UINT4 in int32_data: one packed byte per entry.
  auto u = Int4Proto(21, {2, 2});
  u.add_int32_data(0xF0);
  u.add_int32_data(0x21);
  Tensor tu = TensorFromProto(u, "u", "");
  ASSERT_EQ(tu.dtype(), DType::kUInt8);
  const uint8_t uwant[4] = {0, 15, 1, 2};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(tu.data<uint8_t>()[i], uwant[i]);
  // Truncated and oversized payloads, and huge element counts, are refused before reading.
  auto cut = Int4Proto(22, {5});
  cut.set_raw_data(std::string("\xE1\x87", 2));
  EXPECT_THROW(TensorFromProto(cut, "cut", ""), Error);
  auto extra = Int4Proto(22, {2});
  extra.set_raw_data(std::string("\xE1\x87", 2));
  EXPECT_THROW(TensorFromProto(extra, "extra", ""), Error);
  auto typed = Int4Proto(21, {5});
  typed.add_int32_data(1);
  EXPECT_THROW(TensorFromProto(typed, "typed", ""), Error);
  auto huge = Int4Proto(22, {int64_t{1} << 40, int64_t{1} << 30});
  EXPECT_THROW(TensorFromProto(huge, "huge", ""), Error);
}

TEST(PackedBits, OnnxTypeNamesIncludeFloat8AndInt4) {
  EXPECT_STREQ(OnnxTypeName(17), "FLOAT8E4M3FN");
  EXPECT_STREQ(OnnxTypeName(20), "FLOAT8E5M2FNUZ");
  EXPECT_STREQ(OnnxTypeName(21), "UINT4");
  EXPECT_STREQ(OnnxTypeName(22), "INT4");
  EXPECT_STREQ(OnnxTypeName(99), "unknown");
  auto p = Int4Proto(19, {1});
  p.set_raw_data(std::string("\x00", 1));
  try {
    TensorFromProto(p, "f8", "");
    FAIL() << "float8 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FLOAT8E5M2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nibble
