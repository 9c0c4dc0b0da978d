// The fc driver's A packing (gemm_q8_fast.cc) on zmm: 8 rows of A into one
// tile of the micro-kernels' broadcast layout, a 4-byte-group transpose.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>

#include "kernels/x86/gemm_q8_pack.h"

namespace nibble::q8 {

// Per 64 bytes of depth (16 groups of 4) of the 8 rows: masked loads (no byte
// past a row's k is read, the depth tail loads as zero and is not flipped),
// then dword unpacks and one two-source qword permute per pair of outputs
// leave group g's 8 rows as 32 contiguous bytes. The scalar version copied
// 4 bytes at a time: 12% of a 1024^3 GEMM's time.
void PackATile8Avx512(const uint8_t* src, int64_t lda, int rows, int64_t k, uint8_t flip, uint8_t* dst) {
  const int64_t k4 = (k + 3) / 4;
  const __m512i flip64 = _mm512_set1_epi8(static_cast<char>(flip));
  // Qwords of (v, w): lanes 0 and 1 of each, interleaved v, w, v, w; then lanes 2 and 3.
  const __m512i lanes01 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i lanes23 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  for (int64_t g0 = 0; g0 < k4; g0 += 16, dst += 16 * 32) {
    const int64_t left = k - 4 * g0;
    const __mmask64 m = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    const __m512i f = _mm512_maskz_mov_epi8(m, flip64);
    __m512i r[8];
    for (int i = 0; i < 8; ++i)
      r[i] = i < rows ? _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i * lda + 4 * g0), f) : _mm512_setzero_si512();
    // Per 128-bit lane L: u[2p] = rows 2p, 2p + 1 of groups 4L, 4L + 1; u[2p + 1] of 4L + 2, 4L + 3.
    __m512i u[8];
    for (int p = 0; p < 4; ++p) {
      u[2 * p] = _mm512_unpacklo_epi32(r[2 * p], r[2 * p + 1]);
      u[2 * p + 1] = _mm512_unpackhi_epi32(r[2 * p], r[2 * p + 1]);
    }
    // v[j] (w[j]): rows 0-3 (4-7) of group 4L + j in lane L.
    const __m512i v[4] = {_mm512_unpacklo_epi64(u[0], u[2]), _mm512_unpackhi_epi64(u[0], u[2]),
                          _mm512_unpacklo_epi64(u[1], u[3]), _mm512_unpackhi_epi64(u[1], u[3])};
    const __m512i w[4] = {_mm512_unpacklo_epi64(u[4], u[6]), _mm512_unpackhi_epi64(u[4], u[6]),
                          _mm512_unpacklo_epi64(u[5], u[7]), _mm512_unpackhi_epi64(u[5], u[7])};
    const int64_t groups = std::min<int64_t>(16, k4 - g0);
    for (int j = 0; j < 4; ++j) {
      // Groups j and 4 + j, then 8 + j and 12 + j: 32 bytes each.
      const __m512i t01 = _mm512_permutex2var_epi64(v[j], lanes01, w[j]);
      const __m512i t23 = _mm512_permutex2var_epi64(v[j], lanes23, w[j]);
      const __m512i* t[2] = {&t01, &t23};
      for (int h = 0; h < 2; ++h)
        for (int q = 0; q < 2; ++q) {
          const int g = 8 * h + 4 * q + j;
          if (g >= groups) continue;
          // Half q of t[h] to dst + 32 g.
          _mm512_mask_storeu_epi64(dst + 32 * g - 32 * q, static_cast<__mmask8>(0x0F << (4 * q)), *t[h]);
        }
    }
  }
}

}  // namespace nibble::q8
