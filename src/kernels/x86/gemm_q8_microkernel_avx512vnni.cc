// The zmm level of the int8 GEMM micro-kernel: vpdpbusd on 512-bit vectors,
// a tile of up to 8 rows x 48 lanes (24 zmm accumulators + 3 vector operands,
// the broadcast operand folded into vpdpbusd as m32bcst in conv mode), with the
// requantization fused into the store. Layouts: gemm_q8_microkernel.h.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -Wmaybe-uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/x86/gemm_q8_microkernel.h"
#include "kernels/x86/requant_vec_avx512.h"

namespace nibble::q8 {
namespace {

constexpr int kMr = 8, kNr = 48;

inline int32_t Load32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

using vec512::Req;
using vec512::ReqBroadcast;
using vec512::ReqLanes;
using vec512::Requant;

// The high-dword form for results known to lie in (-2^30, 2^30)
// (MicroArgs::narrow), shifts 33..45: requant_vec_avx512.h.
using vec512::HighDwords;
using vec512::HighOk;
using vec512::MakeReqH;
using vec512::ReqH;
using vec512::RequantHigh;

using vec512::MakeReqHL;
using vec512::ReqHL;
using vec512::RequantHighLanes;
using vec512::Pack4;

// Stores clamp(y, lo, hi) as bytes. When hi is the type's maximum the
// saturating down-conversion does the upper clamp (for u8 after max(y, lo)
// with lo >= 0 the lanes are non-negative, so unsigned saturation is min(y, 255)).
template <class TC>
inline void StoreClamped(TC* c, __mmask16 k, __m512i y, __m512i lo32, __m512i hi32, bool sat_hi) {
  y = _mm512_max_epi32(y, lo32);
  if (sat_hi) {
    if constexpr (std::is_same_v<TC, uint8_t>) _mm512_mask_cvtusepi32_storeu_epi8(c, k, y);
    else _mm512_mask_cvtsepi32_storeu_epi8(c, k, y);
  } else {
    _mm512_mask_cvtepi32_storeu_epi8(c, k, _mm512_min_epi32(y, hi32));
  }
}

// y clamped to [lo, hi] where Pack4's saturation would not do it: with
// kPacksClamp (lo and hi are TC's own ends: ReLU and ReLU6 outputs mostly)
// the packs alone clamp; with sat_hi only hi is TC's maximum.
template <bool kPacksClamp>
inline __m512i ClampForPacks(__m512i y, __m512i lo32, __m512i hi32, bool sat_hi) {
  if constexpr (kPacksClamp) return y;
  y = _mm512_max_epi32(y, lo32);
  return sat_hi ? y : _mm512_min_epi32(y, hi32);
}

inline __mmask16 TailMask(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Row r of a step at as + r * rs, as one x86 address each (base + index *
// 1, 2, 4 or 8) from as, p3 = as + 3 rs, rs and rs3 = 3 rs: left to itself
// GCC walks the rows with an add per row, which in a 16-lane tile is one
// instruction per vpdpbusd more than the front end has room for.
template <int r>
__attribute__((always_inline)) inline const uint8_t* RowAt(const uint8_t* as, const uint8_t* p3, int64_t rs,
                                                           int64_t rs3) {
  static_assert(r >= 0 && r < 8);
  if constexpr (r == 0) return as;
  if constexpr (r == 1) return as + rs;
  if constexpr (r == 2) return as + 2 * rs;
  if constexpr (r == 3) return as + rs3;
  if constexpr (r == 4) return as + 4 * rs;
  if constexpr (r == 5) return p3 + 2 * rs;
  if constexpr (r == 6) return as + 2 * rs3;
  return p3 + 4 * rs;
}

// Rows [r, kHi) of the accumulators take one depth step: each row's 4 bytes
// broadcast against the step's V vectors.
template <bool kConv, int R, int V, bool kOffsets, int r, int kHi>
__attribute__((always_inline)) inline void BroadcastRows(__m512i (&acc)[R][V], const __m512i (&bv)[V],
                                                         const uint8_t* as, const uint8_t* p3, int64_t rs,
                                                         int64_t rs3) {
  if constexpr (r < kHi) {
    const __m512i av = _mm512_set1_epi32(Load32(kOffsets ? RowAt<r>(as, p3, rs, rs3) : as + 4 * r));
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      // vpdpbusd: unsigned bytes from the second operand, signed from the third.
      acc[r][v] = kConv ? _mm512_dpbusd_epi32(acc[r][v], bv[v], av) : _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
    BroadcastRows<kConv, R, V, kOffsets, r + 1, kHi>(acc, bv, as, p3, rs, rs3);
  }
}

// One depth step of a tile: rows [kLo, kHi) of the accumulators take it.
template <bool kConv, int R, int V, bool kOffsets, int kLo, int kHi>
__attribute__((always_inline)) inline void KStep(__m512i (&acc)[R][V], const uint8_t*& a, const int64_t*& off,
                                                 const char*& pf, const uint8_t*& b, const MicroArgs& g,
                                                 int64_t rs, int64_t rs3) {
  const uint8_t* as = kOffsets ? a + *off++ : a;
  if constexpr (kOffsets) {
    if (pf) {
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += 64;
    }
  }
  __m512i bv[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_si512(b + 64 * v);
  BroadcastRows<kConv, R, V, kOffsets, kLo, kHi>(acc, bv, as, as + rs3, rs, rs3);
  if constexpr (!kOffsets) a += g.a_stride;
  b += g.b_stride;
}

// Conv mode's store when every row of the tile may requantize from the high
// dwords (MicroArgs::narrow, shifts 33..45; the common case): straight-line
// code per row, no branch per row, and a row of 2 or 3 vectors narrowed with
// packs into one store. Deciding per row inside the loop made GCC spill the
// accumulators and branch around each row: about 9 cycles per vector, which
// on 1x1 convs of depth 16 is twice the multiply-accumulate time.
template <class TC, int R, int V, bool kPacksClamp>
__attribute__((always_inline)) inline bool ConvRowsHigh(__m512i (&acc)[R][V], const MicroArgs& g) {
  if (!g.narrow) return false;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    if (!HighOk(g.shift[r * g.mult_stride])) return false;
  const __m512i lo32 = _mm512_set1_epi32(g.lo), hi32 = _mm512_set1_epi32(g.hi);
  const bool sat_hi = std::is_same_v<TC, uint8_t> ? (g.hi == 255 && g.lo >= 0) : g.hi == 127;
  const __mmask64 keep = g.lanes >= 64 ? ~__mmask64{0} : (__mmask64{1} << g.lanes) - 1;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    TC* c = static_cast<TC*>(g.c) + r * g.ldc;
    const ReqH p = MakeReqH(g.mult[r * g.mult_stride], g.shift[r * g.mult_stride], g.zp);
    if constexpr (V == 1) {
      StoreClamped(c, static_cast<__mmask16>(keep), RequantHigh(acc[r][0], p), lo32, hi32, sat_hi);
    } else {
      __m512i y[4];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) y[v] = ClampForPacks<kPacksClamp>(RequantHigh(acc[r][v], p), lo32, hi32, sat_hi);
#pragma GCC unroll 4
      for (int v = V; v < 4; ++v) y[v] = y[0];  // lanes past the tile: not stored
      _mm512_mask_storeu_epi8(c, keep, Pack4<TC>(y[0], y[1], y[2], y[3]));
    }
  }
  return true;
}

// kEdge (fc mode with a_off, MicroArgs::edge): the steps come in groups of
// three kernel columns; bit 0 drops row 0 from the first of each group, bit 1
// row R - 1 from the last.
// kPacksClamp: g.lo and g.hi are TC's own ends (MicroArgs), so the packing
// stores need no clamp instructions.
template <bool kConv, class TC, int R, int V, bool kOffsets, int kEdge, bool kPacksClamp>
void Tile(const MicroArgs& g) {
  // The accumulators start at the bias (vpdpbusd wraps like the sum would).
  __m512i acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      acc[r][v] = g.per_lane ? _mm512_maskz_loadu_epi32(TailMask(g.lanes - 16 * v), g.bias + 16 * v)
                             : _mm512_set1_epi32(g.bias[r]);
  const uint8_t* a = static_cast<const uint8_t*>(g.a);
  const uint8_t* b = static_cast<const uint8_t*>(g.b);
  const int64_t* off = g.a_off;
  const char* pf = static_cast<const char*>(g.pf);
  const int64_t rs = g.a_rs, rs3 = 3 * rs;
  // A tile of at most 8 vectors has too few accumulator chains to hide
  // vpdpbusd's latency (about 5 cycles at 2 per cycle on Intel cores: 10
  // chains), so alternate steps go to a second set, added at the end. The
  // 16-lane tail of a 64-channel layer (48 + 16 lanes) ran at about 60% of
  // the 48-lane tile's speed per lane on an Emerald Rapids without it.
  constexpr bool kSplit = R * V <= 8;
  __m512i acc2[R][V];
  if constexpr (kSplit) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc2[r][v] = _mm512_setzero_si512();
  }
  auto& odd = kSplit ? acc2 : acc;
  if constexpr (kEdge != 0) {
    // Groups of three steps: the first and last to one set, the middle to the other.
    for (int64_t s = g.k4 / 3; s > 0; --s) {
      KStep<kConv, R, V, kOffsets, kEdge & 1, R>(acc, a, off, pf, b, g, rs, rs3);
      KStep<kConv, R, V, kOffsets, 0, R>(odd, a, off, pf, b, g, rs, rs3);
      KStep<kConv, R, V, kOffsets, 0, R - (kEdge >> 1)>(acc, a, off, pf, b, g, rs, rs3);
    }
  } else {
    int64_t s = g.k4;
    for (; s > 1; s -= 2) {
      KStep<kConv, R, V, kOffsets, 0, R>(acc, a, off, pf, b, g, rs, rs3);
      KStep<kConv, R, V, kOffsets, 0, R>(odd, a, off, pf, b, g, rs, rs3);
    }
    if (s > 0) KStep<kConv, R, V, kOffsets, 0, R>(acc, a, off, pf, b, g, rs, rs3);
  }
  if constexpr (kSplit) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_add_epi32(acc[r][v], acc2[r][v]);
  }
  if (!g.per_lane && ConvRowsHigh<TC, R, V, kPacksClamp>(acc, g)) return;
  // Spill the tile once, with constant indices only: any run-time index into
  // acc makes GCC keep the whole array in memory inside the k loop.
  __m512i out[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) out[r][v] = acc[r][v];
  const __m512i lo64 = _mm512_set1_epi64(int64_t{g.lo} - g.zp), hi64 = _mm512_set1_epi64(int64_t{g.hi} - g.zp);
  const __m512i zp32 = _mm512_set1_epi32(g.zp);
  if (!g.per_lane) {
    // conv: one bias and multiplier per row, shared by all its lanes.
    const __m512i lo32 = _mm512_set1_epi32(g.lo), hi32 = _mm512_set1_epi32(g.hi);
    const bool sat_hi = std::is_same_v<TC, uint8_t> ? (g.hi == 255 && g.lo >= 0) : g.hi == 127;
    __mmask16 km[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) km[v] = TailMask(g.lanes - 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      TC* c = static_cast<TC*>(g.c) + r * g.ldc;
      const int32_t mr = g.mult[r * g.mult_stride], sr = g.shift[r * g.mult_stride];
      if (g.narrow && HighOk(sr)) {
        const ReqH p = MakeReqH(mr, sr, g.zp);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) StoreClamped(c + 16 * v, km[v], RequantHigh(out[r][v], p), lo32, hi32, sat_hi);
        continue;
      }
      const Req p = ReqBroadcast(mr, sr);
      for (int v = 0; v < V; ++v) {
        const __m512i y = Requant(out[r][v], p, lo64, hi64, zp32);
        _mm512_mask_cvtepi32_storeu_epi8(c + 16 * v, TailMask(g.lanes - 16 * v), y);  // y in [lo, hi]: exact
      }
    }
    return;
  }
  // fc: bias and multipliers per lane (column), shared by all rows.
  const __m512i lo32 = _mm512_set1_epi32(g.lo), hi32 = _mm512_set1_epi32(g.hi);
  const bool sat_hi = std::is_same_v<TC, uint8_t> ? (g.hi == 255 && g.lo >= 0) : g.hi == 127;
  // The high-dword requantization per lane where every lane's shift allows it.
  ReqHL ph[V];
  bool high = g.narrow;
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v)
    high = high && MakeReqHL(g.mult + 16 * v * g.mult_stride, g.shift + 16 * v * g.mult_stride, g.mult_stride,
                             TailMask(g.lanes - 16 * v), g.zp, ph[v]);
  if (high && g.dense && g.ldc == 16 * V) {
    // Rows are contiguous: vector r * V + v lands at byte 16 (r * V + v), so
    // four at a time narrow with packs into one 64-byte store.
    constexpr int kN = R * V;
    __m512i y[kN + 3];
#pragma GCC unroll 24
    for (int i = 0; i < kN; ++i)
      y[i] = ClampForPacks<kPacksClamp>(RequantHighLanes(out[i / V][i % V], ph[i % V]), lo32, hi32, sat_hi);
    for (int i = kN; i < kN + 3; ++i) y[i] = _mm512_setzero_si512();
#pragma GCC unroll 6
    for (int i = 0; i < kN; i += 4)
      _mm512_storeu_si512(static_cast<TC*>(g.c) + 16 * i, Pack4<TC>(y[i], y[i + 1], y[i + 2], y[i + 3]));
    return;
  }
  if (high) {
    // Rows anywhere (ldc apart: channels-last conv outputs): each row's
    // vectors narrowed with packs into one masked store.
    const __mmask64 keep = g.lanes >= 64 ? ~__mmask64{0} : (__mmask64{1} << g.lanes) - 1;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m512i y[4];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        y[v] = ClampForPacks<kPacksClamp>(RequantHighLanes(out[r][v], ph[v]), lo32, hi32, sat_hi);
#pragma GCC unroll 4
      for (int v = V; v < 4; ++v) y[v] = y[0];  // lanes past the tile: not stored
      _mm512_mask_storeu_epi8(static_cast<TC*>(g.c) + r * g.ldc, keep, Pack4<TC>(y[0], y[1], y[2], y[3]));
    }
    return;
  }
  for (int v = 0; v < V; ++v) {
    const int j0 = 16 * v;
    const __mmask16 k = TailMask(g.lanes - j0);
    const int32_t* mj = g.mult + j0 * g.mult_stride;
    const int32_t* sj = g.shift + j0 * g.mult_stride;
    ReqHL ph;
    if (g.narrow && MakeReqHL(mj, sj, g.mult_stride, k, g.zp, ph)) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        StoreClamped(static_cast<TC*>(g.c) + r * g.ldc + j0, k, RequantHighLanes(out[r][v], ph), lo32, hi32, sat_hi);
      continue;
    }
    const Req p = g.mult_stride == 0 ? ReqBroadcast(g.mult[0], g.shift[0]) : ReqLanes(g.mult + j0, g.shift + j0, k);
    for (int r = 0; r < R; ++r) {
      const __m512i y = Requant(out[r][v], p, lo64, hi64, zp32);
      _mm512_mask_cvtepi32_storeu_epi8(static_cast<TC*>(g.c) + r * g.ldc + j0, k, y);
    }
  }
}

template <bool kConv, class TC, int R, bool kOffsets, bool kP>
void ByLanes(const MicroArgs& g) {
  switch ((g.lanes + 15) / 16) {
    case 1: return Tile<kConv, TC, R, 1, kOffsets, 0, kP>(g);
    case 2: return Tile<kConv, TC, R, 2, kOffsets, 0, kP>(g);
    default: return Tile<kConv, TC, R, 3, kOffsets, 0, kP>(g);
  }
}

template <bool kConv, class TC, bool kOffsets, bool kP>
void ByRows(const MicroArgs& g) {
  switch (g.rows) {
    case 1: return ByLanes<kConv, TC, 1, kOffsets, kP>(g);
    case 2: return ByLanes<kConv, TC, 2, kOffsets, kP>(g);
    case 3: return ByLanes<kConv, TC, 3, kOffsets, kP>(g);
    case 4: return ByLanes<kConv, TC, 4, kOffsets, kP>(g);
    case 5: return ByLanes<kConv, TC, 5, kOffsets, kP>(g);
    case 6: return ByLanes<kConv, TC, 6, kOffsets, kP>(g);
    case 7: return ByLanes<kConv, TC, 7, kOffsets, kP>(g);
    default: return ByLanes<kConv, TC, 8, kOffsets, kP>(g);
  }
}

template <class TC, int R, int E, bool kP>
void EdgeByLanes(const MicroArgs& g) {
  switch ((g.lanes + 15) / 16) {
    case 1: return Tile<false, TC, R, 1, true, E, kP>(g);
    case 2: return Tile<false, TC, R, 2, true, E, kP>(g);
    default: return Tile<false, TC, R, 3, true, E, kP>(g);
  }
}

// Row tiles of 7 and 8 positions (whole output rows, or their first and
// last runs) skip the kernel column that lies in the padding for their edge
// positions; other tiles take every step (the padding bytes are 0 then, so
// ignoring the hint is exact).
template <class TC, int R, bool kP>
void EdgeByEdges(const MicroArgs& g) {
  switch (g.edge & 3) {
    case 1: return EdgeByLanes<TC, R, 1, kP>(g);
    case 2: return EdgeByLanes<TC, R, 2, kP>(g);
    default: return EdgeByLanes<TC, R, 3, kP>(g);
  }
}

template <class TC, bool kP>
bool EdgeTile(const MicroArgs& g) {
  if ((g.edge & 3) == 0 || (g.rows != 7 && g.rows != 8) || g.k4 % 3 != 0) return false;
  if (g.rows == 7) EdgeByEdges<TC, 7, kP>(g);
  else EdgeByEdges<TC, 8, kP>(g);
  return true;
}

template <bool kConv, class TC, bool kP>
void MicroBounds(const MicroArgs& g) {
  if constexpr (!kConv)
    if (g.a_off) {
      if (EdgeTile<TC, kP>(g)) return;
      return ByRows<kConv, TC, true, kP>(g);
    }
  ByRows<kConv, TC, false, kP>(g);
}

// The packs-clamp variant only for conv mode, whose shallow 1x1 layers are
// bound by the store: the transposed mode's tiles (most of the
// instantiations, edge tiles included) gain nothing measurable from it and
// would double this file's build.
template <bool kConv, class TC>
void Micro(const MicroArgs& g) {
  if (kConv && g.lo == std::numeric_limits<TC>::min() && g.hi == std::numeric_limits<TC>::max())
    MicroBounds<kConv, TC, kConv>(g);
  else
    MicroBounds<kConv, TC, false>(g);
}

void RequantizeZmm(const int32_t* acc, const int32_t* mult, const int32_t* shift, int64_t n, int32_t zp, int32_t lo,
                   int32_t hi, int32_t* out) {
  const __m512i lo64 = _mm512_set1_epi64(int64_t{lo} - zp), hi64 = _mm512_set1_epi64(int64_t{hi} - zp);
  const __m512i zp32 = _mm512_set1_epi32(zp);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = TailMask(static_cast<int>(std::min<int64_t>(16, n - i)));
    const __m512i y = Requant(_mm512_maskz_loadu_epi32(k, acc + i), ReqLanes(mult + i, shift + i, k), lo64, hi64, zp32);
    _mm512_mask_storeu_epi32(out + i, k, y);
  }
}

}  // namespace

const KernelTable& Avx512VnniKernels() {
  static const KernelTable t{Isa::kAvx512Vnni,    "avx512vnni",          kMr,           kNr, false,
                             Micro<true, uint8_t>, Micro<true, int8_t>, Micro<false, uint8_t>,
                             Micro<false, int8_t>, RequantizeZmm};
  return t;
}

}  // namespace nibble::q8
