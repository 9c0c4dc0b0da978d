// Internal interface between the int8 GEMM/conv drivers (conv_q8_fast.h,
// gemm_q8_fast.h) and the per-ISA micro-kernel files
// (gemm_q8_microkernel_<isa>.cc). Not for use outside src/kernels/x86.
//
// The micro-kernel computes a tile of at most mr rows x nr lanes
//
//   acc[r][j] = sum over k4, t of A[k4][r][t] * B[k4][j][t]        (int32, wrapping)
//
// where A is the "broadcast" operand (4 bytes of one row are broadcast to every
// lane) and B the "vector" operand (nr lanes of 4 bytes each per k4 step), and
// requantizes it in the same pass (fused epilogue, see RequantizeLanes).
// Two modes share that shape:
//   conv: A = weights (s8), B = activation panel (u8); rows = output channels,
//         lanes = output positions, requantization parameters per row.
//   fc:   A = activations (u8), B = weights (s8); rows = batch rows, lanes =
//         output features, requantization parameters per lane.
// vpdpbusd multiplies u8 (register operand) by s8 (register or m32bcst), which
// fits both: conv broadcasts the signed operand, fc broadcasts the unsigned one.
// The AVX2 level has no u8 x s8 dot product that cannot saturate, so its
// broadcast operand is widened to int16 once at pack time, its vector operand
// as it is loaded, and it multiplies with vpmaddwd.
//
// Accumulation wraps modulo 2^32 (vpdpbusd does, and the scalar kernel uses
// uint32): with signed inputs shifted to u8 and the zero point folded into the
// bias, partial sums may leave int32 even when the reference's do not, but the
// final acc + bias equals the reference's exactly whenever that fits in int32,
// which the Supports() predicates check with the reference's own bound.
#pragma once
#include <cstdint>

#include "kernels/x86/isa.h"

namespace nibble::q8 {

struct MicroArgs {
  const void* a = nullptr;  // row r of step k4 at a + k4 * a_stride + r * 4 elements
  int64_t a_stride = 0;     // bytes per k4 step
  // fc mode at the u8 levels (not `wide`; ignored in conv mode): when set,
  // step k4 of A starts at a + a_off[k4] bytes instead (a_stride unused), so
  // the conv driver can broadcast output positions straight out of its tap
  // buffer, whose steps (kernel taps) are not evenly spaced.
  const int64_t* a_off = nullptr;
  // With a_off: row r of a step at a + a_off[k4] + r * a_rs bytes (4: the
  // rows packed; the pixel stride when the conv driver reads output
  // positions out of channels-last pixels).
  int64_t a_rs = 4;
  // Optional (zmm level, fc mode with a_off): one cache line at pf + s * 64 is
  // prefetched into L2 at step s, so the next weight tile streams in from
  // memory while this one computes. A hint only: any address is safe.
  const void* pf = nullptr;
  const void* b = nullptr;  // lane j of step k4 at b + k4 * b_stride + j * 4 elements
  int64_t b_stride = 0;     // bytes per k4 step
  int64_t k4 = 0;           // depth in steps of 4 (K padded with zero weights)
  int rows = 0, lanes = 0;  // valid rows (<= mr) and lanes (<= nr); nothing else is stored
  // Epilogue: y = clamp(MultiplyByQuantizedMultiplier(acc + bias) + zp, lo, hi).
  // Indexed by row (per_lane false) or by lane (per_lane true); mult/shift may
  // have stride 0 (one value for all: per tensor).
  const int32_t* bias = nullptr;
  const int32_t* mult = nullptr;
  const int32_t* shift = nullptr;
  int mult_stride = 1;
  bool per_lane = false;
  int32_t zp = 0, lo = 0, hi = 0;  // |zp|, |lo|, |hi| <= 2^30 (see RequantizeLanes)
  // Optional hint (conv mode): every lane's MultiplyByQuantizedMultiplier
  // result is known to lie in (-2^30, 2^30) (ConvQ8Packed bounds it from the
  // weights, the bias and the input range), so kernels may requantize without
  // the int32 saturation; ignoring it is always correct.
  bool narrow = false;
  void* c = nullptr;               // output row r at c + r * ldc elements (uint8_t or int8_t)
  int64_t ldc = 0;
  // Optional hint (fc mode): c is the caller's scratch tile, ldc is
  // 16 * ceil(lanes / 16), and the bytes past the valid rows and lanes, up to
  // the next multiple of 64 after rows * ldc, may be overwritten. A kernel may
  // then narrow four vectors at once into one whole 64-byte store.
  bool dense = false;
  // Optional hint (fc mode with a_off, steps in groups of three kernel
  // columns): bit 0, row 0's first column of every group reads only zero
  // bytes (padding whose code is 0); bit 1, the last row's last column does.
  // A kernel may skip those products; ignoring the hint is always correct.
  int edge = 0;
};

using MicroFn = void (*)(const MicroArgs&);

// Requantization of n int32 values with per-lane multipliers (the epilogue in
// isolation, for tests): out[i] = clamp(MBQM(acc[i], {mult[i], shift[i]}) + zp, lo, hi),
// equal to Requantize() for |zp|, |lo|, |hi| <= 2^30.
using RequantizeFn = void (*)(const int32_t* acc, const int32_t* mult, const int32_t* shift, int64_t n,
                              int32_t zp, int32_t lo, int32_t hi, int32_t* out);

// What one ISA level provides. Packed operands use layouts fixed by mr/nr and
// by `wide` (AVX2: the broadcast operand as int16).
struct KernelTable {
  Isa isa;
  const char* name;
  int mr, nr;
  bool wide;
  MicroFn conv_u8, conv_s8;  // by output type
  MicroFn fc_u8, fc_s8;
  RequantizeFn requantize;
};

const KernelTable& ScalarKernels();
const KernelTable& Avx2Kernels();
const KernelTable& EvexVnniKernels();  // ymm vpdpbusd, AVX512-VNNI + VL encoding
const KernelTable& VexVnniKernels();   // ymm vpdpbusd, AVX-VNNI encoding
const KernelTable& Avx512VnniKernels();

// The table for a level this CPU supports (kAvxVnni picks VEX when available).
const KernelTable& KernelsFor(Isa isa);

}  // namespace nibble::q8
