// The 16x16 byte transpose of AVX-512 kernels that turn planes of channels
// into cells or pixels of channels (the AMX conv's staging and store,
// PlanesToPixels); for translation units built with AVX-512 BW only.
#pragma once
#include <immintrin.h>

namespace nibble::vec512 {

// Each 128-bit lane of r as a 16 x 16 byte matrix (row i in r[i]),
// transposed: four rounds of byte unpacks of rows i and i + 8 each rotate the
// 8 index bits (row, byte) left by one, so after four the rows are the
// columns.
inline void TransposeLanes16x16(__m512i (&r)[16]) {
  for (int round = 0; round < 4; ++round) {
    __m512i t[16];
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_epi8(r[i], r[i + 8]);
      t[2 * i + 1] = _mm512_unpackhi_epi8(r[i], r[i + 8]);
    }
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
}

}  // namespace nibble::vec512
