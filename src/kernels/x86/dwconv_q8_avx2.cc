// Depthwise int8 conv, kernel 3x3 / 5x5, stride 1 / 2, on ymm (AVX2; also the
// kAvxVnni level): the int16 tap-pair driver of dwconv_q8_driver.inc with 8
// output columns per vector and vpmaddwd + vpaddd in place of vpdpwssd.
#include <immintrin.h>

#include <type_traits>

#include "kernels/x86/dwconv_q8.h"
#include "kernels/x86/dwconv_q8_driver.inc"
#include "kernels/x86/gemm_q8_requant_avx2.h"
#include "kernels/x86/requant_vec_avx2.h"

namespace nibble::dwq8_detail {
namespace {

// The vector traits of the driver (see dwconv_q8_driver.inc) on ymm.
struct Ymm {
  using Vec = __m256i;
  static constexpr int64_t kLanes = 8;

  static Vec Load(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Vec Set1(int32_t v) { return _mm256_set1_epi32(v); }
  // AVX2 has no vpdpwssd: vpmaddwd, then the add.
  static Vec AddDotPairs(Vec acc, Vec x, Vec w) { return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w)); }

  // Where the plane allows (DwConvQ8Packed::narrow), the high dwords of the
  // 32 x 32-bit products and 32-bit shifts and clamps, as the conv epilogue's
  // narrow form (gemm_q8_requant_avx2.h): AVX2 emulates the 64-bit form's
  // arithmetic shift and clamps, about twice the instructions.
  struct RequantConsts {
    bool narrow;
    vec256::RequantConsts full;
    __m256i mult;
    int32_t sh, zp, lo, hi;  // sh: shift - 32
  };
  static RequantConsts MakeRequant(int32_t multiplier, int32_t shift, int32_t zero_point, int32_t lo, int32_t hi,
                                   bool narrow) {
    RequantConsts c{};
    c.narrow = narrow;
    if (!narrow) {
      c.full = vec256::MakeRequant(multiplier, shift, zero_point, lo, hi);
      return c;
    }
    c.mult = _mm256_set1_epi32(multiplier);
    c.sh = shift - 32;  // 1..13
    c.zp = zero_point;
    c.lo = lo;
    c.hi = hi;
    return c;
  }
  static Vec Requant(Vec acc, const RequantConsts& c) {
    if (!c.narrow) return vec256::Requant(acc, c.full);
    return q8::NarrowOneY(acc, c.mult, c.sh, c.zp, c.lo, c.hi);
  }

  // The tail byte by byte out of a register: AVX2 has no masked byte stores,
  // and a copy of n bytes, n unknown, is a libc call (14x14 maps: every
  // second store is a tail).
  template <class TY>
  static void StoreCodes(TY* dst, Vec codes, int64_t n) {
    const __m128i b = vec256::PackCodes<std::is_signed_v<TY>>(codes);
    if (n >= 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), b);
    } else {
      uint64_t v = static_cast<uint64_t>(_mm_cvtsi128_si64(b));
      for (int64_t i = 0; i < n; ++i, v >>= 8) dst[i] = static_cast<TY>(v & 0xff);
    }
  }

  template <class TX>
  static __m256i Widen16(__m128i b) {
    return std::is_signed_v<TX> ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
  }

  // AVX2 has no masked byte loads: a row of 16 or more ends with the last 16
  // bytes again (overlapping, the same values), a shorter one is widened
  // element by element. (A tail copied through a stack buffer cost a libc
  // call and a failed store-to-load forward per row: a third of the time of
  // the 14x14 layers.)
  template <class TX>
  static void WidenRow(const TX* src, int64_t n, int16_t* dst) {
    if (n < 16) {
      for (int64_t j = 0; j < n; ++j) dst[j] = src[j];
      return;
    }
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j),
                          Widen16<TX>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j))));
    if (j < n)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + n - 16),
                          Widen16<TX>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n - 16))));
  }

  static void BuildPairs(const int16_t* r, int32_t* p, int64_t n) {
    for (int64_t i = 0; i < n; i += 8) {
      const __m256i a = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + i)));
      const __m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + i + 1)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + i), _mm256_or_si256(a, _mm256_slli_epi32(b, 16)));
    }
  }
};

}  // namespace

template <class TX, class TY>
void RunAvx2(const FastArgs& a, const TX* x, TY* y, int64_t plane_lo, int64_t plane_hi, int k, int stride) {
  RunInt16<Ymm>(a, x, y, plane_lo, plane_hi, k, stride);
}

template void RunAvx2<uint8_t, uint8_t>(const FastArgs&, const uint8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx2<uint8_t, int8_t>(const FastArgs&, const uint8_t*, int8_t*, int64_t, int64_t, int, int);
template void RunAvx2<int8_t, uint8_t>(const FastArgs&, const int8_t*, uint8_t*, int64_t, int64_t, int, int);
template void RunAvx2<int8_t, int8_t>(const FastArgs&, const int8_t*, int8_t*, int64_t, int64_t, int, int);

}  // namespace nibble::dwq8_detail
