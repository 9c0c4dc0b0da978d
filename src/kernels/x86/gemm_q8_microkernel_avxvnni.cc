// The ymm VNNI level on CPUs with AVX-VNNI (VEX encoding, e.g. Alder Lake and
// later without AVX-512): 16 registers, so a 4 x 16 tile (8 accumulators, 2
// vector operands, 1 broadcast). Selected only when HasVexVnni().
#include <immintrin.h>

#define NIBBLE_Q8_DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32(acc, u, s)
namespace nibble::q8 {
namespace {
constexpr int kMr = 4, kV = 2;
}  // namespace
}  // namespace nibble::q8
#include "kernels/x86/gemm_q8_microkernel_ymm_vnni.inc"

namespace nibble::q8 {

const KernelTable& VexVnniKernels() {
  static const KernelTable t{Isa::kAvxVnni,       "avxvnni-vex",         kMr,           kNr, false,
                             Micro<true, uint8_t>, Micro<true, int8_t>, Micro<false, uint8_t>,
                             Micro<false, int8_t>, RequantizeY};
  return t;
}

}  // namespace nibble::q8
