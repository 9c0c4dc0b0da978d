// The inner loop shared by the bit-serial (W_k A_k, k <= 4) and binary (W1A1)
// kernels: dot products of bit-plane-packed vectors by AND/XOR + popcount.
//
// A code vector of length K with k-bit unsigned codes u is held as k bit
// planes U_0..U_{k-1} (U_i = bit i of every code), K packed into 64-bit words
// (bit b of word w = element 64w + b), the tail padded with zeros. Then
//
//   dot(a, u) = sum_i sum_j 2^(i+j) * popcount(A_i AND W_j)      (BitOp::kAnd)
//
// and for one plane each (binary, bit 1 = +1, bit 0 = -1)
//
//   sum (2a-1)(2w-1) = K - 2 * popcount(A XOR W)                 (BitOp::kXor)
//
// where zero padding is harmless: AND of padding is 0, XOR of equal padding is 0.
//
// Layouts (uint64_t words):
//   activation rows: [row][word][plane]            (one row = one output position / GEMM row)
//   weight block:    [word][plane][8 lanes]        (8 weight vectors side by side: one zmm
//                                                   per (word, plane); activation words are
//                                                   broadcast, so no horizontal reductions)
// BitDotRows computes, for every row r and lane l, the int32
//   out[r*8 + l] = sum over words, i < ka, j < kw of 2^(i+j) * popcount(op(A_r[w][i], W[w][j][l]))
// (for kXor, ka = kw = 1: the raw mismatch count; callers form K - 2 * count).
// Counts fit int32 for K * (2^ka - 1) * (2^kw - 1) < 2^31.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/x86/isa.h"

namespace nibble::bitserial {

// Which popcount the inner loop uses. Chosen from the ISA level: the
// avx512vnni level uses VPOPCNTDQ when the CPU has it (else the AVX2 path),
// avx2 / avxvnni use the nibble lookup (vpshufb + vpsadbw), scalar uses
// __builtin_popcountll.
enum class PopcountPath { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* PopcountPathName(PopcountPath p);
bool PopcountPathSupported(PopcountPath p);
PopcountPath PopcountPathFor(Isa isa);
// Every path this CPU runs, lowest first (tests iterate over these).
std::vector<PopcountPath> SupportedPopcountPaths();

enum class BitOp { kAnd, kXor };

constexpr int kLanes = 8;       // weight vectors per block
constexpr int kMaxBits = 4;     // widest plane count per operand

// out: [rows][8] int32. kXor requires ka == kw == 1. ka, kw in [1, 4].
void BitDotRows(PopcountPath path, BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words,
                const uint64_t* w, int32_t* out);

// Path implementations (one translation unit each, compiled for its ISA).
void BitDotRowsScalar(BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words, const uint64_t* w,
                      int32_t* out);
void BitDotRowsAvx2(BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words, const uint64_t* w,
                    int32_t* out);
void BitDotRowsAvx512(BitOp op, int ka, int kw, const uint64_t* a, int64_t rows, int64_t words, const uint64_t* w,
                      int32_t* out);

// BitDotRowsAvx512 for rows read in place instead of from a panel (a
// convolution's interior positions, from the packed image): row r's word wd,
// its ka planes, starts at rows_at[r] + off[wd]. Same out.
void BitDotRowsGatherAvx512(BitOp op, int ka, int kw, const uint64_t* const* rows_at, const int64_t* off,
                            int64_t rows, int64_t words, const uint64_t* w, int32_t* out);

// Bit-plane packing of one row of codes (GEMM activations, weight vectors).
// Element l contributes the unsigned code u = (code[l * stride] + offset) &
// (2^bits - 1) for plane packing (offset turns signed codes into unsigned
// ones), or for binarize the single bit (code >= threshold).
// dst: [words][bits] with words = ceil(k / 64), zero padded.
template <class T>
void PackPlanesRow(const T* code, int64_t stride, int64_t k, int bits, int32_t offset, uint64_t* dst);
template <class T>
void PackSignRow(const T* code, int64_t stride, int64_t k, int32_t threshold, uint64_t* dst);

// AVX-512BW versions of the same for contiguous rows (stride 1); used by the
// kAvx512 path (defined in the _avx512vpopcnt translation unit).
void PackPlanesRowAvx512U8(const uint8_t* code, int64_t k, int bits, int32_t offset, uint64_t* dst);
void PackSignRowAvx512(const uint8_t* code, int64_t k, int32_t threshold, bool is_signed, uint64_t* dst);

// Channel-to-bit transposition of one NCHW image for convolution: for every
// pixel, the codes of all C channels as planes, channels packed into
// cw = ceil(C / 64) words: dst [pixel][cw][bits] (zero padded channels).
// pixel_sum (may be null) gets sum over c of the unsigned code per pixel.
// binarize: one plane, bit = (x >= threshold); else planes of (x + offset).
struct PixelPackSpec {
  int64_t channels = 0, pixels = 0;
  int bits = 1;
  bool binarize = false;
  int32_t offset = 0;     // plane packing
  int32_t threshold = 0;  // binarize
};
template <class T>
void PackPixelsScalar(const PixelPackSpec& s, const T* x, int64_t pixel_lo, int64_t pixel_hi, uint64_t* dst,
                      int32_t* pixel_sum);
template <class T>
void PackPixelsAvx512(const PixelPackSpec& s, const T* x, int64_t pixel_lo, int64_t pixel_hi, uint64_t* dst,
                      int32_t* pixel_sum);

}  // namespace nibble::bitserial
