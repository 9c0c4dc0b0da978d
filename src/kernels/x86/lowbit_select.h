// Which kernel family runs a low-bit GEMM / conv layer on this CPU: chosen by
// a one-off measurement of the candidates that are correct for the layer's
// widths, cached per process.
//
// Families (correctness, not speed, decides who may compete):
//   int8       gemm_q8_fast on the codes widened to int8 (always correct, <= 8 bits)
//   w4a8       lowbit_gemv: weights of 2..4 bits, activations <= 8 bits
//   bitserial  bitserial_gemm: weights and activations of <= 4 bits
//   binary     bitserial_gemm's XNOR kernel: bipolar (+-1) weights and activations
//
// Measurement (GEMM layers; convolutions: SelectLowBitConvKernel below):
// random codes on a proxy of the layer's GEMM shape, cut
// down to at most 16 x 64 x 1024 (memory-bound: 4 x 256 x 1024) so packing and timing all candidates stays
// under ~5 ms; the best of 3 runs after a warm-up wins. The cut keeps the
// arithmetic mix but not the cache footprint, so for memory-bound layers
// (M <= 4 and int8 weights larger than 1 MiB) every timed run starts with the
// L2 overwritten: the weights then stream from L3 / DRAM as in the real layer.
// Results are cached in a process-wide map keyed by (shape, widths,
// signedness, ActiveIsa()).
//
// NIBBLE_LOWBIT_KERNEL=int8|bitserial|binary|w4a8 forces a family (tests,
// comparisons): it is used for every layer where it is correct, other layers
// get int8. An unknown name fails (nibble::Error).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "kernels/reference/conv_q8.h"

namespace nibble {

enum class LowBitKernel { kInt8 = 0, kW4A8 = 1, kBitSerial = 2, kBinary = 3 };

const char* LowBitKernelName(LowBitKernel k);  // "int8", "w4a8", "bitserial", "binary"
std::optional<LowBitKernel> ParseLowBitKernel(const std::string& name);

struct LowBitProblem {
  int64_t m = 1, n = 1, k = 1;
  int w_bits = 8, a_bits = 8;
  bool w_signed = true, a_signed = false;
  bool bipolar = false;  // weights and activations are BipolarQuant (+-1)
};

// Can family `kind` compute this problem exactly?
bool LowBitKernelCorrect(LowBitKernel kind, const LowBitProblem& p);

// The forced family (NIBBLE_LOWBIT_KERNEL or SetLowBitKernelOverride), if any.
std::optional<LowBitKernel> ForcedLowBitKernel();
void SetLowBitKernelOverride(std::optional<LowBitKernel> kind);

// The family to run: the forced one when correct (else int8), otherwise the
// measured fastest (cached). Thread-safe.
LowBitKernel SelectLowBitKernel(const LowBitProblem& p);

// Measured time per candidate in nanoseconds for the last measurement of p
// (-1 for candidates not measured); for `nibble inspect` / diagnostics.
struct LowBitTiming {
  LowBitKernel chosen = LowBitKernel::kInt8;
  double ns[4] = {-1, -1, -1, -1};
  bool measured = false;
};
LowBitTiming MeasureLowBitKernels(const LowBitProblem& p);
// "bitserial (int8 12.3us, bitserial 8.1us)": the choice for p and why.
std::string DescribeLowBitChoice(const LowBitProblem& p);

// Convolution layers (groups 1) are timed on their own geometry instead of a
// GEMM proxy: the int8 conv kernel (conv_q8_fast) against the bit-serial or
// binary conv kernels correct for `prob`, at batch 1 on random codes of the
// widths, single-threaded, best of 3 after a warm-up, the input packing and
// window gathering included (what a proxy GEMM leaves out). Cached per
// (geometry, widths, signedness, ISA). p: the layer's parameters (zero points,
// multipliers and clamp are used as they are). Forcing as SelectLowBitKernel.
LowBitKernel SelectLowBitConvKernel(const ConvQ8Params& p, const LowBitProblem& prob);
std::string DescribeLowBitConvChoice(const ConvQ8Params& p, const LowBitProblem& prob);

}  // namespace nibble
