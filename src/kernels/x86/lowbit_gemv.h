// W4A8 / W2A8 matrix product for fully connected / MatMul with constant
// low-bit weights, built for batch 1 (memory-bound GEMV): the weights are read
// as 2 or 4 codes per byte and unpacked in registers to bytes for vpdpbusd
// (AVX-512 VNNI; AVX2: vpmaddubsw + vpmaddwd, exact since codes are <= 15).
// Bit-exact with GemmQ8Reference on the same codes:
//
//   C[M, N] = Requantize(A[M, K] * B[K, N] + bias)          (B given as [K, N] or [N, K])
//
// Encoding: weight codes w (int4 / int2, signed or unsigned, checked at pack)
// are stored as unsigned u = w + 2^(bits-1) (signed) or u = w, zero point zu =
// zw + that offset; activations are taken as u8 a' (int8 inputs XOR 0x80, zero
// point za' = za + 128). Then
//   sum (a - za)(w - zw) = dot(a', u) - zu * sum(a') - za' * sum(u) + K * za' * zu,
// sum(u) and the bias are folded per column at pack time, sum(a') is counted
// per row per call. K is padded with u = 0, a' = 0: nothing is added.
//
// Layout: superblocks of 64 columns; per superblock, groups of G depth values
// (G = 8 for int4, 16 for int2), per group 4 x 64 bytes: column block cb (16
// columns), byte 4*c + i holds the codes of depth g*G + 4*s + i, s = 0..8/bits-1,
// in bits [bits*s, bits*(s+1)) -- so one zmm load + shift/and gives the exact
// vpdpbusd operand (16 columns x 4 depth values).
//
// Threading: LowBitGemvTaskCount(packed) tasks (one per 64-column superblock,
// each runs every row); call LowBitGemvRun over any partition from any
// threads. Per-thread scratch (the row converted to u8) is thread_local.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/reference/gemm_q8.h"
#include "kernels/x86/isa.h"

namespace nibble {

struct LowBitGemvPacked {
  Isa isa = Isa::kScalar;  // scalar, avx2 (also used for avxvnni), avx512vnni
  int w_bits = 4;
  int64_t n = 0, k = 0, kpad = 0, superblocks = 0, groups = 0;
  std::vector<uint8_t> w;             // [superblocks][groups][4][64]
  std::vector<int64_t> base;          // per column: bias
  std::vector<int64_t> usum;          // per column: sum(u)
  std::vector<int32_t> zu;            // per column: weight zero point, unsigned encoding
  std::vector<FixedPointMultiplier> mult;  // per column
  // For the vector epilogue, padded to superblocks * 64 columns:
  // bias - za' * sum(u) + K * za' * zu (wrapping int32; the final value is
  // exact) for u8 and for s8 activations, zu, and the multipliers as int64.
  std::vector<int32_t> const_u8, const_s8, zu_pad;
  std::vector<int64_t> lane_mult, lane_round, lane_shift;
  int32_t a_zero_point = 0, c_zero_point = 0, c_min = 0, c_max = 0;
};

// Supported: w_bits 2 or 4, B codes in the signed (w_signed) or unsigned
// range, B zero points per tensor / per column within that range, A not
// transposed with a per-tensor zero point in A's type, 1 or N multipliers
// (shift 1..62), K <= 2^19, the reference's int32 bound.
bool LowBitGemvSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, int w_bits, bool w_signed,
                        bool a_signed, std::string* why = nullptr);
// Packs for `isa` (lowered to what the CPU runs; the layout is the same for
// every level, isa only picks the loop).
LowBitGemvPacked PackLowBitGemv(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, int w_bits,
                                bool w_signed, Isa isa);

int64_t LowBitGemvTaskCount(const LowBitGemvPacked& packed);
// a: [m, K] row-major (uint8_t / int8_t); c: [m, N] (uint8_t / int8_t / int32_t = acc + bias).
template <class TA, class TC>
void LowBitGemvRun(const LowBitGemvPacked& packed, int64_t m, const TA* a, TC* c, int64_t task_lo, int64_t task_hi);

namespace lowbit_gemv_detail {
// dot[64] of one u8 row (kpad bytes) with superblock sb, per ISA.
void DotAvx512(const LowBitGemvPacked& pk, int64_t sb, const uint8_t* a, int32_t* dot);
void DotAvx2(const LowBitGemvPacked& pk, int64_t sb, const uint8_t* a, int32_t* dot);
// Requantizing store of superblock sb's 64 dots (|c_zero_point| <= 2^16).
template <class TC>
void EpilogueAvx512(const LowBitGemvPacked& pk, int64_t sb, const int32_t* dot, int32_t asum, bool a_signed, TC* c,
                    int32_t lo, int32_t hi);
}  // namespace lowbit_gemv_detail

}  // namespace nibble
