// Depthwise quantized convolution (group == in_channels, out_channels = C * mult),
// NCHW, 1 or 2 spatial dims, bit-exact with ConvQ8Reference.
//
// Split in two steps so that nothing depends on the weights at run time:
//   PackDwConvQ8<TX>(p, w, bias, isa)   once per session: checks the int32
//       overflow bound exactly like ConvQ8Reference (same failures), widens the
//       weights (minus their zero point) to int16 tap pairs and folds
//       -x_zero_point * sum(w - w_zero_point) into the bias.
//   DwConvQ8Run<TX, TY>(packed, p, x, y, plane_lo, plane_hi)
//       computes output planes [plane_lo, plane_hi) of batch * out_channels;
//       threads take disjoint plane ranges (e.g. ThreadPool::ParallelForTasks over
//       p.batch * p.out_channels). Scratch is thread_local, grown once.
//
// Fast paths (isa >= kAvx2): 2-D, kernel 3x3 or 5x5, stride 1 or 2 (same on
// both axes), dilation 1, any padding. Input rows are widened to int16 into a
// padded row buffer filled with x_zero_point (padding taps then add
// x_zero_point * w, which the folded bias cancels exactly, modulo 2^32), and 16
// (zmm) or 8 (ymm) outputs along the width are accumulated in int32 with
// vpdpwssd / vpmaddwd on pairs of horizontally adjacent taps. Everything else
// (other kernels, strides, dilation, 1-D, isa == kScalar) runs a portable
// scalar loop with row pointers. kAvxVnni runs the AVX2 code (these kernels
// multiply int16 pairs, where VNNI on ymm brings nothing).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/reference/conv_q8.h"
#include "kernels/x86/isa.h"

namespace nibble {

// True when this module computes p: 1 or 2 spatial dims, group == in_channels,
// out_channels a multiple of in_channels, 1 or out_channels multipliers and
// w_zero_point empty, 1 or out_channels values.
bool DwConvQ8Supports(const ConvQ8Params& p);
// True when p also takes a vectorized path at this isa (else the scalar loop).
bool DwConvQ8FastSupports(const ConvQ8Params& p, Isa isa);

struct DwConvQ8Packed {
  Isa isa = Isa::kScalar;  // the level Run uses (lowered to what p allows)
  bool fast = false;       // vectorized 3x3/5x5 path
  bool x_signed = false;   // TX Pack was made for (Run checks it)
  int64_t out_channels = 0, channel_multiplier = 1;
  int kh = 1, kw = 1;
  // [M][kh*kw]: w - w_zero_point (the scalar loop).
  std::vector<int16_t> w16;
  // [M][kh][(kw+1)/2] int32 lanes holding the int16 pair (w[kx], w[kx+1]) in
  // (low, high) halves; w[kw] = 0 pads an odd row. (Fast paths.)
  std::vector<int32_t> wpair;
  std::vector<int32_t> bias;         // [M]: bias (0 when none)
  std::vector<int32_t> bias_folded;  // [M]: bias - x_zero_point * sum(w - w_zero_point), mod 2^32
  std::vector<int32_t> multiplier, shift;  // [M], expanded from per-tensor when needed
  // [M]: 1 where the requantization may take the 32-bit high-dword form (the
  // AVX2 level's): shift in [33, 45] and |MultiplyByQuantizedMultiplier| of
  // any reachable acc + bias below 2^30 - 2, so it never saturates (bound as
  // the conv's ConvQ8Packed::narrow_u8).
  std::vector<uint8_t> narrow;
  // 3x3 fast path (vpdpbusd on byte quads): [M][4] = the three kernel rows as
  // byte quads (w0, w1, w2, 0) and the bias it starts from (bias_folded, less
  // 128 * sum(w) for int8 x, which that path biases to uint8); q3_fits[m] is 0
  // where some tap of plane m does not fit int8 or its shift is below 33
  // (that plane takes the int16 path). Made at pack time: a 7x7 plane's
  // whole product is ~50 cycles, and deriving these per plane cost a quarter
  // of that.
  std::vector<int32_t> q3;
  std::vector<uint8_t> q3_fits;
};

// w: [M, 1, kh(, kw)], TW = int8_t or uint8_t; bias: [M] or nullptr. Fails
// (nibble::Error) when !DwConvQ8Supports(p) or, like ConvQ8Reference, when an
// output channel could overflow the int32 accumulator for inputs of type TX.
template <class TX, class TW>
DwConvQ8Packed PackDwConvQ8(const ConvQ8Params& p, const TW* w, const int32_t* bias, Isa isa = ActiveIsa());

// x: [N, C, *in] (TX = uint8_t or int8_t), y: [N, M, *out] (TY = uint8_t or int8_t).
template <class TX, class TY>
void DwConvQ8Run(const DwConvQ8Packed& packed, const ConvQ8Params& p, const TX* x, TY* y, int64_t plane_lo,
                 int64_t plane_hi);

// Internal: one row-range job handed to the per-ISA fast kernels.
namespace dwq8_detail {
struct FastArgs {
  const DwConvQ8Packed* packed;
  int64_t ih, iw, oh, ow, pad_t, pad_l;
  int64_t in_channels;
  int32_t x_zero_point, y_zero_point, lo, hi;
};
template <class TX, class TY>
void RunAvx512(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi, int k, int stride);
template <class TX, class TY>
void RunAvx2(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi, int k, int stride);
}  // namespace dwq8_detail

}  // namespace nibble
