// The AVX2 level of the int8 GEMM micro-kernel (no VNNI). vpmaddubsw would
// add two u8 x s8 products in saturating int16 (255 * -128 * 2 < -32768), so
// instead both operands are int16 and vpmaddwd sums pairs into int32 exactly:
// the broadcast operand is widened once at pack time, the vector operand
// (the conv activation panel, u8; fc weights, s8) is extended on load. A ymm then holds 4
// lanes x 2 partial sums (the pairs of one k4 step), added horizontally once
// per tile. Tile: 6 rows x 8 lanes (12 accumulators, 2 lane vectors and 2
// temporaries: all 16 registers).
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/x86/gemm_q8_microkernel.h"
#include "kernels/x86/gemm_q8_requant_avx2.h"

namespace nibble::q8 {
namespace {

constexpr int kMr = 6, kNr = 8;

struct Bytes8 {
  char b[8];
} __attribute__((may_alias));

// One row's step: broadcast its 4 int16 weights, multiply by the V lane
// vectors and accumulate. As inline asm so the accumulators stay in
// registers: gcc 12 hoists all R broadcasts ahead of the products and then
// spills accumulators to the stack (ResNet-18's 3x3 convs ran at a third of the
// vpmaddwd + vpaddd peak).
template <int V>
inline void RowStep(__m256i& c0, __m256i& c1, __m256i b0, __m256i b1, const uint8_t* a) {
  const Bytes8& w = *reinterpret_cast<const Bytes8*>(a);
  if constexpr (V == 2) {
    __asm__("vpbroadcastq %[w], %%ymm14\n\t"
            "vpmaddwd %%ymm14, %[b0], %%ymm15\n\t"
            "vpaddd %%ymm15, %[c0], %[c0]\n\t"
            "vpmaddwd %%ymm14, %[b1], %%ymm14\n\t"
            "vpaddd %%ymm14, %[c1], %[c1]"
            : [c0] "+x"(c0), [c1] "+x"(c1)
            : [b0] "x"(b0), [b1] "x"(b1), [w] "m"(w)
            : "xmm14", "xmm15");
  } else {
    (void)c1;
    (void)b1;
    __asm__("vpbroadcastq %[w], %%ymm14\n\t"
            "vpmaddwd %%ymm14, %[b0], %%ymm15\n\t"
            "vpaddd %%ymm15, %[c0], %[c0]"
            : [c0] "+x"(c0)
            : [b0] "x"(b0), [w] "m"(w)
            : "xmm14", "xmm15");
  }
}

// Conv mode's usual epilogue (narrow, one multiplier per row, shifts 33..45)
// on whole rows of 8, with EpilogueY's arithmetic: the rows are then narrowed
// to bytes four at a time (two packs and one lane permute, values already
// within the output type's range) instead of a call, a shuffle and two
// extracts per row. On MobileNetV2's shallow 1x1 convs the epilogue is about
// half of a tile's work. False (nothing stored) where it does not apply.
template <class TC, int R>
bool NarrowRows(const MicroArgs& g, const __m256i* sum) {
  if (!g.narrow || g.per_lane || g.lanes != 8) return false;
  int32_t sh[R];
  for (int r = 0; r < R; ++r) {
    sh[r] = g.shift[g.mult_stride == 0 ? 0 : r] - 32;
    if (sh[r] < 1 || sh[r] > 13) return false;
  }
  constexpr int kRows4 = (R + 3) / 4 * 4;
  __m256i y[kRows4];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const int32_t m = g.mult[g.mult_stride == 0 ? 0 : r];
    y[r] = NarrowOneY(_mm256_add_epi32(sum[r], _mm256_set1_epi32(g.bias[r])), _mm256_set1_epi32(m), sh[r], g.zp,
                      g.lo, g.hi);
  }
  for (int r = R; r < kRows4; ++r) y[r] = _mm256_setzero_si256();
  // packs per 128-bit half, so dword d of the bytes is row d % 4's half d / 4.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  TC* c = static_cast<TC*>(g.c);
  for (int r0 = 0; r0 < R; r0 += 4) {
    const __m256i p01 = _mm256_packs_epi32(y[r0], y[r0 + 1]), p23 = _mm256_packs_epi32(y[r0 + 2], y[r0 + 3]);
    const __m256i bytes = std::is_same_v<TC, uint8_t> ? _mm256_packus_epi16(p01, p23) : _mm256_packs_epi16(p01, p23);
    alignas(32) uint64_t q[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(bytes, order));
    for (int k = 0; k < 4 && r0 + k < R; ++k) std::memcpy(c + (r0 + k) * g.ldc, &q[k], 8);
  }
  return true;
}

template <bool kConv, class TC, int R, int V>
void Tile(const MicroArgs& g) {
  __m256i acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const uint8_t* a = static_cast<const uint8_t*>(g.a);  // int16 elements
  const uint8_t* b = static_cast<const uint8_t*>(g.b);  // conv: u8 activations, fc: s8 weights
  for (int64_t s = g.k4; s > 0; --s) {
    __m256i bv[2];
#pragma GCC unroll 2
    for (int v = 0; v < 2; ++v)
      bv[v] = v >= V ? _mm256_setzero_si256()
              : kConv ? _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * v)))
                    : _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * v)));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) RowStep<V>(acc[r][0], acc[r][1], bv[0], bv[1], a + 8 * r);
    a += g.a_stride;
    b += g.b_stride;
  }
  // [l0 p0, l0 p1, l1 p0, ...] pairs -> lanes 0..7 (hadd works per 128-bit
  // half); constant indices only, so acc stays in registers in the k loop.
  __m256i sum[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
    sum[r] = _mm256_permute4x64_epi64(
        _mm256_hadd_epi32(acc[r][0], V > 1 ? acc[r][V - 1] : _mm256_setzero_si256()), 0xD8);
  if (kConv && NarrowRows<TC, R>(g, sum)) return;
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
    case 4: return ByLanes<kConv, TC, 4>(g);
    case 5: return ByLanes<kConv, TC, 5>(g);
    default: return ByLanes<kConv, TC, 6>(g);
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
