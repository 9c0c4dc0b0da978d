// Portable pieces of the bit-serial core: path selection, dispatch, the scalar
// twin of the popcount inner loop, and the scalar packers.
#include "kernels/x86/bitserial_core.h"

#include <cstring>

#include "base/cpu_features.h"
#include "nibble/error.h"

namespace nibble::bitserial {

const char* PopcountPathName(PopcountPath p) {
  switch (p) {
    case PopcountPath::kScalar: return "scalar";
    case PopcountPath::kAvx2: return "avx2-lut";
    case PopcountPath::kAvx512: return "avx512-vpopcntdq";
  }
  return "?";
}

bool PopcountPathSupported(PopcountPath p) {
  switch (p) {
    case PopcountPath::kScalar: return true;
    case PopcountPath::kAvx2: return IsaSupported(Isa::kAvx2);
    case PopcountPath::kAvx512: {
      const CpuFeatures& f = DetectCpuFeatures();
      return IsaSupported(Isa::kAvx512Vnni) && f.avx512vpopcntdq;
    }
  }
  return false;
}

PopcountPath PopcountPathFor(Isa isa) {
  if (isa >= Isa::kAvx512Vnni && PopcountPathSupported(PopcountPath::kAvx512)) return PopcountPath::kAvx512;
  if (isa != Isa::kScalar && PopcountPathSupported(PopcountPath::kAvx2)) return PopcountPath::kAvx2;
  return PopcountPath::kScalar;
}

std::vector<PopcountPath> SupportedPopcountPaths() {
  std::vector<PopcountPath> r;
  for (PopcountPath p : {PopcountPath::kScalar, PopcountPath::kAvx2, PopcountPath::kAvx512})
    if (PopcountPathSupported(p)) r.push_back(p);
  return r;
}

void BitDotRows(PopcountPath path, BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words,
                const uint64_t* w, int32_t* out) {
  NIBBLE_CHECK(ka >= 1 && ka <= kMaxBits && kw >= 1 && kw <= kMaxBits, "bit-serial: bit widths ", ka, "x", kw,
               " outside 1..4");
  NIBBLE_CHECK(op == BitOp::kAnd || (ka == 1 && kw == 1), "bit-serial: XOR needs one plane per operand");
  switch (path) {
    case PopcountPath::kAvx512: return BitDotRowsAvx512(op, ka, kw, a, rows, words, w, out);
    case PopcountPath::kAvx2: return BitDotRowsAvx2(op, ka, kw, a, rows, words, w, out);
    case PopcountPath::kScalar: return BitDotRowsScalar(op, ka, kw, a, rows, words, w, out);
  }
}

void BitDotRowsScalar(BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words, const uint64_t* w,
                      int32_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t* ar = a + r * words * ka;
    for (int l = 0; l < kLanes; ++l) {
      int64_t acc = 0;
      for (int64_t wd = 0; wd < words; ++wd)
        for (int i = 0; i < ka; ++i)
          for (int j = 0; j < kw; ++j) {
            const uint64_t x = ar[wd * ka + i], y = w[(wd * kw + j) * kLanes + l];
            acc += static_cast<int64_t>(__builtin_popcountll(op == BitOp::kAnd ? (x & y) : (x ^ y))) << (i + j);
          }
      out[r * kLanes + l] = static_cast<int32_t>(acc);
    }
  }
}

template <class T>
void PackPlanesRow(const T* code, int64_t stride, int64_t k, int bits, int32_t offset, uint64_t* dst) {
  const int64_t words = (k + 63) / 64;
  std::memset(dst, 0, static_cast<size_t>(words * bits) * sizeof(uint64_t));
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t l = 0; l < k; ++l) {
    const uint32_t u = static_cast<uint32_t>(static_cast<int32_t>(code[l * stride]) + offset) & mask;
    for (int i = 0; i < bits; ++i) dst[(l >> 6) * bits + i] |= static_cast<uint64_t>((u >> i) & 1) << (l & 63);
  }
}

template <class T>
void PackSignRow(const T* code, int64_t stride, int64_t k, int32_t threshold, uint64_t* dst) {
  const int64_t words = (k + 63) / 64;
  std::memset(dst, 0, static_cast<size_t>(words) * sizeof(uint64_t));
  for (int64_t l = 0; l < k; ++l)
    if (static_cast<int32_t>(code[l * stride]) >= threshold) dst[l >> 6] |= uint64_t{1} << (l & 63);
}

template <class T>
void PackPixelsScalar(const PixelPackSpec& s, const T* x, int64_t pixel_lo, int64_t pixel_hi, uint64_t* dst,
                      int32_t* pixel_sum) {
  const int bits = s.binarize ? 1 : s.bits;
  const int64_t cw = (s.channels + 63) / 64;
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t p = pixel_lo; p < pixel_hi; ++p) {
    uint64_t* d = dst + p * cw * bits;
    std::memset(d, 0, static_cast<size_t>(cw * bits) * sizeof(uint64_t));
    int32_t sum = 0;
    for (int64_t c = 0; c < s.channels; ++c) {
      const int32_t v = x[c * s.pixels + p];
      const uint32_t u = s.binarize ? (v >= s.threshold ? 1u : 0u) : (static_cast<uint32_t>(v + s.offset) & mask);
      sum += static_cast<int32_t>(u);
      for (int i = 0; i < bits; ++i) d[(c >> 6) * bits + i] |= static_cast<uint64_t>((u >> i) & 1) << (c & 63);
    }
    if (pixel_sum) pixel_sum[p] = sum;
  }
}

template void PackPlanesRow<uint8_t>(const uint8_t*, int64_t, int64_t, int, int32_t, uint64_t*);
template void PackPlanesRow<int8_t>(const int8_t*, int64_t, int64_t, int, int32_t, uint64_t*);
template void PackSignRow<uint8_t>(const uint8_t*, int64_t, int64_t, int32_t, uint64_t*);
template void PackSignRow<int8_t>(const int8_t*, int64_t, int64_t, int32_t, uint64_t*);
template void PackPixelsScalar<uint8_t>(const PixelPackSpec&, const uint8_t*, int64_t, int64_t, uint64_t*, int32_t*);
template void PackPixelsScalar<int8_t>(const PixelPackSpec&, const int8_t*, int64_t, int64_t, uint64_t*, int32_t*);

}  // namespace nibble::bitserial
