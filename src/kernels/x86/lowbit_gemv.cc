// Packing, scalar twin and epilogue of the W4A8 / W2A8 GEMV (lowbit_gemv.h).
#include "kernels/x86/lowbit_gemv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

#include "nibble/error.h"

namespace nibble {
namespace {

constexpr int64_t kSuperCols = 64;

int32_t At(const std::vector<int32_t>& v, int64_t i) { return v.empty() ? 0 : v[v.size() == 1 ? 0 : i]; }
bool Reject(std::string* why, const std::string& r) {
  if (why) *why = r;
  return false;
}

// The scalar twin: the same packed bytes, the same arithmetic, one product at a time.
void DotScalar(const LowBitGemvPacked& pk, int64_t sb, const uint8_t* a, int32_t* dot) {
  const int per = 8 / pk.w_bits, gsize = 4 * per;
  const uint32_t mask = (1u << pk.w_bits) - 1;
  for (int i = 0; i < kSuperCols; ++i) dot[i] = 0;
  for (int64_t g = 0; g < pk.groups; ++g) {
    const uint8_t* blk = pk.w.data() + (sb * pk.groups + g) * 256;
    const uint8_t* ag = a + g * gsize;
    for (int cb = 0; cb < 4; ++cb)
      for (int c = 0; c < 16; ++c)
        for (int i = 0; i < 4; ++i) {
          const uint32_t byte = blk[cb * 64 + 4 * c + i];
          for (int s = 0; s < per; ++s)
            dot[cb * 16 + c] += static_cast<int32_t>(ag[4 * s + i] * ((byte >> (pk.w_bits * s)) & mask));
        }
  }
}

}  // namespace

bool LowBitGemvSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, int w_bits, bool w_signed,
                        bool a_signed, std::string* why) {
  if (w_bits != 2 && w_bits != 4) return Reject(why, Cat("weight bits ", w_bits, " (2 or 4 supported)"));
  if (p.transpose_a) return Reject(why, "transposed A");
  if (p.a_zero_point.size() > 1) return Reject(why, "per-row A zero points");
  const int32_t za = At(p.a_zero_point, 0);
  const int32_t amin = a_signed ? -128 : 0, amax = a_signed ? 127 : 255;
  if (za < amin || za > amax) return Reject(why, "A zero point outside A's type");
  if (p.multiplier.size() != 1 && static_cast<int64_t>(p.multiplier.size()) != p.n)
    return Reject(why, "need 1 or N multipliers");
  for (const FixedPointMultiplier& f : p.multiplier)
    if (f.shift < 1 || f.shift > 62) return Reject(why, "multiplier shift outside [1, 62]");
  if (p.k > (int64_t{1} << 19)) return Reject(why, "K above 2^19");
  if (p.b_zero_point.size() > 1 && static_cast<int64_t>(p.b_zero_point.size()) != p.n)
    return Reject(why, "need 0, 1 or N B zero points");
  const int32_t wmin = w_signed ? -(1 << (w_bits - 1)) : 0, wmax = w_signed ? (1 << (w_bits - 1)) - 1 : (1 << w_bits) - 1;
  const int64_t a_max = std::max(za - amin, amax - za);
  for (int64_t j = 0; j < p.n; ++j) {
    const int32_t zw = At(p.b_zero_point, j);
    if (zw < wmin || zw > wmax) return Reject(why, Cat("B zero point ", zw, " outside the ", w_bits, "-bit range"));
    int64_t s = 0;
    for (int64_t l = 0; l < p.k; ++l) {
      const int32_t v = b[p.transpose_b ? j * p.k + l : l * p.n + j];
      if (v < wmin || v > wmax) return Reject(why, Cat("B code ", v, " outside the ", w_bits, "-bit range"));
      s += std::llabs(int64_t{v} - zw);
    }
    if (a_max * s + (bias ? std::llabs(bias[j]) : 0) > std::numeric_limits<int32_t>::max())
      return Reject(why, Cat("column ", j, " can overflow the int32 accumulator"));
  }
  return true;
}

LowBitGemvPacked PackLowBitGemv(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, int w_bits,
                                bool w_signed, Isa isa) {
  std::string why;
  // The bound is checked for u8 activations (the wider offset range covers s8 too).
  NIBBLE_CHECK(LowBitGemvSupports(p, b, bias, w_bits, w_signed, false, &why) ||
                   LowBitGemvSupports(p, b, bias, w_bits, w_signed, true, &why),
               "low-bit GEMV: ", why);
  if (!IsaSupported(isa)) isa = BestIsa();
  LowBitGemvPacked pk;
  pk.isa = isa == Isa::kAvxVnni ? Isa::kAvx2 : isa;
  pk.w_bits = w_bits;
  pk.n = p.n;
  pk.k = p.k;
  const int per = 8 / w_bits, gsize = 4 * per;
  pk.groups = (p.k + gsize - 1) / gsize;
  pk.kpad = pk.groups * gsize;
  pk.superblocks = (p.n + kSuperCols - 1) / kSuperCols;
  pk.w.assign(static_cast<size_t>(pk.superblocks * pk.groups * 256), 0);
  pk.base.resize(p.n);
  pk.usum.resize(p.n);
  pk.zu.resize(p.n);
  pk.mult.resize(p.n);
  const int32_t off = w_signed ? (1 << (w_bits - 1)) : 0;
  const size_t padded = static_cast<size_t>(pk.superblocks * kSuperCols);
  pk.const_u8.assign(padded, 0);
  pk.const_s8.assign(padded, 0);
  pk.zu_pad.assign(padded, 0);
  pk.lane_mult.assign(padded, 0);
  pk.lane_round.assign(padded, 0);
  pk.lane_shift.assign(padded, 1);
  for (int64_t j = 0; j < p.n; ++j) {
    const int64_t sb = j / kSuperCols, cb = (j % kSuperCols) / 16, c = j % 16;
    int64_t usum = 0;
    for (int64_t l = 0; l < p.k; ++l) {
      const uint32_t u = static_cast<uint32_t>(b[p.transpose_b ? j * p.k + l : l * p.n + j] + off);
      usum += u;
      const int64_t g = l / gsize, r = l % gsize, s = r / 4, i = r % 4;
      pk.w[static_cast<size_t>((sb * pk.groups + g) * 256 + cb * 64 + 4 * c + i)] |=
          static_cast<uint8_t>(u << (w_bits * s));
    }
    pk.usum[j] = usum;
    pk.zu[j] = At(p.b_zero_point, j) + off;
    pk.base[j] = bias ? bias[j] : 0;
    pk.mult[j] = p.multiplier[p.multiplier.size() == 1 ? 0 : j];
    for (int sgn = 0; sgn < 2; ++sgn) {
      const int64_t za = int64_t{At(p.a_zero_point, 0)} + (sgn ? 128 : 0);
      const int64_t cst = pk.base[j] - za * usum + p.k * za * pk.zu[j];
      (sgn ? pk.const_s8 : pk.const_u8)[j] = static_cast<int32_t>(static_cast<uint32_t>(cst));  // wraps
    }
    pk.zu_pad[j] = pk.zu[j];
    pk.lane_mult[j] = pk.mult[j].multiplier;
    pk.lane_round[j] = int64_t{1} << (pk.mult[j].shift - 1);
    pk.lane_shift[j] = pk.mult[j].shift;
  }
  pk.a_zero_point = At(p.a_zero_point, 0);
  pk.c_zero_point = p.c_zero_point;
  pk.c_min = p.c_min;
  pk.c_max = p.c_max;
  return pk;
}

int64_t LowBitGemvTaskCount(const LowBitGemvPacked& pk) { return pk.superblocks; }

template <class TA, class TC>
void LowBitGemvRun(const LowBitGemvPacked& pk, int64_t m, const TA* a, TC* c, int64_t task_lo, int64_t task_hi) {
  int32_t lo = pk.c_min, hi = pk.c_max;
  if constexpr (!std::is_same_v<TC, int32_t>) IntersectWithTypeRange<TC>(lo, hi);
  const int64_t za = int64_t{pk.a_zero_point} + (std::is_signed_v<TA> ? 128 : 0);
  thread_local std::vector<uint8_t> row;
  // Vector loops read whole 64-byte groups: pad the row so the last group is in bounds.
  if (row.size() < static_cast<size_t>(pk.kpad + 64)) row.resize(static_cast<size_t>(pk.kpad + 64));
  alignas(64) int32_t dot[kSuperCols];
  for (int64_t r = 0; r < m; ++r) {
    const TA* ar = a + r * pk.k;
    // Row as u8 (int8 XOR 0x80) and its sum; K <= 2^19 keeps the sum in int32.
    int32_t asum = 0;
    const uint8_t flip = std::is_signed_v<TA> ? 0x80 : 0;
    for (int64_t l = 0; l < pk.k; ++l) {
      const uint8_t v = static_cast<uint8_t>(static_cast<uint8_t>(ar[l]) ^ flip);
      row[l] = v;
      asum += v;
    }
    std::memset(row.data() + pk.k, 0, row.size() - static_cast<size_t>(pk.k));
    for (int64_t sb = task_lo; sb < task_hi; ++sb) {
      switch (pk.isa) {
        case Isa::kAmx:
        case Isa::kAvx512Vnni: lowbit_gemv_detail::DotAvx512(pk, sb, row.data(), dot); break;
        case Isa::kAvx2:
        case Isa::kAvxVnni: lowbit_gemv_detail::DotAvx2(pk, sb, row.data(), dot); break;
        default: DotScalar(pk, sb, row.data(), dot);
      }
      if (pk.isa >= Isa::kAvx512Vnni && std::abs(pk.c_zero_point) <= (1 << 16)) {
        lowbit_gemv_detail::EpilogueAvx512(pk, sb, dot, static_cast<int32_t>(asum), std::is_signed_v<TA>,
                                           c + r * pk.n, lo, hi);
        continue;
      }
      const int64_t j1 = std::min<int64_t>(kSuperCols, pk.n - sb * kSuperCols);
      for (int64_t jj = 0; jj < j1; ++jj) {
        const int64_t j = sb * kSuperCols + jj;
        const int64_t v = dot[jj] + pk.base[j] - za * pk.usum[j] - int64_t{pk.zu[j]} * asum + pk.k * za * pk.zu[j];
        if constexpr (std::is_same_v<TC, int32_t>) c[r * pk.n + j] = static_cast<int32_t>(v);
        else c[r * pk.n + j] = static_cast<TC>(Requantize(static_cast<int32_t>(v), pk.mult[j], pk.c_zero_point, lo, hi));
      }
    }
  }
}

template void LowBitGemvRun<uint8_t, uint8_t>(const LowBitGemvPacked&, int64_t, const uint8_t*, uint8_t*, int64_t, int64_t);
template void LowBitGemvRun<uint8_t, int8_t>(const LowBitGemvPacked&, int64_t, const uint8_t*, int8_t*, int64_t, int64_t);
template void LowBitGemvRun<uint8_t, int32_t>(const LowBitGemvPacked&, int64_t, const uint8_t*, int32_t*, int64_t, int64_t);
template void LowBitGemvRun<int8_t, uint8_t>(const LowBitGemvPacked&, int64_t, const int8_t*, uint8_t*, int64_t, int64_t);
template void LowBitGemvRun<int8_t, int8_t>(const LowBitGemvPacked&, int64_t, const int8_t*, int8_t*, int64_t, int64_t);
template void LowBitGemvRun<int8_t, int32_t>(const LowBitGemvPacked&, int64_t, const int8_t*, int32_t*, int64_t, int64_t);

}  // namespace nibble
