// Bit-serial (W_k A_k, k <= 4) and binary (W1A1, XNOR-popcount) GEMM and
// convolution on bit planes (bitserial_core.h), bit-exact with
// GemmQ8Reference / ConvQ8Reference on the same codes.
//
// ---- Bit-serial: encoding and correction terms --------------------------
// Both operands are turned into unsigned codes by an offset: u = w + 2^(kw-1)
// for signed weights (u = w for unsigned), likewise a' = a + 2^(ka-1) for
// signed activations; zero points move with them (zu = zw + off_w, za' = za +
// off_a). The exact accumulator of the reference is then
//
//   sum (a - za)(w - zw) = dot(a', u) - zu * sum(a') - za' * sum(u) + K * za' * zu
//
// dot(a', u) is the popcount sum over bit planes; sum(u) and the constant are
// folded with the bias at pack time (per output feature); sum(a') is counted
// per activation row / output position (popcounts of its planes). Zero
// padding of K is a code 0 in both operands: it adds nothing to any term.
// Convolution padding taps read the activation zero point za' (what the
// reference's "real zero" is), so (a' - za') = 0 there and they cancel exactly
// for any zero point; with za' = 0 they are all-zero planes.
//
// ---- Binary: encoding and padding ----------------------------------------
// Weights are BipolarQuant codes +-1 (int8), bit 1 = +1. Activations are
// binarized by the packer from u8/s8 codes: +1 when code >= threshold (the
// activation zero point, i.e. real value >= 0), else -1. The reference is
// ConvQ8Reference / GemmQ8Reference on the +-1 codes with zero points 0.
// dot = K - 2 * popcount(a XOR w) (K real, padding bits are 0 on both sides).
// Conv padding follows QONNX/FINN execution semantics: the padded real value
// is 0, so a padding tap contributes nothing (it is not +-1). The kernel
// writes bit 0 (-1) at padding taps and corrects afterwards: for an output
// position whose window hits padding, acc += sum over its padding taps t of
// sum_c w[m, c, t] (precomputed per output channel and tap at pack time).
// Interior positions pay nothing.
//
// ---- Layout and threading --------------------------------------------------
// Weights are packed once (Pack*): blocks of 8 output features, [block][word]
// [plane][8]. GEMM: tasks = row tiles x feature-block groups; each task packs
// its activation rows into planes. Conv (NCHW, 1-D or 2-D, group 1, any
// stride / padding / dilation): first the input image is transposed into
// pixel-major bit planes (LowBitConvPackInput, its own tasks), then each
// compute task builds an im2col panel of bit words for a tile of output
// positions (word copies, no per-code work) and runs all its feature blocks.
// Any partition of [0, TaskCount) may run on any threads; tasks write
// disjoint outputs; per-thread panel scratch is thread_local.
// Outputs: uint8_t / int8_t (requantized with Requantize's rounding, clamp
// [min, max] narrowed to the type, may be a narrow k-bit range) or int32_t
// (acc + bias, no requantization).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/reference/conv_q8.h"
#include "kernels/reference/gemm_q8.h"
#include "kernels/x86/bitserial_core.h"

namespace nibble {

class ThreadPool;

struct BitSerialSpec {
  int a_bits = 4, w_bits = 4;  // 1..4
  bool a_signed = false, w_signed = true;
};

struct LowBitPacked {
  bool binary = false;
  BitSerialSpec spec;          // binary: 1 x 1
  int64_t n = 0, k = 0;        // output features (weight vectors), depth
  int64_t words = 0, blocks = 0;
  std::vector<uint64_t> planes;  // [blocks][words][w_bits][8]
  // Epilogue, per output feature q ([blocks][8], padding lanes 0):
  //   bit-serial: value = dot + const_term[q] - zu[q] * sum(a')
  //   binary:     value = const_term[q] - 2 * mismatches (+ the padding correction)
  std::vector<int64_t> const_term, zu;
  std::vector<FixedPointMultiplier> mult;  // n values
  // The same per lane of each block, as int64 for the vector epilogue
  // ([blocks][8]; padding lanes 0): multiplier, 2^(shift-1), shift.
  std::vector<int64_t> lane_mult, lane_round, lane_shift;
  int32_t a_offset = 0, za = 0;            // bit-serial: activation offset and za' = za + offset
  int32_t threshold = 0;                   // binary: activation code of real 0
  int32_t out_zp = 0, out_min = 0, out_max = 0;
  // Convolution only.
  bool conv = false;
  int64_t channels = 0, cw = 0, taps = 0, kh = 1, kwid = 1;
  std::vector<uint64_t> pad_pixel;  // [cw][a_bits]: planes of za' for the real channels (bit-serial)
  std::vector<int32_t> tap_wsum;    // binary: [blocks][taps][8] sum over c of w[m, c, tap] (m = block * 8 + lane)
};

namespace lowbit_detail {
// The requantizing store of one tile of BitDotRows output ([rows][8] int32,
// weight block blk): value (see LowBitPacked) -> Requantize -> y[l *
// lane_stride + r * row_stride] for lanes l < lanes. corr ([rows][8], read
// only for rows with pad_count[r] > 0) is the binary padding correction.
struct EpilogueRows {
  const int32_t* tile = nullptr;
  int64_t rows = 0, blk = 0;
  int lanes = 8;
  const int32_t* row_sum = nullptr;    // bit-serial
  const int32_t* pad_count = nullptr;  // binary conv, or null
  const int32_t* corr = nullptr;
  int64_t lane_stride = 1, row_stride = 1;
};
// AVX-512 (F/DQ) version; needs |out_zp| <= 2^16 (else the driver's scalar one runs).
template <class TY>
void EpilogueAvx512(const LowBitPacked& pk, const EpilogueRows& e, TY* y, int32_t lo, int32_t hi);
}  // namespace lowbit_detail

// ---- GEMM: C[M, N] = requant(A[M, K] * B[K, N] + bias) -----------------
// Supported: A not transposed, A's zero point per tensor within its code
// range, B's per tensor or per column, 1 or N multipliers, the reference's
// int32 bound. b: int8 codes [K, N] (or [N, K] with p.transpose_b) in the
// spec's range (checked at pack). A's codes must lie in the declared range.
bool BitSerialGemmSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, const BitSerialSpec& s,
                           std::string* why = nullptr);
LowBitPacked PackBitSerialGemm(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, const BitSerialSpec& s);
// Binary: b codes +-1, B zero points 0; a_zero_point (per tensor) is the threshold.
bool BinaryGemmSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, std::string* why = nullptr);
LowBitPacked PackBinaryGemm(const GemmQ8Params& p, const int8_t* b, const int32_t* bias);

int64_t LowBitGemmTaskCount(const LowBitPacked& packed, int64_t m);
// a: [m, K] row-major (uint8_t / int8_t); c: [m, N] (uint8_t / int8_t / int32_t).
template <class TA, class TC>
void LowBitGemmRun(const LowBitPacked& packed, int64_t m, const TA* a, TC* c, int64_t task_lo, int64_t task_hi,
                   bitserial::PopcountPath path);

// ---- Convolution (NCHW, groups 1, 1 or 2 spatial dims) -------------------
// p: channels, geometry (ComputeWindow'd), zero points, multipliers, clamp;
// w: [M, C, *kernel] int8 codes. Bit-serial: w_zero_point per tensor or per
// channel. Binary: w codes +-1, w zero points 0, x_zero_point = threshold.
bool BitSerialConvSupports(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, const BitSerialSpec& s,
                           std::string* why = nullptr);
LowBitPacked PackBitSerialConv(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, const BitSerialSpec& s);
bool BinaryConvSupports(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, std::string* why = nullptr);
LowBitPacked PackBinaryConv(const ConvQ8Params& p, const int8_t* w, const int32_t* bias);

// Per-call input planes: [batch][pixel][cw][a_bits] and per-pixel sum(a').
struct LowBitConvInput {
  std::vector<uint64_t> pixels;
  std::vector<int32_t> pixel_sum;
};
// Phase 1: sizes `in` for p (call once, single thread), then tasks over pixel ranges.
void LowBitConvPrepareInput(const LowBitPacked& packed, const ConvQ8Params& p, LowBitConvInput& in);
int64_t LowBitConvPackTaskCount(const LowBitPacked& packed, const ConvQ8Params& p);
template <class TX>
void LowBitConvPackInput(const LowBitPacked& packed, const ConvQ8Params& p, const TX* x, LowBitConvInput& in,
                         int64_t task_lo, int64_t task_hi, bitserial::PopcountPath path);
// Phase 2: y [N, M, *out].
int64_t LowBitConvTaskCount(const LowBitPacked& packed, const ConvQ8Params& p);
template <class TY>
void LowBitConvRun(const LowBitPacked& packed, const ConvQ8Params& p, const LowBitConvInput& in, TY* y,
                   int64_t task_lo, int64_t task_hi, bitserial::PopcountPath path);

// Both phases (pool may be null: inline), path from ActiveIsa().
template <class TX, class TY>
void LowBitConv(const LowBitPacked& packed, const ConvQ8Params& p, const TX* x, TY* y, LowBitConvInput& in,
                ThreadPool* pool);
template <class TA, class TC>
void LowBitGemm(const LowBitPacked& packed, int64_t m, const TA* a, TC* c, ThreadPool* pool);

}  // namespace nibble
