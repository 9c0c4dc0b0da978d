// The ymm VNNI level on CPUs with AVX512-VNNI + VL (the EVEX encoding of ymm
// vpdpbusd): 32 registers, so a 6 x 32 tile (24 accumulators).
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -Wmaybe-uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define NIBBLE_Q8_DPBUSD(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
namespace nibble::q8 {
namespace {
constexpr int kMr = 6, kV = 4;
}  // namespace
}  // namespace nibble::q8
#include "kernels/x86/gemm_q8_microkernel_ymm_vnni.inc"

namespace nibble::q8 {

const KernelTable& EvexVnniKernels() {
  static const KernelTable t{Isa::kAvxVnni,       "avxvnni-evex",        kMr,           kNr, false,
                             Micro<true, uint8_t>, Micro<true, int8_t>, Micro<false, uint8_t>,
                             Micro<false, int8_t>, RequantizeY};
  return t;
}

}  // namespace nibble::q8
