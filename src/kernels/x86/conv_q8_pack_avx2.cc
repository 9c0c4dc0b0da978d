// The pixel-rows helpers of conv_q8_pack_kernels.h on AVX2, for the levels
// below the zmm one (3-channel convs: ResNet-18's conv1 and MobileNetV2's
// conv0, where the portable byte loops took 30-45% of the layer at the AVX2
// level). Same bytes as the portable versions, touching only what their
// contracts allow: rows are read inside [0, valid) only, panel lanes through
// masked gathers and masked stores.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/conv_q8_pack_kernels.h"

namespace nibble::q8 {
namespace {

// Byte k of the 16-byte output block c (pixels interleaved three channels
// apart) is channel (16 c + k) % 3 of pixel (16 c + k) / 3: its source
// register (channel t's 16 pixels) and index, or -1 (another channel's byte).
struct Interleave3 {
  __m128i pick[3][3];  // [block c][channel t]
  Interleave3() {
    for (int c = 0; c < 3; ++c)
      for (int t = 0; t < 3; ++t) {
        alignas(16) int8_t m[16];
        for (int k = 0; k < 16; ++k) m[k] = static_cast<int8_t>((16 * c + k) % 3 == t ? (16 * c + k) / 3 : -1);
        pick[c][t] = _mm_load_si128(reinterpret_cast<const __m128i*>(m));
      }
  }
};

}  // namespace

void PixelRow3Avx2(const TapRowArgs& a) {
  // Pixels [lo, hi) read all three rows in range: 16 at a time from lo; the
  // pixels before lo and after the last whole 16 are the portable version's.
  const int64_t lo = std::clamp<int64_t>(-a.start, 0, a.n);
  int64_t hi = a.n;
  for (int t = 0; t < 3; ++t) hi = std::min(hi, std::max(lo, a.valid[t] - a.start));
  static const Interleave3 k3;
  const __m128i flip = _mm_set1_epi8(static_cast<char>(a.flip));
  const uint8_t *r0 = a.row[0] + a.start, *r1 = a.row[1] + a.start, *r2 = a.row[2] + a.start;
  int64_t j = lo;
  for (; j + 16 <= hi; j += 16) {
    const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + j));
    const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + j));
    const __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r2 + j));
    for (int c = 0; c < 3; ++c) {
      const __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(x0, k3.pick[c][0]), _mm_shuffle_epi8(x1, k3.pick[c][1])),
                                     _mm_shuffle_epi8(x2, k3.pick[c][2]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(a.out + 3 * j + 16 * c), _mm_xor_si128(v, flip));
    }
  }
  TapRowArgs head = a;
  head.n = lo;
  PixelRow3Portable(head);
  TapRowArgs tail = a;  // pixel i of the tail is pixel j + i of the row
  tail.start = a.start + j;
  tail.n = a.n - j;
  tail.out = a.out + 3 * j;
  PixelRow3Portable(tail);
}

void PixelPanelAvx2(const PixelPanelArgs& a) {
  // Lane i's 4 bytes of a step are one dword at i * pitch: a gather of 8
  // lanes, the last group masked (masked lanes are neither read nor written).
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i offs = _mm256_mullo_epi32(lane, _mm256_set1_epi32(static_cast<int32_t>(a.pitch)));
  const int64_t group_bytes = 8 * a.pitch;
  for (int64_t q = 0; q < a.steps; ++q) {
    uint8_t* d = a.dst + q * a.dst_stride;
    const int64_t ky = std::min(4 * q / a.row_bytes, a.rows - 1), b = 4 * q - ky * a.row_bytes;
    if (ky + 1 == a.rows || b + 4 <= a.row_bytes) {  // all four bytes from one kernel row
      const uint8_t* s = a.src + ky * a.row_stride + b;
      int i = 0;
      for (; i + 8 <= a.lanes; i += 8, s += group_bytes)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 4 * i),
                            _mm256_i32gather_epi32(reinterpret_cast<const int*>(s), offs, 1));
      if (i < a.lanes) {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(a.lanes - i), lane);
        const __m256i v = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(s), offs,
                                                      mask, 1);
        _mm256_maskstore_epi32(reinterpret_cast<int*>(d + 4 * i), mask, v);
      }
      continue;
    }
    for (int64_t t = 0; t < 4; ++t) {  // a step that straddles two kernel rows
      const int64_t l = 4 * q + t, r = std::min(l / a.row_bytes, a.rows - 1);
      const uint8_t* s = a.src + r * a.row_stride + (l - r * a.row_bytes);
      for (int i = 0; i < a.lanes; ++i) d[4 * i + t] = s[i * a.pitch];
    }
  }
}

}  // namespace nibble::q8
