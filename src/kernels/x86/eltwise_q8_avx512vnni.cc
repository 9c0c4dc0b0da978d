// AddQ8 / MulQ8 spans and the 256-entry byte lookup on zmm (AVX-512 F/BW).
// AddQ8's kInt32 rule is the fast path (two vpmulld per 16 codes, 64 codes
// per iteration); its kRescale64 rule keeps the 64-bit products.
#include <immintrin.h>

// GCC 12's avx512fintrin.h self-initializes _mm512_undefined_* (GCC bug
// 105593), which -W(maybe-)uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <type_traits>

#include "kernels/x86/eltwise_q8.h"
#include "kernels/x86/requant_vec_avx512.h"

namespace nibble::eltq8_detail {
namespace {

// 16 codes -> int32 lanes; the masked load touches only the first n bytes.
template <class T>
inline __m512i Load16(const T* p, int64_t n) {
  const __m128i b = n >= 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))
                            : _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << n) - 1), p);
  return std::is_signed_v<T> ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

template <class T>
inline void Store16(T* p, __m512i codes, int64_t n) {
  const __m128i b = _mm512_cvtepi32_epi8(codes);  // in T's range: truncation is exact
  if (n >= 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(p), b);
  else _mm_mask_storeu_epi8(p, static_cast<__mmask16>((1u << n) - 1), b);
}

// ---- AddQ8, kInt32 rule (add_mul_q8.h)

struct AddInt32Zmm {
  __m512i c0, mx, mz;
  __m128i shift;
  __m512i zp16;      // zero point in every int16 lane
  __m512i lo8, hi8;  // clamp bounds in every byte
  __m512i order;     // vpermd indices that undo the in-lane packs (see AddInt32Block)
  explicit AddInt32Zmm(const AddInt32Span& s)
      : c0(_mm512_set1_epi32(s.c0)),
        mx(_mm512_set1_epi32(s.mx)),
        mz(_mm512_set1_epi32(s.mz)),
        shift(_mm_cvtsi32_si128(s.shift)),
        zp16(_mm512_set1_epi16(static_cast<int16_t>(s.zero_point))),
        lo8(_mm512_set1_epi8(static_cast<char>(s.lo))),
        hi8(_mm512_set1_epi8(static_cast<char>(s.hi))),
        order(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)) {}
};

// 16 codes -> int32 lanes; the masked form reads only the bytes in m.
template <class T, bool kMasked>
inline __m512i Widen16(const T* p, __mmask16 m) {
  const __m128i b = kMasked ? _mm_maskz_loadu_epi8(m, p) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return std::is_signed_v<T> ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

// 64 outputs (those in m when kMasked). The products and sums wrap in int32,
// which gives the exact acc (add_mul_q8.h). With shift >= 18, |acc >> shift| <=
// 2^13, so the packs to int16 and the + zero point are exact; the pack to 8
// bits saturates, which the clamp to [lo, hi] (inside T's range) absorbs.
template <class T, bool kTwo, bool kMasked>
inline void AddInt32Block(const AddInt32Zmm& c, const T* x, const T* z, T* y, __mmask64 m) {
  __m512i r[4];
  for (int k = 0; k < 4; ++k) {
    const __mmask16 mk = static_cast<__mmask16>(m >> (16 * k));
    __m512i acc = _mm512_add_epi32(c.c0, _mm512_mullo_epi32(Widen16<T, kMasked>(x + 16 * k, mk), c.mx));
    if constexpr (kTwo) acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(Widen16<T, kMasked>(z + 16 * k, mk), c.mz));
    r[k] = _mm512_sra_epi32(acc, c.shift);
  }
  const __m512i w01 = _mm512_add_epi16(_mm512_packs_epi32(r[0], r[1]), c.zp16);
  const __m512i w23 = _mm512_add_epi16(_mm512_packs_epi32(r[2], r[3]), c.zp16);
  // Per 128-bit lane L the packs leave dwords r0[4L..4L+3], r1[..], r2[..], r3[..]:
  // dword 4L + k holds codes 16k + 4L.. and goes to dword 4k + L.
  __m512i b;
  if constexpr (std::is_signed_v<T>) {
    b = _mm512_permutexvar_epi32(c.order, _mm512_packs_epi16(w01, w23));
    b = _mm512_max_epi8(_mm512_min_epi8(b, c.hi8), c.lo8);
  } else {
    b = _mm512_permutexvar_epi32(c.order, _mm512_packus_epi16(w01, w23));
    b = _mm512_max_epu8(_mm512_min_epu8(b, c.hi8), c.lo8);
  }
  if constexpr (kMasked) _mm512_mask_storeu_epi8(y, m, b);
  else _mm512_storeu_si512(y, b);
}

template <class T, bool kTwo>
void AddInt32Loop(const AddInt32Zmm& c, const T* x, const T* z, T* y, int64_t n) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) AddInt32Block<T, kTwo, false>(c, x + i, kTwo ? z + i : z, y + i, ~__mmask64{0});
  if (i < n) AddInt32Block<T, kTwo, true>(c, x + i, kTwo ? z + i : z, y + i, (__mmask64{1} << (n - i)) - 1);
}

// ---- AddQ8, kRescale64 rule

// MultiplyByQuantizedMultiplier((q - zp) << 20, m) for one Add operand: the
// operand's real multiplier is <= 1/2, so no saturation can occur.
struct AddOperand {
  __m512i zp, mult, round;
  __m128i shift;
  explicit AddOperand(int32_t zero_point, FixedPointMultiplier m)
      : zp(_mm512_set1_epi32(zero_point)),
        mult(_mm512_set1_epi32(m.multiplier)),
        round(_mm512_set1_epi64(int64_t{1} << (m.shift - 1))),
        shift(_mm_cvtsi32_si128(m.shift)) {}
  __m512i operator()(__m512i q) const {
    const __m512i lifted = _mm512_slli_epi32(_mm512_sub_epi32(q, zp), AddQ8Params::kLeftShift);
    return vec512::MulByMultiplierNoSat(lifted, mult, round, shift);
  }
};

}  // namespace

template <class T>
void AddInt32Avx512(const AddInt32Span& s, const T* x, const T* z, T* y, int64_t n) {
  const AddInt32Zmm c(s);
  if (z) AddInt32Loop<T, true>(c, x, z, y, n);
  else AddInt32Loop<T, false>(c, x, z, y, n);
}

template <class T>
void AddRescale64Avx512(const AddQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n) {
  // Operands in a fixed order: a scalar side becomes a constant lifted value.
  const AddOperand fa(p.a_zero_point, p.a_multiplier), fb(p.b_zero_point, p.b_multiplier);
  const vec512::RequantConsts rq =
      vec512::MakeRequant(p.y_multiplier.multiplier, p.y_multiplier.shift, p.y_zero_point, p.y_min, p.y_max);
  const __m512i ca = _mm512_set1_epi32(a_scalar ? MultiplyByQuantizedMultiplier((a[0] - p.a_zero_point) * (1 << AddQ8Params::kLeftShift), p.a_multiplier) : 0);
  const __m512i cb = _mm512_set1_epi32(b_scalar ? MultiplyByQuantizedMultiplier((b[0] - p.b_zero_point) * (1 << AddQ8Params::kLeftShift), p.b_multiplier) : 0);
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t m = n - i;
    const __m512i va = a_scalar ? ca : fa(Load16(a + i, m));
    const __m512i vb = b_scalar ? cb : fb(Load16(b + i, m));
    Store16(y + i, vec512::Requant(_mm512_add_epi32(va, vb), rq), m);
  }
}

template <class T>
void MulAvx512(const MulQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n) {
  const vec512::RequantConsts rq =
      vec512::MakeRequant(p.multiplier.multiplier, p.multiplier.shift, p.y_zero_point, p.y_min, p.y_max);
  const __m512i za = _mm512_set1_epi32(p.a_zero_point), zb = _mm512_set1_epi32(p.b_zero_point);
  const __m512i ca = _mm512_set1_epi32(a_scalar ? a[0] - p.a_zero_point : 0);
  const __m512i cb = _mm512_set1_epi32(b_scalar ? b[0] - p.b_zero_point : 0);
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t m = n - i;
    const __m512i va = a_scalar ? ca : _mm512_sub_epi32(Load16(a + i, m), za);
    const __m512i vb = b_scalar ? cb : _mm512_sub_epi32(Load16(b + i, m), zb);
    // |offsets| <= 255: the product is exact in int32.
    Store16(y + i, vec512::Requant(_mm512_mullo_epi32(va, vb), rq), m);
  }
}

// The 256-byte table as 128 int16 words in four zmm; vpermi2w (AVX-512 BW)
// looks up 64 words from two of them, so each of the 32 word lanes of the input
// does two lookups (even byte, odd byte), each from both register pairs,
// selected by bit 7 of the byte, and the word's low or high byte by bit 0.
// (vpermb / vpermi2b would do it in one step but need AVX-512 VBMI.)
void LutAvx512(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n) {
  const __m512i t0 = _mm512_loadu_si512(table.data()), t1 = _mm512_loadu_si512(table.data() + 64);
  const __m512i t2 = _mm512_loadu_si512(table.data() + 128), t3 = _mm512_loadu_si512(table.data() + 192);
  const __m512i lo8 = _mm512_set1_epi16(0x00FF);
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 mask = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    const __m512i w = _mm512_maskz_loadu_epi8(mask, x + i);
    // Even bytes: word index = byte >> 1 (vpermi2w reads index bits 0-5 only).
    const __m512i ie = _mm512_srli_epi16(w, 1);
    __m512i re = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(w, _mm512_set1_epi16(0x0080)),
                                         _mm512_permutex2var_epi16(t0, ie, t1), _mm512_permutex2var_epi16(t2, ie, t3));
    re = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(w, _mm512_set1_epi16(0x0001)), re, _mm512_srli_epi16(re, 8));
    // Odd bytes: word index = (word >> 9), bit 7 of the byte is bit 15 of the word.
    const __m512i io = _mm512_srli_epi16(w, 9);
    __m512i ro = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(w, _mm512_set1_epi16(static_cast<int16_t>(0x8000))),
                                         _mm512_permutex2var_epi16(t0, io, t1), _mm512_permutex2var_epi16(t2, io, t3));
    ro = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(w, _mm512_set1_epi16(0x0100)), _mm512_slli_epi16(ro, 8), ro);
    const __m512i r = _mm512_ternarylogic_epi32(re, ro, lo8, 0xE4);  // (re & lo8) | (ro & ~lo8)
    _mm512_mask_storeu_epi8(y + i, mask, r);
  }
}

template void AddInt32Avx512<uint8_t>(const AddInt32Span&, const uint8_t*, const uint8_t*, uint8_t*, int64_t);
template void AddInt32Avx512<int8_t>(const AddInt32Span&, const int8_t*, const int8_t*, int8_t*, int64_t);
template void AddRescale64Avx512<uint8_t>(const AddQ8Params&, const uint8_t*, bool, const uint8_t*, bool, uint8_t*,
                                          int64_t);
template void AddRescale64Avx512<int8_t>(const AddQ8Params&, const int8_t*, bool, const int8_t*, bool, int8_t*,
                                         int64_t);
template void MulAvx512<uint8_t>(const MulQ8Params&, const uint8_t*, bool, const uint8_t*, bool, uint8_t*, int64_t);
template void MulAvx512<int8_t>(const MulQ8Params&, const int8_t*, bool, const int8_t*, bool, int8_t*, int64_t);

}  // namespace nibble::eltq8_detail
