// The AVX2 level of the int8 GEMM micro-kernel (no VNNI). vpmaddubsw would
// add two u8 x s8 products in saturating int16 (255 * -128 * 2 < -32768), so
// instead both operands are int16 and vpmaddwd sums pairs into int32 exactly:
// the broadcast operand (and fc weights) are widened once at pack time, the
// conv activation panel (u8) is zero-extended on load. A ymm then holds 4
// lanes x 2 partial sums (the pairs of one k4 step), added horizontally once
// per tile. Tile: 4 rows x 8 lanes (8 accumulators; 16 registers).
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/gemm_q8_microkernel.h"
#include "kernels/x86/gemm_q8_requant_avx2.h"

namespace nibble::q8 {
namespace {

constexpr int kMr = 4, kNr = 8;

inline int64_t Load64(const uint8_t* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

template <bool kConv, class TC, int R, int V>
void Tile(const MicroArgs& g) {
  __m256i acc[R][V];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_si256();
  const uint8_t* a = static_cast<const uint8_t*>(g.a);  // int16 elements
  const uint8_t* b = static_cast<const uint8_t*>(g.b);  // conv: u8, fc: int16
  for (int64_t s = g.k4; s > 0; --s) {
    __m256i bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v)
      bv[v] = kConv ? _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * v)))
                    : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 * v));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256i av = _mm256_set1_epi64x(Load64(a + 8 * r));
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(bv[v], av));
    }
    a += g.a_stride;
    b += g.b_stride;
  }
  // [l0 p0, l0 p1, l1 p0, ...] pairs -> lanes 0..7 (hadd works per 128-bit
  // half); constant indices only, so acc stays in registers in the k loop.
  __m256i sum[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
    sum[r] = _mm256_permute4x64_epi64(
        _mm256_hadd_epi32(acc[r][0], V > 1 ? acc[r][V - 1] : _mm256_setzero_si256()), 0xD8);
  for (int r = 0; r < R; ++r) EpilogueY(g, sum[r], r, 0, g.lanes, static_cast<TC*>(g.c) + r * g.ldc);
}

template <bool kConv, class TC, int R>
void ByLanes(const MicroArgs& g) {
  if (g.lanes > 4) return Tile<kConv, TC, R, 2>(g);
  return Tile<kConv, TC, R, 1>(g);
}

template <bool kConv, class TC>
void Micro(const MicroArgs& g) {
  switch (g.rows) {
    case 1: return ByLanes<kConv, TC, 1>(g);
    case 2: return ByLanes<kConv, TC, 2>(g);
    case 3: return ByLanes<kConv, TC, 3>(g);
    default: return ByLanes<kConv, TC, 4>(g);
  }
}

}  // namespace

const KernelTable& Avx2Kernels() {
  static const KernelTable t{Isa::kAvx2,          "avx2",                kMr,           kNr, true,
                             Micro<true, uint8_t>, Micro<true, int8_t>, Micro<false, uint8_t>,
                             Micro<false, int8_t>, RequantizeY};
  return t;
}

}  // namespace nibble::q8
