// The scalar level of the int8 GEMM micro-kernel: plain C++ over the same
// packed layouts as the vector levels (see gemm_q8_microkernel.h), so every
// driver path is exercised on any CPU. Accumulates in uint32 so that the
// modulo-2^32 partial sums the vector kernels rely on are defined behaviour.
#include <cstring>

#include "kernels/reference/requantize.h"
#include "kernels/x86/gemm_q8_microkernel.h"

namespace nibble::q8 {
namespace {

constexpr int kMr = 4, kNr = 16;

template <bool kConv, class TC>
void Micro(const MicroArgs& g) {
  uint32_t acc[kMr][kNr] = {};
  const uint8_t* a = static_cast<const uint8_t*>(g.a);
  const uint8_t* b = static_cast<const uint8_t*>(g.b);
  const bool offsets = !kConv && g.a_off;
  const int64_t rs = offsets ? g.a_rs : 4;
  for (int64_t s = 0; s < g.k4; ++s, a += g.a_stride, b += g.b_stride) {
    const uint8_t* as = offsets ? static_cast<const uint8_t*>(g.a) + g.a_off[s] : a;
    for (int r = 0; r < g.rows; ++r)
      for (int t = 0; t < 4; ++t) {
        // conv: A signed, B unsigned; fc: A unsigned, B signed.
        const int32_t av = kConv ? int32_t{static_cast<int8_t>(as[r * rs + t])} : int32_t{as[r * rs + t]};
        for (int j = 0; j < g.lanes; ++j) {
          const int32_t bv = kConv ? int32_t{b[j * 4 + t]} : int32_t{static_cast<int8_t>(b[j * 4 + t])};
          acc[r][j] += static_cast<uint32_t>(av * bv);
        }
      }
  }
  for (int r = 0; r < g.rows; ++r) {
    TC* c = static_cast<TC*>(g.c) + r * g.ldc;
    for (int j = 0; j < g.lanes; ++j) {
      const int i = g.per_lane ? j : r;
      const int32_t x = static_cast<int32_t>(acc[r][j] + static_cast<uint32_t>(g.bias[i]));
      const FixedPointMultiplier m{g.mult[i * g.mult_stride], g.shift[i * g.mult_stride]};
      c[j] = static_cast<TC>(Requantize(x, m, g.zp, g.lo, g.hi));
    }
  }
}

void RequantizeScalar(const int32_t* acc, const int32_t* mult, const int32_t* shift, int64_t n, int32_t zp,
                      int32_t lo, int32_t hi, int32_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = Requantize(acc[i], {mult[i], shift[i]}, zp, lo, hi);
}

}  // namespace

const KernelTable& ScalarKernels() {
  static const KernelTable t{Isa::kScalar,          "scalar",
                             kMr,                   kNr,
                             false,                 Micro<true, uint8_t>,
                             Micro<true, int8_t>,   Micro<false, uint8_t>,
                             Micro<false, int8_t>,  RequantizeScalar};
  return t;
}

}  // namespace nibble::q8
