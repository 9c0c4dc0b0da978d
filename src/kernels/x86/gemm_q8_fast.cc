// Fully connected / MatMul driver over the int8 GEMM micro-kernels, and the
// choice of kernel table per ISA level.
#include "kernels/x86/gemm_q8_fast.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/x86/gemm_q8_microkernel.h"
#include "kernels/x86/gemm_q8_pack.h"
#include "nibble/error.h"

namespace nibble {

namespace q8 {

const KernelTable& KernelsFor(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(BestIsa())) isa = BestIsa();
  switch (isa) {
    case Isa::kAmx:  // the tile kernels are conv mode's only (conv_q8_amx.h)
    case Isa::kAvx512Vnni: return Avx512VnniKernels();
    case Isa::kAvxVnni: return HasVexVnni() ? VexVnniKernels() : EvexVnniKernels();
    case Isa::kAvx2: return Avx2Kernels();
    case Isa::kScalar: break;
  }
  return ScalarKernels();
}

}  // namespace q8

namespace {

// Rows of A per task: A's packed rows (64 x K) stay in L2 next to the task's
// weight panels, and M = 1 (inference) still gets one task per panel group.
constexpr int64_t kRowsPerTask = 64;
// Weight panels (nr output features each) per task: at least this many, more
// when there are many row blocks (each task packs its rows of A, so fewer,
// wider tasks pack A fewer times), aiming at about kTargetTasks tasks.
constexpr int64_t kMinPanelsPerTask = 4;
constexpr int64_t kTargetTasks = 64;

int64_t PanelsPerTask(int64_t n_panels, int64_t m_blocks) {
  return std::clamp<int64_t>((n_panels * m_blocks + kTargetTasks - 1) / kTargetTasks, kMinPanelsPerTask,
                             std::max<int64_t>(n_panels, 1));
}

// One row of A into the broadcast layout: groups of 4 depth values `step`
// elements apart, shifted to u8 (int8 codes + 128), the depth tail zero.
template <class T>
void PackRow(const uint8_t* src, int64_t k, int64_t k4, int64_t step, T* dst, bool flip) {
  const uint32_t f = flip ? 0x80808080u : 0;
  int64_t g = 0;
  for (; 4 * g + 4 <= k; ++g, dst += step) {
    uint32_t v;
    std::memcpy(&v, src + 4 * g, 4);
    v ^= f;
    if constexpr (sizeof(T) == 1) {
      std::memcpy(dst, &v, 4);
    } else {
      for (int t = 0; t < 4; ++t) dst[t] = static_cast<T>((v >> (8 * t)) & 0xff);
    }
  }
  for (; g < k4; ++g, dst += step)
    for (int t = 0; t < 4; ++t) dst[t] = 4 * g + t < k ? static_cast<T>(src[4 * g + t] ^ (f & 0xff)) : T{0};
}

}  // namespace

bool GemmQ8FastSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, bool a_signed) {
  if (p.transpose_a || p.m < 0 || p.n < 0 || p.k < 0 || p.a_zero_point.size() > 1) return false;
  const int32_t za = p.a_zero_point.empty() ? 0 : p.a_zero_point[0];
  if (a_signed ? (za < -128 || za > 127) : (za < 0 || za > 255)) return false;
  for (int32_t z : p.b_zero_point)
    if (z != 0) return false;
  if (!q8::MultipliersOk(p.multiplier, p.n) || std::abs(p.c_zero_point) > (1 << 16)) return false;
  const int64_t a_max = a_signed ? MaxAbsOffset<int8_t>(za) : MaxAbsOffset<uint8_t>(za);
  for (int64_t j = 0; j < p.n; ++j) {
    int64_t sum = 0;
    for (int64_t l = 0; l < p.k; ++l) sum += std::abs(int{b[p.transpose_b ? j * p.k + l : l * p.n + j]});
    if (a_max * sum + (bias ? std::llabs(bias[j]) : 0) > std::numeric_limits<int32_t>::max()) return false;
  }
  return true;
}

GemmQ8Packed PackGemmQ8(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, Isa isa) {
  NIBBLE_CHECK(q8::MultipliersOk(p.multiplier, p.n), "PackGemmQ8: ", p.multiplier.size(),
               " multipliers for ", p.n, " columns");
  const q8::KernelTable& kt = q8::KernelsFor(isa);
  GemmQ8Packed pk;
  pk.isa = kt.isa;
  pk.mr = kt.mr;
  pk.nr = kt.nr;
  pk.wide = kt.wide;
  pk.n = p.n;
  pk.k = p.k;
  pk.k4 = (p.k + 3) / 4;
  pk.n_panels = (p.n + kt.nr - 1) / kt.nr;
  auto value = [&](int64_t j, int64_t l) { return b[p.transpose_b ? j * p.k + l : l * p.n + j]; };
  // Bytes at every level: the AVX2 kernel sign-extends them as it loads (half
  // the bytes of int16 weights to stream: an M = 1 layer reads each once).
  pk.b8 = q8::PackUnits<int8_t>(p.n, p.k, kt.nr, value);
  pk.a_zero_point = p.a_zero_point.empty() ? 0 : p.a_zero_point[0];
  pk.bias_u8.resize(p.n);
  pk.bias_s8.resize(p.n);
  for (int64_t j = 0; j < p.n; ++j) {
    int64_t sum = 0;
    for (int64_t l = 0; l < p.k; ++l) sum += value(j, l);
    const int32_t bj = bias ? bias[j] : 0;
    pk.bias_u8[j] = q8::FoldZeroPoint(bj, pk.a_zero_point, sum);
    pk.bias_s8[j] = q8::FoldZeroPoint(bj, int64_t{pk.a_zero_point} + 128, sum);
  }
  for (const FixedPointMultiplier& m : p.multiplier) {
    pk.mult.push_back(m.multiplier);
    pk.shift.push_back(m.shift);
  }
  pk.c_zero_point = p.c_zero_point;
  pk.c_min = p.c_min;
  pk.c_max = p.c_max;
  return pk;
}

int64_t GemmQ8FastTaskCount(const GemmQ8Packed& pk, int64_t m) {
  if (m <= 0 || pk.n_panels == 0) return 0;
  const int64_t m_blocks = (m + kRowsPerTask - 1) / kRowsPerTask, per = PanelsPerTask(pk.n_panels, m_blocks);
  return m_blocks * ((pk.n_panels + per - 1) / per);
}

template <class TA, class TC>
void GemmQ8FastRun(const GemmQ8Packed& pk, int64_t m, const TA* a, TC* c, int64_t task_lo, int64_t task_hi) {
  const q8::KernelTable& kt = q8::KernelsFor(pk.isa);
  NIBBLE_CHECK(kt.mr == pk.mr && kt.nr == pk.nr && kt.wide == pk.wide, "GemmQ8FastRun: weights packed for another ISA");
  const q8::MicroFn fn = std::is_same_v<TC, uint8_t> ? kt.fc_u8 : kt.fc_s8;
  int32_t lo = pk.c_min, hi = pk.c_max;
  IntersectWithTypeRange<TC>(lo, hi);
  constexpr bool kSigned = std::is_same_v<TA, int8_t>;
  const int32_t* bias = kSigned ? pk.bias_s8.data() : pk.bias_u8.data();
  const bool per_col = pk.mult.size() > 1;
  const int mr = pk.mr, nr = pk.nr;
  const int64_t k = pk.k, k4 = pk.k4, elem = pk.wide ? 2 : 1;
  const int64_t m_blocks = (m + kRowsPerTask - 1) / kRowsPerTask;
  const int64_t per_task = PanelsPerTask(pk.n_panels, m_blocks);
  // A rows shifted to u8 in the micro-kernel's broadcast layout [tile][k4][mr][4].
  thread_local std::vector<int64_t> scratch;
  const size_t need = static_cast<size_t>((kRowsPerTask + mr) * k4 * 4 * elem / 8 + 1);
  // 8-row byte tiles on a zmm level: the AVX-512 transpose (gemm_q8_pack.h).
  const bool zmm_pack = !pk.wide && mr == 8 && pk.isa >= Isa::kAvx512Vnni;
  if (scratch.size() < need) scratch.resize(need);
  for (int64_t t = task_lo; t < task_hi; ++t) {
    const int64_t nb = t / m_blocks, mb = t % m_blocks;  // consecutive tasks share weight panels
    const int64_t r0 = mb * kRowsPerTask, rows = std::min(kRowsPerTask, m - r0);
    const int64_t tiles = (rows + mr - 1) / mr;
    if (zmm_pack && rows > 1) {  // one row (M = 1): the scalar copy, no zero rows to write
      for (int64_t tt = 0; tt < tiles; ++tt)
        q8::PackATile8Avx512(reinterpret_cast<const uint8_t*>(a + (r0 + tt * mr) * k), k,
                             static_cast<int>(std::min<int64_t>(mr, rows - tt * mr)), k, kSigned ? 0x80 : 0,
                             reinterpret_cast<uint8_t*>(scratch.data()) + tt * k4 * mr * 4);
    } else {
      for (int64_t i = 0; i < rows; ++i) {
        const uint8_t* src = reinterpret_cast<const uint8_t*>(a + (r0 + i) * k);
        const int64_t base = (i / mr) * k4 * mr * 4 + (i % mr) * 4;
        if (pk.wide) PackRow(src, k, k4, mr * 4, reinterpret_cast<int16_t*>(scratch.data()) + base, kSigned);
        else PackRow(src, k, k4, mr * 4, reinterpret_cast<uint8_t*>(scratch.data()) + base, kSigned);
      }
    }
    const int64_t p_end = std::min(pk.n_panels, (nb + 1) * per_task);
    for (int64_t pn = nb * per_task; pn < p_end; ++pn) {
      const int64_t j0 = pn * nr;
      q8::MicroArgs g;
      g.b = pk.b8.data() + pn * k4 * nr * 4;
      g.b_stride = nr * 4;
      g.a_stride = mr * 4 * elem;
      g.k4 = k4;
      g.lanes = static_cast<int>(std::min<int64_t>(nr, pk.n - j0));
      g.bias = bias + j0;
      g.mult = per_col ? pk.mult.data() + j0 : pk.mult.data();
      g.shift = per_col ? pk.shift.data() + j0 : pk.shift.data();
      g.mult_stride = per_col ? 1 : 0;
      g.per_lane = true;
      g.zp = pk.c_zero_point;
      g.lo = lo;
      g.hi = hi;
      g.ldc = pk.n;
      for (int64_t tt = 0; tt < tiles; ++tt) {
        g.a = reinterpret_cast<const uint8_t*>(scratch.data()) + tt * k4 * mr * 4 * elem;
        g.rows = static_cast<int>(std::min<int64_t>(mr, rows - tt * mr));
        g.c = c + (r0 + tt * mr) * pk.n + j0;
        fn(g);
      }
    }
  }
}

template void GemmQ8FastRun<uint8_t, uint8_t>(const GemmQ8Packed&, int64_t, const uint8_t*, uint8_t*, int64_t, int64_t);
template void GemmQ8FastRun<uint8_t, int8_t>(const GemmQ8Packed&, int64_t, const uint8_t*, int8_t*, int64_t, int64_t);
template void GemmQ8FastRun<int8_t, uint8_t>(const GemmQ8Packed&, int64_t, const int8_t*, uint8_t*, int64_t, int64_t);
template void GemmQ8FastRun<int8_t, int8_t>(const GemmQ8Packed&, int64_t, const int8_t*, int8_t*, int64_t, int64_t);

}  // namespace nibble
