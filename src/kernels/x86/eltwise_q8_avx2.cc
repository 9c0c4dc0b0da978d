// AddQ8 / MulQ8 spans and the 256-entry byte lookup on ymm (AVX2; also the
// kAvxVnni level, where VNNI has nothing to add). AddQ8's kInt32 rule: 32
// codes per iteration, the same steps as eltwise_q8_avx512vnni.cc on half the
// width; its kRescale64 rule keeps the 64-bit products.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/x86/eltwise_q8.h"
#include "kernels/x86/requant_vec_avx2.h"

namespace nibble::eltq8_detail {
namespace {

// 8 codes -> int32 lanes; a tail goes through a stack buffer (AVX2 has no
// masked byte loads), so nothing past p[n - 1] is read.
template <class T>
inline __m256i Load8(const T* p, int64_t n) {
  __m128i b;
  if (n >= 8) {
    b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  } else {
    alignas(16) T tmp[16] = {};
    std::memcpy(tmp, p, static_cast<size_t>(n));
    b = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
  }
  return std::is_signed_v<T> ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

template <class T>
inline void Store8(T* p, __m256i codes, int64_t n) {
  const __m128i b = vec256::PackCodes<std::is_signed_v<T>>(codes);
  if (n >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
  } else {
    alignas(16) T tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(p, tmp, static_cast<size_t>(n));
  }
}

// ---- AddQ8, kInt32 rule (add_mul_q8.h)

struct AddInt32Ymm {
  __m256i c0, mx, mz;
  __m128i shift;
  __m256i zp16, lo8, hi8;
  __m256i order;  // vpermd indices that undo the in-lane packs (see AddInt32Block)
  explicit AddInt32Ymm(const AddInt32Span& s)
      : c0(_mm256_set1_epi32(s.c0)),
        mx(_mm256_set1_epi32(s.mx)),
        mz(_mm256_set1_epi32(s.mz)),
        shift(_mm_cvtsi32_si128(s.shift)),
        zp16(_mm256_set1_epi16(static_cast<int16_t>(s.zero_point))),
        lo8(_mm256_set1_epi8(static_cast<char>(s.lo))),
        hi8(_mm256_set1_epi8(static_cast<char>(s.hi))),
        order(_mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)) {}
};

template <class T>
inline __m256i Widen8(const T* p) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return std::is_signed_v<T> ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

// 32 outputs from 32 codes at x (and z). Exactness of each step: see
// AddInt32Block in eltwise_q8_avx512vnni.cc.
template <class T, bool kTwo>
inline __m256i AddInt32Block(const AddInt32Ymm& c, const T* x, const T* z) {
  __m256i r[4];
  for (int k = 0; k < 4; ++k) {
    __m256i acc = _mm256_add_epi32(c.c0, _mm256_mullo_epi32(Widen8(x + 8 * k), c.mx));
    if constexpr (kTwo) acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(Widen8(z + 8 * k), c.mz));
    r[k] = _mm256_sra_epi32(acc, c.shift);
  }
  const __m256i w01 = _mm256_add_epi16(_mm256_packs_epi32(r[0], r[1]), c.zp16);
  const __m256i w23 = _mm256_add_epi16(_mm256_packs_epi32(r[2], r[3]), c.zp16);
  // Per 128-bit lane L: dword 4L + k holds codes 8k + 4L.. and goes to dword 2k + L.
  if constexpr (std::is_signed_v<T>) {
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w01, w23), c.order);
    return _mm256_max_epi8(_mm256_min_epi8(b, c.hi8), c.lo8);
  } else {
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), c.order);
    return _mm256_max_epu8(_mm256_min_epu8(b, c.hi8), c.lo8);
  }
}

template <class T, bool kTwo>
void AddInt32Loop(const AddInt32Ymm& c, const T* x, const T* z, T* y, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), AddInt32Block<T, kTwo>(c, x + i, kTwo ? z + i : z));
  if (i == n) return;
  // The tail through stack buffers (AVX2 has no masked byte loads): nothing
  // outside the spans is read or written.
  const size_t rest = static_cast<size_t>(n - i);
  alignas(32) T bx[32] = {}, bz[32] = {}, by[32];
  std::memcpy(bx, x + i, rest);
  if constexpr (kTwo) std::memcpy(bz, z + i, rest);
  _mm256_store_si256(reinterpret_cast<__m256i*>(by), AddInt32Block<T, kTwo>(c, bx, bz));
  std::memcpy(y + i, by, rest);
}

// ---- AddQ8, kRescale64 rule

// MultiplyByQuantizedMultiplier((q - zp) << 20, m): no saturation possible
// (the operand's real multiplier is <= 1/2).
struct AddOperand {
  __m256i zp;
  vec256::RequantConsts c;
  AddOperand(int32_t zero_point, FixedPointMultiplier m)
      : zp(_mm256_set1_epi32(zero_point)), c(vec256::MakeRequant(m.multiplier, m.shift, 0, 0, 0)) {}
  __m256i operator()(__m256i q) const {
    return vec256::MulByMultiplierNoSat(_mm256_slli_epi32(_mm256_sub_epi32(q, zp), AddQ8Params::kLeftShift), c);
  }
};

}  // namespace

template <class T>
void AddInt32Avx2(const AddInt32Span& s, const T* x, const T* z, T* y, int64_t n) {
  const AddInt32Ymm c(s);
  if (z) AddInt32Loop<T, true>(c, x, z, y, n);
  else AddInt32Loop<T, false>(c, x, z, y, n);
}

template <class T>
void AddRescale64Avx2(const AddQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n) {
  const AddOperand fa(p.a_zero_point, p.a_multiplier), fb(p.b_zero_point, p.b_multiplier);
  const vec256::RequantConsts rq =
      vec256::MakeRequant(p.y_multiplier.multiplier, p.y_multiplier.shift, p.y_zero_point, p.y_min, p.y_max);
  const __m256i ca = _mm256_set1_epi32(a_scalar ? MultiplyByQuantizedMultiplier((a[0] - p.a_zero_point) * (1 << AddQ8Params::kLeftShift), p.a_multiplier) : 0);
  const __m256i cb = _mm256_set1_epi32(b_scalar ? MultiplyByQuantizedMultiplier((b[0] - p.b_zero_point) * (1 << AddQ8Params::kLeftShift), p.b_multiplier) : 0);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t m = n - i;
    const __m256i va = a_scalar ? ca : fa(Load8(a + i, m));
    const __m256i vb = b_scalar ? cb : fb(Load8(b + i, m));
    Store8(y + i, vec256::Requant(_mm256_add_epi32(va, vb), rq), m);
  }
}

template <class T>
void MulAvx2(const MulQ8Params& p, const T* a, bool a_scalar, const T* b, bool b_scalar, T* y, int64_t n) {
  const vec256::RequantConsts rq =
      vec256::MakeRequant(p.multiplier.multiplier, p.multiplier.shift, p.y_zero_point, p.y_min, p.y_max);
  const __m256i za = _mm256_set1_epi32(p.a_zero_point), zb = _mm256_set1_epi32(p.b_zero_point);
  const __m256i ca = _mm256_set1_epi32(a_scalar ? a[0] - p.a_zero_point : 0);
  const __m256i cb = _mm256_set1_epi32(b_scalar ? b[0] - p.b_zero_point : 0);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t m = n - i;
    const __m256i va = a_scalar ? ca : _mm256_sub_epi32(Load8(a + i, m), za);
    const __m256i vb = b_scalar ? cb : _mm256_sub_epi32(Load8(b + i, m), zb);
    Store8(y + i, vec256::Requant(_mm256_mullo_epi32(va, vb), rq), m);  // exact: |offsets| <= 255
  }
}

// 16 vpshufb lookups of 16 entries each: the index byte x ^ (h << 4) has a
// zero high nibble exactly for entries of sub-table h; adding 0x70 with
// unsigned saturation keeps those below 0x80 and pushes every other byte to
// >= 0x80, which vpshufb turns into 0, so OR-ing the 16 results picks one.
void LutAvx2(const LutQ8& table, const uint8_t* x, uint8_t* y, int64_t n) {
  __m256i sub[16];
  for (int h = 0; h < 16; ++h)
    sub[h] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table.data() + 16 * h)));
  const __m256i bias = _mm256_set1_epi8(0x70);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    __m256i r = _mm256_setzero_si256();
    for (int h = 0; h < 16; ++h) {
      const __m256i idx = _mm256_adds_epu8(_mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(h << 4))), bias);
      r = _mm256_or_si256(r, _mm256_shuffle_epi8(sub[h], idx));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), r);
  }
  for (; i < n; ++i) y[i] = table[x[i]];
}

template void AddInt32Avx2<uint8_t>(const AddInt32Span&, const uint8_t*, const uint8_t*, uint8_t*, int64_t);
template void AddInt32Avx2<int8_t>(const AddInt32Span&, const int8_t*, const int8_t*, int8_t*, int64_t);
template void AddRescale64Avx2<uint8_t>(const AddQ8Params&, const uint8_t*, bool, const uint8_t*, bool, uint8_t*,
                                        int64_t);
template void AddRescale64Avx2<int8_t>(const AddQ8Params&, const int8_t*, bool, const int8_t*, bool, int8_t*, int64_t);
template void MulAvx2<uint8_t>(const MulQ8Params&, const uint8_t*, bool, const uint8_t*, bool, uint8_t*, int64_t);
template void MulAvx2<int8_t>(const MulQ8Params&, const int8_t*, bool, const int8_t*, bool, int8_t*, int64_t);

}  // namespace nibble::eltq8_detail
