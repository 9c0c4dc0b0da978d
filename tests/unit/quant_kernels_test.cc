// Scalar reference integer kernels (src/kernels/reference/*_q8, requantize):
// each one against a formulation written independently here — brute-force
// integer loops for accumulators, double precision for the real-valued result —
// over many random shapes and zero points across the whole range, plus small
// cases whose numbers are derived by hand in the comments.
#include <gtest/gtest.h>

#include <cfenv>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "kernels/reference/add_mul_q8.h"
#include "test_util.h"
#include "kernels/reference/broadcast.h"
#include "kernels/reference/conv_q8.h"
#include "kernels/reference/gemm_q8.h"
#include "kernels/reference/lut_q8.h"
#include "kernels/reference/pool_q8.h"
#include "kernels/reference/requantize.h"
#include "kernels/reference/requantize_q8.h"
#include "kernels/reference/resize_q8.h"

namespace nibble {
namespace {

using Rng = std::mt19937_64;
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();

int64_t Pick(Rng& rng, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
double Uniform(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
// 2^u, u uniform in [lo, hi).
double Log2Uniform(Rng& rng, double lo, double hi) { return std::exp2(Uniform(rng, lo, hi)); }

using testing::Hi;
using testing::Lo;

// The extremes, zero and a random code: zero points across the whole range.
template <class T>
int32_t PickZeroPoint(Rng& rng) {
  switch (Pick(rng, 0, 4)) {
    case 0: return Lo<T>();
    case 1: return Hi<T>();
    case 2: return 0;
    default: return static_cast<int32_t>(Pick(rng, Lo<T>(), Hi<T>()));
  }
}

template <class T>
std::vector<T> RandomCodes(Rng& rng, int64_t n) {
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(Pick(rng, Lo<T>(), Hi<T>()));
  return v;
}

// Random output clamp: none, a fused Relu (lo = zero point) or a random window.
template <class T>
void PickClamp(Rng& rng, int32_t zero_point, int32_t& lo, int32_t& hi) {
  switch (Pick(rng, 0, 2)) {
    case 0: lo = kI32Min, hi = kI32Max; break;
    case 1: lo = zero_point, hi = kI32Max; break;
    default: {
      const int32_t a = static_cast<int32_t>(Pick(rng, Lo<T>(), Hi<T>()));
      const int32_t b = static_cast<int32_t>(Pick(rng, Lo<T>(), Hi<T>()));
      lo = std::min(a, b), hi = std::max(a, b);
    }
  }
}

template <class T>
double ClampToType(double v, int32_t lo, int32_t hi) {
  return std::clamp(v, static_cast<double>(std::max(lo, Lo<T>())), static_cast<double>(std::min(hi, Hi<T>())));
}

// ---------------------------------------------------------------- requantize

TEST(QuantRequantize, QuantizeMultiplierHandValues) {
  // 0.5 = 2^30 * 2^-31; 1 = 2^30 * 2^-30; 0.75 = 3 * 2^29 * 2^-31.
  EXPECT_EQ(QuantizeMultiplier(0.5), (FixedPointMultiplier{1 << 30, 31}));
  EXPECT_EQ(QuantizeMultiplier(1.0), (FixedPointMultiplier{1 << 30, 30}));
  EXPECT_EQ(QuantizeMultiplier(0.75), (FixedPointMultiplier{1610612736, 31}));
  // 1/3 = (2/3) * 2^-1; (2/3) * 2^31 = 1431655765.33 -> 1431655765, shift 31 + 1.
  EXPECT_EQ(QuantizeMultiplier(1.0 / 3.0), (FixedPointMultiplier{1431655765, 32}));
  // 255 = (255/256) * 2^8: multiplier 255 * 2^23, shift 23.
  EXPECT_EQ(QuantizeMultiplier(255.0), (FixedPointMultiplier{255 << 23, 23}));
  // Tiny: 2^-35 needs shift 65 at full precision; capped at 62 with multiplier 2^27.
  EXPECT_EQ(QuantizeMultiplier(0x1p-35), (FixedPointMultiplier{1 << 27, 62}));
  EXPECT_EQ(QuantizeMultiplier(0x1p-40), (FixedPointMultiplier{1 << 22, 62}));
  EXPECT_EQ(QuantizeMultiplier(0x1p-41).multiplier, 0);
  EXPECT_EQ(QuantizeMultiplier(0.0).multiplier, 0);
  // Just below 2^30: the fraction rounds up to 2^31, which does not fit; the
  // nearest representable value with shift >= 1 is (2^31 - 1) / 2.
  EXPECT_EQ(QuantizeMultiplier(0x1p30 - 0x1p-23), (FixedPointMultiplier{kI32Max, 1}));
  EXPECT_EQ(QuantizeMultiplier(0x1p29), (FixedPointMultiplier{1 << 30, 1}));
  EXPECT_THROW(QuantizeMultiplier(-1e-9), Error);
  EXPECT_THROW(QuantizeMultiplier(std::nan("")), Error);
  EXPECT_THROW(QuantizeMultiplier(0x1p30), Error);
  EXPECT_THROW(QuantizeMultiplier(INFINITY), Error);
}

TEST(QuantRequantize, MultiplyRoundsToNearestTiesUpAndSaturates) {
  const FixedPointMultiplier half = QuantizeMultiplier(0.5);
  // x * 0.5: 3 -> 1.5 -> 2, -3 -> -1.5 -> -1, 5 -> 2.5 -> 3, -5 -> -2.5 -> -2, 1 -> 1, -1 -> 0, 4 -> 2.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(3, half), 2);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-3, half), -1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(5, half), 3);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-5, half), -2);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1, half), 1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-1, half), 0);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(4, half), 2);
  // 0.3 ~ 1288490189 * 2^-32: 10 * 0.3 = 3 (the representation error is 2^-32 * 0.2 per unit).
  EXPECT_EQ(MultiplyByQuantizedMultiplier(10, QuantizeMultiplier(0.3)), 3);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-7, QuantizeMultiplier(0.3)), -2);  // -2.1 -> -2
  // The extremes of the int64 intermediate: x = -2^31 times the largest multiplier.
  // 0.999999999 * 2^31 = 2147483645.85 -> multiplier 2147483646, shift 31: x = -2^31 gives exactly -2147483646.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(kI32Min, QuantizeMultiplier(0.999999999)), -2147483646);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(kI32Min, QuantizeMultiplier(0x1p-31)), -1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(kI32Max, QuantizeMultiplier(4.0)), kI32Max);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(kI32Min, QuantizeMultiplier(4.0)), kI32Min);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(123456, FixedPointMultiplier{0, 31}), 0);
  // Requantize: 101 * 0.5 = 50.5 -> 51, + 10 = 61, clamped to [0, 55] -> 55.
  EXPECT_EQ(Requantize(101, half, 10, -128, 127), 61);
  EXPECT_EQ(Requantize(101, half, 10, 0, 55), 55);
  EXPECT_EQ(Requantize(-1000, half, 10, 0, 55), 0);
  // Zero point added in int64: saturated product + zero point does not wrap.
  EXPECT_EQ(Requantize(kI32Max, QuantizeMultiplier(4.0), 100, kI32Min, kI32Max), kI32Max);
}

TEST(QuantRequantize, AverageMultiplyRoundsTiesToEven) {
  const FixedPointMultiplier quarter = QuantizeMultiplier(0.25);
  // x / 4: 2 -> 0.5 -> 0, 6 -> 1.5 -> 2, 10 -> 2.5 -> 2, -2 -> -0.5 -> 0, -6 -> -1.5 -> -2, 7 -> 1.75 -> 2, 5 -> 1.25 -> 1.
  const int32_t xs[] = {2, 6, 10, -2, -6, -10, 7, 5, -7, -5, 0};
  const int32_t want[] = {0, 2, 2, 0, -2, -2, 2, 1, -2, -1, 0};
  for (size_t i = 0; i < std::size(xs); ++i)
    EXPECT_EQ(MultiplyByQuantizedMultiplierHalfEven(xs[i], quarter), want[i]) << xs[i];
  EXPECT_EQ(MultiplyByQuantizedMultiplierHalfEven(kI32Max, QuantizeMultiplier(4.0)), kI32Max);
  EXPECT_EQ(MultiplyByQuantizedMultiplierHalfEven(kI32Min, QuantizeMultiplier(4.0)), kI32Min);
  // Against long double with nearbyint (ties to even) whenever the multiplier is exact (1/2^k),
  // and within 1 of it otherwise.
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const int32_t x = static_cast<int32_t>(rng());
    const int k = 1 + static_cast<int>(rng() % 20);
    const FixedPointMultiplier m = QuantizeMultiplier(std::ldexp(1.0, -k));
    const long double exact = std::nearbyintl(static_cast<long double>(x) * std::ldexp(1.0L, -k));
    ASSERT_EQ(MultiplyByQuantizedMultiplierHalfEven(x, m), static_cast<int32_t>(exact)) << x << " / 2^" << k;
    const double real = std::ldexp(1.0 + (rng() % 1000) / 1000.0, -k);
    const long double approx = std::nearbyintl(static_cast<long double>(x) * real);
    ASSERT_LE(std::fabs(static_cast<double>(MultiplyByQuantizedMultiplierHalfEven(x, QuantizeMultiplier(real)) - approx)), 1.0);
  }
}

// |MBQM(x, QuantizeMultiplier(real)) - round(x * real)| <= 1 over 2.4 million
// (real, x) pairs, and equality with floor(x * real + 1/2) whenever the fixed
// point value equals real (powers of two; multipliers of 31 bits by construction).
// The reference runs in long double: with a 64-bit significand x * m * 2^-s + 1/2
// (|x * m| < 2^62) is exact, and x * real for a 53-bit real is within 2^-64 relative.
TEST(QuantRequantize, MultiplierAgainstDoubleReferenceOnMillionsOfPairs) {
  static_assert(std::numeric_limits<long double>::digits >= 64, "the reference needs an 80-bit long double");
  Rng rng(20180615);
  constexpr int kPairs = 2'400'000;
  int64_t exact_cases = 0, off_by_one = 0, ties = 0;
  for (int i = 0; i < kPairs; ++i) {
    double real;
    const int kind = i % 4;
    if (kind == 1) {
      real = std::ldexp(1.0, static_cast<int>(Pick(rng, -20, 7)));
    } else if (kind == 2) {  // exactly m * 2^-s with m of 31 bits, inside [2^-20, 2^8)
      real = std::ldexp(static_cast<double>(Pick(rng, int64_t{1} << 30, (int64_t{1} << 31) - 1)),
                        -static_cast<int>(Pick(rng, 23, 50)));
    } else {
      real = Log2Uniform(rng, -20, 8);
    }
    const FixedPointMultiplier m = QuantizeMultiplier(real);
    ASSERT_GE(m.multiplier, 1 << 30);
    ASSERT_TRUE(m.shift >= 1 && m.shift <= 62);
    const double value = FixedPointMultiplierValue(m);
    ASSERT_LE(std::abs(value - real), 0x1p-31 * real) << real;
    // x where |x * real| < 2^31: the whole range for real <= 1, narrower above;
    // half the pairs use small x, where ties are frequent.
    const int64_t limit = std::min<int64_t>(kI32Max, static_cast<int64_t>((0x1p31 - 1) / real));
    const int64_t span = (i & 4) ? std::min<int64_t>(limit, 4096) : limit;
    const int32_t x = static_cast<int32_t>(Pick(rng, -span, span));
    const int32_t got = MultiplyByQuantizedMultiplier(x, m);
    const long double product = static_cast<long double>(x) * static_cast<long double>(real);
    const long double want = std::floor(product + 0.5L);
    const long double diff = static_cast<long double>(got) - want;
    ASSERT_LE(std::abs(diff), 1.0L) << "x " << x << " real " << real;
    if (diff != 0) ++off_by_one;
    if (product - std::floor(product) == 0.5L) ++ties;
    if (value == real) {
      ++exact_cases;
      ASSERT_EQ(static_cast<long double>(got), want) << "x " << x << " real " << real;
    }
  }
  EXPECT_GE(exact_cases, kPairs / 2);  // kinds 1 and 2
  EXPECT_GT(ties, 1000);               // ties were exercised
  // Off by one happens only for inexact multipliers, near half-integers:
  // the multiplier's relative error 2^-31 times |x * real| < 2^31.
  RecordProperty("off_by_one", static_cast<int>(off_by_one));
}

TEST(QuantRequantize, RoundHalfEvenMatchesTheDefaultRoundingMode) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  Rng rng(7);
  for (int i = 0; i < 200000; ++i) {
    float v = static_cast<float>(Uniform(rng, -300, 300));
    if (i % 3 == 0) v = std::round(v * 2) / 2;  // many exact halves
    if (i % 7 == 0) v = static_cast<float>(Log2Uniform(rng, -30, 40) * (i % 2 ? 1 : -1));
    ASSERT_EQ(RoundHalfEven(v), std::nearbyint(v)) << v;
  }
}

TEST(QuantRequantize, QuantizeLinearHalfToEvenSaturatesNanToZeroPoint) {
  // uint8, scale 1, zero point 0.
  const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, 254.5f, 255.5f, 300.f, -3.f, NAN, INFINITY, -INFINITY};
  const uint8_t want_u8[] = {0, 2, 2, 0, 254, 255, 255, 0, 0, 255, 0};
  uint8_t y_u8[11];
  QuantizeLinear<uint8_t>(x, y_u8, 11, 1.0f, 0);
  for (int i = 0; i < 11; ++i) EXPECT_EQ(y_u8[i], want_u8[i]) << i;
  // int8, scale 0.5, zero point -10: 1.25/0.5 = 2.5 -> 2 -> -8; 3.5 -> 4 -> -6;
  // -2.5 -> -2 -> -12; 200 - 10 -> 127; -200 - 10 -> -128; NaN -> -10.
  const float x2[] = {1.25f, 1.75f, -1.25f, 100.f, -100.f, NAN};
  const int8_t want_s8[] = {-8, -6, -12, 127, -128, -10};
  int8_t y_s8[6];
  QuantizeLinear<int8_t>(x2, y_s8, 6, 0.5f, -10);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y_s8[i], want_s8[i]) << i;
  // Per axis: [outer 2, channels 3, inner 2], scales {1, 2, 0.25}, zero points {0, 10, -5}.
  const float x3[12] = {1, 2, 3, 5, 0.125f, 0.375f, -1, -2, -3, -5, -0.125f, 100};
  const float scales[3] = {1, 2, 0.25f};
  const int8_t zps[3] = {0, 10, -5};
  // c0: 1, 2 | c1: 1.5 -> 2 +10 = 12, 2.5 -> 2 + 10 = 12 | c2: 0.5 -> 0 - 5, 1.5 -> 2 - 5
  // c0: -1, -2 | c1: -1.5 -> -2 + 10, -2.5 -> -2 + 10 | c2: -0.5 -> -0 - 5, 400 -> 127
  const int8_t want3[12] = {1, 2, 12, 12, -5, -3, -1, -2, 8, 8, -5, 127};
  int8_t y3[12];
  QuantizeLinear<int8_t>(x3, y3, 2, 3, 2, scales, zps);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(y3[i], want3[i]) << i;
  EXPECT_THROW(QuantizeLinear<int8_t>(x3, y3, 12, 0.0f, 0), Error);
}

TEST(QuantRequantize, DequantizeLinear) {
  const uint8_t q[] = {0, 128, 255};
  float y[3];
  DequantizeLinear<uint8_t>(q, y, 3, 0.5f, 128);  // (q - 128) * 0.5
  EXPECT_EQ(y[0], -64.f);
  EXPECT_EQ(y[1], 0.f);
  EXPECT_EQ(y[2], 63.5f);
  const int32_t q32[] = {-7, 1 << 20};
  DequantizeLinear<int32_t>(q32, y, 2, 0.25f, 0);
  EXPECT_EQ(y[0], -1.75f);
  EXPECT_EQ(y[1], 262144.f);
  // Per axis [1, 2, 2]: scales {1, 0.1}, zero points {-128, 5}.
  const int8_t q8[] = {-128, 127, 5, 15};
  const float scales[] = {1.f, 0.1f};
  const int8_t zps[] = {-128, 5};
  float y4[4];
  DequantizeLinear<int8_t>(q8, y4, 1, 2, 2, scales, zps);
  EXPECT_EQ(y4[0], 0.f);
  EXPECT_EQ(y4[1], 255.f);
  EXPECT_EQ(y4[2], 0.f);
  EXPECT_EQ(y4[3], 10 * 0.1f);
}

TEST(QuantRequantize, FusedReluAndClipBecomeClampBounds) {
  Activation relu;
  relu.kind = Activation::Kind::kRelu;
  ClampRange r = QuantizedActivationRange(relu, 0.1f, -20, -128, 127);
  EXPECT_EQ(r.lo, -20);
  EXPECT_EQ(r.hi, 127);
  Activation clip;
  clip.kind = Activation::Kind::kClip;
  clip.lo = 0, clip.hi = 6;
  // Relu6 on int8 with scale 0.05, zero point -128: 0 -> -128, 6 / 0.05 = 120 -> -8.
  r = QuantizedActivationRange(clip, 0.05f, -128, -128, 127);
  EXPECT_EQ(r.lo, -128);
  EXPECT_EQ(r.hi, -8);
  clip.lo = 6, clip.hi = 0;  // min > max: everything becomes max
  r = QuantizedActivationRange(clip, 0.05f, -128, -128, 127);
  EXPECT_EQ(r.lo, -128);
  EXPECT_EQ(r.hi, -128);
  Activation hs;
  hs.kind = Activation::Kind::kHardSwish;
  EXPECT_THROW(QuantizedActivationRange(hs, 0.05f, 0, -128, 127), Error);
}

// ---------------------------------------------------------------------- conv

// The window geometry viewed as 3-D (leading dims of size 1), for brute force.
struct Geo3 {
  int64_t in[3], out[3], ker[3], str[3], dil[3], pb[3];
  explicit Geo3(const WindowGeometry& g) {
    const size_t r = g.in.size();
    for (size_t a = 0; a < 3; ++a) {
      const bool real = a + r >= 3;
      const size_t d = real ? a + r - 3 : 0;
      in[a] = real ? g.in[d] : 1;
      out[a] = real ? g.out[d] : 1;
      ker[a] = real ? g.kernel[d] : 1;
      str[a] = real ? g.stride[d] : 1;
      dil[a] = real ? g.dilation[d] : 1;
      pb[a] = real ? g.pad_begin[d] : 0;
    }
  }
  // Extent of a padded image that holds every window (ceil_mode may overhang pad_end).
  int64_t Padded(int a) const { return std::max(in[a] + pb[a], (out[a] - 1) * str[a] + (ker[a] - 1) * dil[a] + 1); }
};

// Copies one image into a padded int64 image filled with `fill`.
template <class T>
std::vector<int64_t> PadImage(const Geo3& g, const T* x, int64_t fill) {
  const int64_t P0 = g.Padded(0), P1 = g.Padded(1), P2 = g.Padded(2);
  std::vector<int64_t> img(P0 * P1 * P2, fill);
  for (int64_t i = 0; i < g.in[0]; ++i)
    for (int64_t j = 0; j < g.in[1]; ++j)
      for (int64_t k = 0; k < g.in[2]; ++k)
        img[((i + g.pb[0]) * P1 + j + g.pb[1]) * P2 + k + g.pb[2]] = x[(i * g.in[1] + j) * g.in[2] + k];
  return img;
}

// Brute-force conv accumulator: materialize the padded input (padding = zx),
// then sum (x - zx)(w - zw) over every tap without bounds checks, in int64.
template <class TX, class TW>
std::vector<int64_t> BruteConvAcc(const ConvQ8Params& p, const std::vector<TX>& x, const std::vector<TW>& w) {
  const Geo3 g(p.geo);
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = g.in[0] * g.in[1] * g.in[2], out_sz = g.out[0] * g.out[1] * g.out[2];
  const int64_t k_sz = g.ker[0] * g.ker[1] * g.ker[2];
  const int64_t P1 = g.Padded(1), P2 = g.Padded(2);
  std::vector<int64_t> acc(p.batch * p.out_channels * out_sz, 0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t c = 0; c < p.in_channels; ++c) {
      const std::vector<int64_t> img = PadImage(g, x.data() + (n * p.in_channels + c) * in_sz, p.x_zero_point);
      const int64_t grp = c / cg, cl = c % cg;
      for (int64_t m = grp * mg; m < (grp + 1) * mg; ++m) {
        const int64_t zw = p.w_zero_point.empty() ? 0 : p.w_zero_point[p.w_zero_point.size() == 1 ? 0 : m];
        const TW* wk = w.data() + (m * cg + cl) * k_sz;
        for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
          for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
            for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
              int64_t s = 0;
              for (int64_t k0 = 0; k0 < g.ker[0]; ++k0)
                for (int64_t k1 = 0; k1 < g.ker[1]; ++k1)
                  for (int64_t k2 = 0; k2 < g.ker[2]; ++k2) {
                    const int64_t i0 = o0 * g.str[0] + k0 * g.dil[0], i1 = o1 * g.str[1] + k1 * g.dil[1];
                    const int64_t i2 = o2 * g.str[2] + k2 * g.dil[2];
                    s += (img[(i0 * P1 + i1) * P2 + i2] - p.x_zero_point) *
                         (int64_t{wk[(k0 * g.ker[1] + k1) * g.ker[2] + k2]} - zw);
                  }
              acc[(n * p.out_channels + m) * out_sz + (o0 * g.out[1] + o1) * g.out[2] + o2] += s;
            }
      }
    }
  return acc;
}

TEST(ConvQ8Reference, HandComputed3x3) {
  // x (uint8) = [10 20 30; 40 50 60; 70 80 90], zx = 50 -> x - zx = [-40 -30 -20; -10 0 10; 20 30 40].
  // w (int8) = [1 2; 3 4], zw = 1 -> w - zw = [0 1; 2 3]. No padding, stride 1:
  //   (0,0): -30*1 + -10*2 + 0*3 = -50     (0,1): -20 + 0 + 30 = 10
  //   (1,0): 0 + 40 + 90 = 130             (1,1): 10 + 60 + 120 = 190
  ConvQ8Params p;
  p.in_channels = p.out_channels = 1;
  p.geo.in = {3, 3};
  p.geo.kernel = {2, 2};
  ComputeWindow(p.geo, {}, "NOTSET", false);
  p.x_zero_point = 50;
  p.w_zero_point = {1};
  const uint8_t x[9] = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  const int8_t w[4] = {1, 2, 3, 4};
  int32_t acc[4];
  ConvQ8Int32Reference(p, x, w, acc);
  EXPECT_EQ(acc[0], -50);
  EXPECT_EQ(acc[1], 10);
  EXPECT_EQ(acc[2], 130);
  EXPECT_EQ(acc[3], 190);
  // bias 4, multiplier 1/4, zy = 100: (-46)/4 = -11.5 -> -11 (ties up) -> 89; 14/4 = 3.5 -> 4 -> 104;
  // 134/4 = 33.5 -> 34 -> 134; 194/4 = 48.5 -> 49 -> 149, clamped to y_max = 140.
  p.multiplier = {QuantizeMultiplier(0.25)};
  p.y_zero_point = 100;
  p.y_max = 140;
  const int32_t bias[1] = {4};
  uint8_t y[4];
  ConvQ8Reference(p, x, w, bias, y);
  EXPECT_EQ(y[0], 89);
  EXPECT_EQ(y[1], 104);
  EXPECT_EQ(y[2], 134);
  EXPECT_EQ(y[3], 140);
  // Pads of 1: a 4x4 output; its corner window sees only x(0,0): (-40) * (w - zw)(1,1) = -120.
  p.geo = WindowGeometry{};
  p.geo.in = {3, 3};
  p.geo.kernel = {2, 2};
  ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
  int32_t acc4[16];
  ConvQ8Int32Reference(p, x, w, acc4);
  EXPECT_EQ(acc4[0], -120);
  EXPECT_EQ(acc4[15], 0);  // the far corner sees only x(2,2) times (w - zw)(0,0) = 0
  EXPECT_EQ(acc4[5], -50);  // interior (1,1) is the unpadded (0,0)
}

TEST(ConvQ8Reference, FailsWhenTheAccumulatorCouldOverflow) {
  // 1-D, one channel, uint8 x with zx = 0 and int8 w = -128 with zw = 127: each
  // product is at most 255 * 255 = 65025 in magnitude. 33000 taps: 2145825000 fits
  // in int32; 33100 taps: 2152327500 does not.
  for (int64_t taps : {33000, 33100}) {
    ConvQ8Params p;
    p.in_channels = p.out_channels = 1;
    p.geo.in = {taps};
    p.geo.kernel = {taps};
    ComputeWindow(p.geo, {}, "NOTSET", false);
    p.w_zero_point = {127};
    std::vector<uint8_t> x(taps, 255);
    std::vector<int8_t> w(taps, -128);
    int32_t acc = 0;
    if (taps == 33000) {
      ConvQ8Int32Reference(p, x.data(), w.data(), &acc);
      EXPECT_EQ(acc, -2145825000);
    } else {
      EXPECT_THROW(ConvQ8Int32Reference(p, x.data(), w.data(), &acc), Error);
    }
  }
}

template <class TX, class TW, class TY>
void ConvQ8Trial(Rng& rng, int trial) {
  ConvQ8Params p;
  const int rank = static_cast<int>(Pick(rng, 1, 3));
  p.batch = Pick(rng, 1, 2);
  p.group = Pick(rng, 1, 3);
  p.in_channels = p.group * Pick(rng, 1, 3);
  p.out_channels = p.group * Pick(rng, 1, 3);
  std::vector<int64_t> pads;
  for (int d = 0; d < rank; ++d) {
    p.geo.kernel.push_back(Pick(rng, 1, 3));
    p.geo.stride.push_back(Pick(rng, 1, 3));
    p.geo.dilation.push_back(Pick(rng, 1, 2));
    const int64_t eff = (p.geo.kernel.back() - 1) * p.geo.dilation.back() + 1;
    p.geo.in.push_back(eff + Pick(rng, 0, rank == 3 ? 3 : 8));
  }
  for (int d = 0; d < 2 * rank; ++d) pads.push_back(Pick(rng, 0, 2));
  const char* modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  const std::string mode = modes[Pick(rng, 0, 3)];
  ComputeWindow(p.geo, mode == "NOTSET" ? pads : std::vector<int64_t>{}, mode, false);

  p.x_zero_point = PickZeroPoint<TX>(rng);
  const bool per_channel = Pick(rng, 0, 1);
  for (int64_t m = 0; m < (per_channel ? p.out_channels : 1); ++m) p.w_zero_point.push_back(PickZeroPoint<TW>(rng));
  if (!per_channel && Pick(rng, 0, 3) == 0) p.w_zero_point.clear();
  const int64_t k_sz = p.geo.kernel_size(), cg = p.in_channels / p.group;
  const std::vector<TX> x = RandomCodes<TX>(rng, p.batch * p.in_channels * p.geo.spatial_size_in());
  const std::vector<TW> w = RandomCodes<TW>(rng, p.out_channels * cg * k_sz);
  std::vector<int32_t> bias(p.out_channels);
  for (int32_t& b : bias) b = static_cast<int32_t>(Pick(rng, -100000, 100000));
  const bool use_bias = Pick(rng, 0, 3) != 0;

  const std::vector<int64_t> want = BruteConvAcc(p, x, w);
  std::vector<int32_t> acc(want.size());
  ConvQ8Int32Reference(p, x.data(), w.data(), acc.data());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(acc[i], want[i]) << "trial " << trial << " at " << i;

  // Real multipliers that put the largest |acc + bias| near 50..400 codes, so
  // most outputs land inside the range and some saturate.
  const int64_t out_sz = p.geo.spatial_size_out();
  int64_t max_abs = 1;
  for (size_t i = 0; i < want.size(); ++i)
    max_abs = std::max<int64_t>(max_abs, std::llabs(want[i] + (use_bias ? bias[(i / out_sz) % p.out_channels] : 0)));
  std::vector<double> real(per_channel ? p.out_channels : 1);
  for (double& r : real) {
    r = Uniform(rng, 50, 400) / static_cast<double>(max_abs);
    p.multiplier.push_back(QuantizeMultiplier(r));
  }
  p.y_zero_point = PickZeroPoint<TY>(rng);
  PickClamp<TY>(rng, p.y_zero_point, p.y_min, p.y_max);
  std::vector<TY> y(want.size());
  ConvQ8Reference(p, x.data(), w.data(), use_bias ? bias.data() : nullptr, y.data());
  const int32_t lo = std::max(p.y_min, Lo<TY>()), hi = std::min(p.y_max, Hi<TY>());
  for (size_t i = 0; i < want.size(); ++i) {
    const int64_t m = (i / out_sz) % p.out_channels;
    const int64_t total = want[i] + (use_bias ? bias[m] : 0);
    const size_t mi = per_channel ? m : 0;
    ASSERT_EQ(y[i], Requantize(static_cast<int32_t>(total), p.multiplier[mi], p.y_zero_point, lo, hi))
        << "trial " << trial;
    const double exact = ClampToType<TY>(real[mi] * static_cast<double>(total) + p.y_zero_point, p.y_min, p.y_max);
    ASSERT_LE(std::abs(y[i] - exact), 0.5 + 0x1p-20) << "trial " << trial << " real " << real[mi] << " acc " << total;
  }
}

TEST(ConvQ8Reference, MatchesBruteForceOnRandomGeometries) {
  Rng rng(4242);
  for (int trial = 0; trial < 480; ++trial) {
    switch (trial % 8) {
      case 0: ConvQ8Trial<uint8_t, int8_t, uint8_t>(rng, trial); break;
      case 1: ConvQ8Trial<uint8_t, int8_t, int8_t>(rng, trial); break;
      case 2: ConvQ8Trial<int8_t, int8_t, int8_t>(rng, trial); break;
      case 3: ConvQ8Trial<int8_t, int8_t, uint8_t>(rng, trial); break;
      case 4: ConvQ8Trial<uint8_t, uint8_t, uint8_t>(rng, trial); break;
      case 5: ConvQ8Trial<int8_t, uint8_t, int8_t>(rng, trial); break;
      case 6: ConvQ8Trial<uint8_t, uint8_t, int8_t>(rng, trial); break;
      default: ConvQ8Trial<int8_t, uint8_t, uint8_t>(rng, trial); break;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ---------------------------------------------------------------------- gemm

TEST(GemmQ8Reference, HandComputed2x3x2) {
  // A (uint8) = [1 2 3; 4 5 6], per-row za = {1, 3} -> [0 1 2; 1 2 3].
  // B (int8) = [1 -1; 2 0; 3 5], per-column zb = {0, -1} -> [1 0; 2 1; 3 6].
  // acc = [0+2+6, 0+1+12; 1+4+9, 0+2+18] = [8 13; 14 20].
  GemmQ8Params p;
  p.m = 2, p.n = 2, p.k = 3;
  p.a_zero_point = {1, 3};
  p.b_zero_point = {0, -1};
  const uint8_t a[6] = {1, 2, 3, 4, 5, 6};
  const int8_t b[6] = {1, -1, 2, 0, 3, 5};
  int32_t acc[4];
  GemmQ8Int32Reference(p, a, b, acc);
  EXPECT_EQ(acc[0], 8);
  EXPECT_EQ(acc[1], 13);
  EXPECT_EQ(acc[2], 14);
  EXPECT_EQ(acc[3], 20);
  // bias {-2, 3}, per-column multipliers {1/2, 1/4}, zc = -5, int8 out:
  // (8-2)/2 = 3 -> -2; (13+3)/4 = 4 -> -1; (14-2)/2 = 6 -> 1; 23/4 = 5.75 -> 6 -> 1.
  p.multiplier = {QuantizeMultiplier(0.5), QuantizeMultiplier(0.25)};
  p.c_zero_point = -5;
  const int32_t bias[2] = {-2, 3};
  int8_t c[4];
  GemmQ8Reference(p, a, b, bias, c);
  EXPECT_EQ(c[0], -2);
  EXPECT_EQ(c[1], -1);
  EXPECT_EQ(c[2], 1);
  EXPECT_EQ(c[3], 1);
  // The same product with both operands stored transposed.
  p.transpose_a = p.transpose_b = true;
  const uint8_t at[6] = {1, 4, 2, 5, 3, 6};
  const int8_t bt[6] = {1, 2, 3, -1, 0, 5};
  GemmQ8Int32Reference(p, at, bt, acc);
  EXPECT_EQ(acc[0], 8);
  EXPECT_EQ(acc[1], 13);
  EXPECT_EQ(acc[2], 14);
  EXPECT_EQ(acc[3], 20);
}

TEST(GemmQ8Reference, FailsWhenTheAccumulatorCouldOverflow) {
  GemmQ8Params p;
  p.m = 1, p.n = 2, p.k = 33100;
  p.a_zero_point = {0};
  p.b_zero_point = {0, 127};
  std::vector<uint8_t> a(p.k, 255);
  std::vector<int8_t> b(p.k * 2, -128);
  std::vector<int32_t> c(2);
  EXPECT_THROW(GemmQ8Int32Reference(p, a.data(), b.data(), c.data()), Error);  // column 1: 255 * 255 * 33100
  p.b_zero_point = {0, 0};                                                    // 255 * 128 * 33100 fits
  GemmQ8Int32Reference(p, a.data(), b.data(), c.data());
  EXPECT_EQ(c[0], -255 * 128 * 33100);
}

template <class TA, class TB, class TC>
void GemmQ8Trial(Rng& rng, int trial) {
  GemmQ8Params p;
  p.m = Pick(rng, 1, 33), p.n = Pick(rng, 1, 33), p.k = Pick(rng, 1, 70);
  p.transpose_a = Pick(rng, 0, 1), p.transpose_b = Pick(rng, 0, 1);
  const bool per_row = Pick(rng, 0, 1), per_col = Pick(rng, 0, 1);
  for (int64_t i = 0; i < (per_row ? p.m : 1); ++i) p.a_zero_point.push_back(PickZeroPoint<TA>(rng));
  for (int64_t j = 0; j < (per_col ? p.n : 1); ++j) p.b_zero_point.push_back(PickZeroPoint<TB>(rng));
  const std::vector<TA> a = RandomCodes<TA>(rng, p.m * p.k);
  const std::vector<TB> b = RandomCodes<TB>(rng, p.k * p.n);
  auto A = [&](int64_t i, int64_t l) -> int64_t { return p.transpose_a ? a[l * p.m + i] : a[i * p.k + l]; };
  auto B = [&](int64_t l, int64_t j) -> int64_t { return p.transpose_b ? b[j * p.k + l] : b[l * p.n + j]; };
  std::vector<int64_t> want(p.m * p.n, 0);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j)
      for (int64_t l = 0; l < p.k; ++l)
        want[i * p.n + j] += (A(i, l) - p.a_zero_point[per_row ? i : 0]) * (B(l, j) - p.b_zero_point[per_col ? j : 0]);
  std::vector<int32_t> acc(p.m * p.n);
  GemmQ8Int32Reference(p, a.data(), b.data(), acc.data());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(acc[i], want[i]) << "trial " << trial;

  std::vector<int32_t> bias(p.n);
  for (int32_t& v : bias) v = static_cast<int32_t>(Pick(rng, -30000, 30000));
  int64_t max_abs = 1;
  for (size_t i = 0; i < want.size(); ++i) max_abs = std::max<int64_t>(max_abs, std::llabs(want[i] + bias[i % p.n]));
  const bool per_col_mult = Pick(rng, 0, 1);
  std::vector<double> real(per_col_mult ? p.n : 1);
  for (double& r : real) {
    r = Uniform(rng, 50, 400) / static_cast<double>(max_abs);
    p.multiplier.push_back(QuantizeMultiplier(r));
  }
  p.c_zero_point = PickZeroPoint<TC>(rng);
  PickClamp<TC>(rng, p.c_zero_point, p.c_min, p.c_max);
  std::vector<TC> c(p.m * p.n);
  GemmQ8Reference(p, a.data(), b.data(), bias.data(), c.data());
  const int32_t lo = std::max(p.c_min, Lo<TC>()), hi = std::min(p.c_max, Hi<TC>());
  for (size_t i = 0; i < want.size(); ++i) {
    const int64_t j = i % p.n;
    const size_t mi = per_col_mult ? j : 0;
    const int64_t total = want[i] + bias[j];
    ASSERT_EQ(c[i], Requantize(static_cast<int32_t>(total), p.multiplier[mi], p.c_zero_point, lo, hi));
    const double exact = ClampToType<TC>(real[mi] * static_cast<double>(total) + p.c_zero_point, p.c_min, p.c_max);
    ASSERT_LE(std::abs(c[i] - exact), 0.5 + 0x1p-20) << "trial " << trial;
  }
}

TEST(GemmQ8Reference, MatchesBruteForceOnRandomShapes) {
  Rng rng(777);
  for (int trial = 0; trial < 400; ++trial) {
    switch (trial % 8) {
      case 0: GemmQ8Trial<uint8_t, int8_t, uint8_t>(rng, trial); break;
      case 1: GemmQ8Trial<uint8_t, int8_t, int8_t>(rng, trial); break;
      case 2: GemmQ8Trial<int8_t, int8_t, int8_t>(rng, trial); break;
      case 3: GemmQ8Trial<int8_t, int8_t, uint8_t>(rng, trial); break;
      case 4: GemmQ8Trial<uint8_t, uint8_t, uint8_t>(rng, trial); break;
      case 5: GemmQ8Trial<int8_t, uint8_t, int8_t>(rng, trial); break;
      case 6: GemmQ8Trial<uint8_t, uint8_t, int8_t>(rng, trial); break;
      default: GemmQ8Trial<int8_t, uint8_t, uint8_t>(rng, trial); break;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ------------------------------------------------------------------- add/mul

TEST(AddQ8Reference, HandComputedWithBroadcast) {
  // uint8: a = 0.5 (qa - 10), b = 0.25 (qb - 20), y = 1.0 (qy - 5). The kInt32
  // rule's multipliers are 1/2 and 1/4 exactly (2^22, 2^21 at shift 23), so the
  // sums are exact:
  // a {14, 7} = {2, -1.5} as [2, 1] against b {30, 20, 255} = {2.5, 0, 58.75} as [3]:
  //   2 + 2.5 = 4.5 -> 5 (ties up) -> 10;  2 + 0 -> 7;  2 + 58.75 = 60.75 -> 61 -> 66
  //   -1.5 + 2.5 = 1 -> 6;  -1.5 -> -1 (ties up; half-even would give -2) -> 4;  57.25 -> 57 -> 62
  const AddQ8Params p = MakeAddQ8Params(0.5, 10, 0.25, 20, 1.0, 5);
  const uint8_t a[2] = {14, 7}, b[3] = {30, 20, 255};
  uint8_t y[6];
  AddQ8Reference<uint8_t>(p, {2, 1}, a, {3}, b, y);
  const uint8_t want[6] = {10, 7, 66, 6, 4, 62};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y[i], want[i]) << i;
  // A fused Relu clamps at the zero point: -1.5 + 0 -> 4 becomes 5.
  const AddQ8Params relu = MakeAddQ8Params(0.5, 10, 0.25, 20, 1.0, 5, 5, kI32Max);
  AddQ8Reference<uint8_t>(relu, {2, 1}, a, {3}, b, y);
  EXPECT_EQ(y[4], 5);
  EXPECT_EQ(y[5], 62);
}

TEST(MulQ8Reference, HandComputedWithBroadcast) {
  // int8: a = 0.5 qa, b = 0.5 (qb + 2), y = 0.5 (qy - 3): multiplier 0.5 * 0.5 / 0.5 = 1/2.
  // a {3, -5, -3, 127} against b {1} (scalar):  (qb + 2) = 3.
  //   3 * 3 = 9 -> 4.5 -> 5 -> 8;  -5 * 3 = -15 -> -7.5 -> -7 -> -4;  -9 -> -4.5 -> -4 -> -1;
  //   381 -> 190.5 -> 191 -> 194 -> 127.
  const MulQ8Params p = MakeMulQ8Params(0.5, 0, 0.5, -2, 0.5, 3);
  const int8_t a[4] = {3, -5, -3, 127}, b[1] = {1};
  int8_t y[4];
  MulQ8Reference<int8_t>(p, {4}, a, {}, b, y);
  EXPECT_EQ(y[0], 8);
  EXPECT_EQ(y[1], -4);
  EXPECT_EQ(y[2], -1);
  EXPECT_EQ(y[3], 127);
}

// Every pair of codes (a as [256, 1] against b as [256]) for random scales and
// zero points: within the documented bound of the exact real sum / product.
template <class T>
void AddMulExhaustive(Rng& rng, int trial) {
  const double sa = Log2Uniform(rng, -12, 2), sb = sa * Log2Uniform(rng, -6, 6);
  const int32_t za = PickZeroPoint<T>(rng), zb = PickZeroPoint<T>(rng), zy = PickZeroPoint<T>(rng);
  int32_t lo, hi;
  PickClamp<T>(rng, zy, lo, hi);
  std::vector<T> a(256), b(256);
  for (int i = 0; i < 256; ++i) a[i] = b[i] = static_cast<T>(Lo<T>() + i);
  std::vector<T> y(256 * 256);
  {
    // Ratios up to 2^8: both of Add's rules (kRescale64 past ra + rb ~ 32).
    const double sy = std::max(sa, sb) * Log2Uniform(rng, -8, 3);
    const AddQ8Params p = MakeAddQ8Params(sa, za, sb, zb, sy, zy, lo, hi);
    AddQ8Reference<T>(p, {256, 1}, a.data(), {256}, b.data(), y.data());
    const double ro = 2 * std::max(sa, sb) / (0x1p20 * sy);
    for (int i = 0; i < 256; ++i)
      for (int j = 0; j < 256; ++j) {
        const double t = (sa * (a[i] - za) + sb * (b[j] - zb)) / sy;
        const double exact = ClampToType<T>(t + zy, lo, hi);
        // The documented bounds of each rule (add_mul_q8.h); 1e-9 for the double t.
        const double bound = p.rule == AddQ8Params::Rule::kInt32
                                 ? 0.5 + 255 * std::ldexp(1.0, -p.shift) + 1e-9
                                 : 0.5 + 1.125 * ro * (1 + 0x1p-31) + 0x1p-31 * std::abs(t) + 0x1p-31;
        const double err = std::abs(y[i * 256 + j] - exact);
        ASSERT_LE(err, bound) << "Add trial " << trial << " a " << int(a[i]) << " b " << int(b[j]);
        ASSERT_LE(err, 1.0);
      }
  }
  {
    const double sy = sa * sb * Log2Uniform(rng, 2, 14);
    const MulQ8Params p = MakeMulQ8Params(sa, za, sb, zb, sy, zy, lo, hi);
    MulQ8Reference<T>(p, {256, 1}, a.data(), {256}, b.data(), y.data());
    for (int i = 0; i < 256; ++i)
      for (int j = 0; j < 256; ++j) {
        const double t = sa * sb * (a[i] - za) * static_cast<double>(b[j] - zb) / sy;
        const double exact = ClampToType<T>(t + zy, lo, hi);
        ASSERT_LE(std::abs(y[i * 256 + j] - exact), 0.5 + 0x1p-31 * std::abs(t))
            << "Mul trial " << trial << " a " << int(a[i]) << " b " << int(b[j]);
      }
  }
}

TEST(AddMulQ8Reference, EveryPairOfCodesWithinOneLsbOfTheRealResult) {
  Rng rng(99);
  for (int trial = 0; trial < 40; ++trial) {
    if (trial % 2) AddMulExhaustive<uint8_t>(rng, trial);
    else AddMulExhaustive<int8_t>(rng, trial);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Broadcast indexing over random shapes against an explicit index computation.
TEST(AddMulQ8Reference, BroadcastIndexingOnRandomShapes) {
  Rng rng(5);
  const AddQ8Params add = MakeAddQ8Params(0.02, -3, 0.05, 7, 0.06, 1);
  const MulQ8Params mul = MakeMulQ8Params(0.02, -3, 0.05, 7, 0.01, 1);
  for (int trial = 0; trial < 300; ++trial) {
    const int rank = static_cast<int>(Pick(rng, 0, 4));
    Shape out(rank), as, bs;
    for (int d = 0; d < rank; ++d) out[d] = Pick(rng, 1, 4);
    const int ra = static_cast<int>(Pick(rng, 0, rank)), rb = static_cast<int>(Pick(rng, 0, rank));
    for (int d = rank - ra; d < rank; ++d) as.push_back(Pick(rng, 0, 2) ? out[d] : 1);
    for (int d = rank - rb; d < rank; ++d) bs.push_back(Pick(rng, 0, 2) ? out[d] : 1);
    const Shape ys = BroadcastShapes({as, bs});
    const std::vector<int8_t> a = RandomCodes<int8_t>(rng, ShapeNumel(as)), b = RandomCodes<int8_t>(rng, ShapeNumel(bs));
    std::vector<int8_t> ya(ShapeNumel(ys)), ym(ShapeNumel(ys));
    AddQ8Reference<int8_t>(add, as, a.data(), bs, b.data(), ya.data());
    MulQ8Reference<int8_t>(mul, as, a.data(), bs, b.data(), ym.data());
    const int yr = static_cast<int>(ys.size());
    for (int64_t o = 0; o < ShapeNumel(ys); ++o) {
      // Unravel o, then ravel into each input, reading index 0 along its size-1 dims.
      std::vector<int64_t> idx(yr);
      for (int64_t t = o, d = yr - 1; d >= 0; --d) idx[d] = t % ys[d], t /= ys[d];
      auto ravel = [&](const Shape& s) {
        int64_t off = 0;
        for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + (s[d] == 1 ? 0 : idx[yr - s.size() + d]);
        return off;
      };
      ASSERT_EQ(ya[o], std::clamp(AddQ8(a[ravel(as)], b[ravel(bs)], add), -128, 127));
      ASSERT_EQ(ym[o], std::clamp(MulQ8(a[ravel(as)], b[ravel(bs)], mul), -128, 127));
    }
  }
}

// ---------------------------------------------------------------------- pool

TEST(PoolQ8Reference, AveragePoolHandComputed) {
  // x (uint8) 3x3 = [10 20 30; 40 50 60; 70 80 90], zx = 10 -> offsets [0 10 20; 30 40 50; 60 70 80].
  // 2x2 windows, stride 1: sums 80, 120, 200, 240, /4 = 20, 30, 50, 60 (x_scale 1);
  // y_scale 8: 2.5, 3.75, 6.25, 7.5 -> 2, 4, 6, 8 (ties to even, like QuantizeLinear); zy = 5 -> 7, 9, 11, 13.
  const uint8_t x[9] = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  AvgPoolQ8Params p;
  p.planes = 1;
  p.geo.in = {3, 3};
  p.geo.kernel = {2, 2};
  ComputeWindow(p.geo, {}, "NOTSET", false);
  p.x_zero_point = 10;
  p.y_zero_point = 5;
  p.multiplier = AvgPoolQ8Multipliers(1.0, 8.0, 4);
  uint8_t y[16];
  AvgPoolQ8Reference(p, x, y, 0, 1);
  EXPECT_EQ(y[0], 7);
  EXPECT_EQ(y[1], 9);
  EXPECT_EQ(y[2], 11);
  EXPECT_EQ(y[3], 13);
  // Pads 1, y_scale 1 (4x4 output). (0,0) sees offset 0 -> 5 either way. (0,1) sees
  // offsets 0, 10: / 2 taps = 5 -> 10; / 4 (count_include_pad) = 2.5 -> 2 (even) -> 7.
  // (1,1) sees 0, 10, 30, 40 = 80 / 4 = 20 -> 25 either way.
  p.geo = WindowGeometry{};
  p.geo.in = {3, 3};
  p.geo.kernel = {2, 2};
  ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
  p.multiplier = AvgPoolQ8Multipliers(1.0, 1.0, 4);
  AvgPoolQ8Reference(p, x, y, 0, 1);
  EXPECT_EQ(y[0], 5);
  EXPECT_EQ(y[1], 10);
  EXPECT_EQ(y[5], 25);
  p.count_include_pad = true;
  AvgPoolQ8Reference(p, x, y, 0, 1);
  EXPECT_EQ(y[0], 5);
  EXPECT_EQ(y[1], 7);
  EXPECT_EQ(y[5], 25);
}

TEST(PoolQ8Reference, MaxPoolAndGlobalAverageHandComputed) {
  // int8, 1-D x = [-5 3 7 -128 2]. Kernel 2 stride 2 ceil_mode: out 3 = [3, 7, 2].
  const int8_t x[5] = {-5, 3, 7, -128, 2};
  WindowGeometry g;
  g.in = {5};
  g.kernel = {2};
  g.stride = {2};
  ComputeWindow(g, {}, "NOTSET", true);
  ASSERT_EQ(g.out[0], 3);
  int8_t y[3];
  MaxPoolQ8Reference(1, g, x, y, 0, 1);
  EXPECT_EQ(y[0], 3);
  EXPECT_EQ(y[1], 7);
  EXPECT_EQ(y[2], 2);
  // Kernel 2 dilation 2 stride 1: [max(x0, x2), max(x1, x3), max(x2, x4)] = [7, 3, 7].
  g = WindowGeometry{};
  g.in = {5};
  g.kernel = {2};
  g.dilation = {2};
  ComputeWindow(g, {}, "NOTSET", false);
  MaxPoolQ8Reference(1, g, x, y, 0, 1);
  EXPECT_EQ(y[0], 7);
  EXPECT_EQ(y[1], 3);
  EXPECT_EQ(y[2], 7);
  // GlobalAveragePool, two planes of 4, zx = -8, x_scale 0.5, y_scale 0.25, zy = 1:
  // plane 0 [-8 -6 -4 -3]: offsets 0 2 4 5, mean 2.75 * 0.5 / 0.25 = 5.5 -> 6 -> 7.
  // plane 1 [-128 -128 -128 -127]: offsets -120 x3, -119: mean -119.75 * 2 = -239.5 -> -239 -> -238 -> -128.
  const int8_t g8[8] = {-8, -6, -4, -3, -128, -128, -128, -127};
  GlobalAvgPoolQ8Params gp;
  gp.spatial = 4;
  gp.x_zero_point = -8;
  gp.y_zero_point = 1;
  gp.multiplier = QuantizeMultiplier(0.5 / (0.25 * 4));
  int8_t gy[2];
  GlobalAvgPoolQ8Reference(gp, g8, gy, 0, 2);
  EXPECT_EQ(gy[0], 7);
  EXPECT_EQ(gy[1], -128);
}

template <class T>
void PoolQ8Trial(Rng& rng, int trial) {
  const int rank = static_cast<int>(Pick(rng, 1, 3));
  AvgPoolQ8Params p;
  p.planes = Pick(rng, 1, 3);
  std::vector<int64_t> pads;
  for (int d = 0; d < rank; ++d) {
    p.geo.kernel.push_back(Pick(rng, 1, 4));
    p.geo.stride.push_back(Pick(rng, 1, 3));
    p.geo.dilation.push_back(Pick(rng, 1, 2));
    const int64_t eff = (p.geo.kernel.back() - 1) * p.geo.dilation.back() + 1;
    p.geo.in.push_back(eff + Pick(rng, 0, rank == 3 ? 3 : 7));
  }
  for (int d = 0; d < 2 * rank; ++d) pads.push_back(Pick(rng, 0, 3));
  const bool ceil_mode = Pick(rng, 0, 1);
  const char* modes[] = {"NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  const std::string mode = modes[Pick(rng, 0, 4)];
  ComputeWindow(p.geo, mode == "NOTSET" ? pads : std::vector<int64_t>{}, mode, ceil_mode);
  p.count_include_pad = Pick(rng, 0, 1);
  p.x_zero_point = PickZeroPoint<T>(rng);
  p.y_zero_point = PickZeroPoint<T>(rng);
  PickClamp<T>(rng, p.y_zero_point, p.y_min, p.y_max);
  const double sx = Log2Uniform(rng, -10, 0), sy = sx * Log2Uniform(rng, -3, 3);
  const int64_t k_sz = p.geo.kernel_size();
  p.multiplier = AvgPoolQ8Multipliers(sx, sy, k_sz);
  const int64_t in_sz = p.geo.spatial_size_in(), out_sz = p.geo.spatial_size_out();
  const std::vector<T> x = RandomCodes<T>(rng, p.planes * in_sz);
  std::vector<T> avg(p.planes * out_sz), mx(p.planes * out_sz);
  AvgPoolQ8Reference(p, x.data(), avg.data(), 0, p.planes);
  MaxPoolQ8Reference(p.planes, p.geo, x.data(), mx.data(), 0, p.planes);

  // Brute force over a padded image whose padding is marked (kPad), windows
  // read without bounds checks.
  const Geo3 g(p.geo);
  constexpr int64_t kPad = std::numeric_limits<int64_t>::min();
  const int64_t P1 = g.Padded(1), P2 = g.Padded(2);
  const int32_t lo = std::max(p.y_min, Lo<T>()), hi = std::min(p.y_max, Hi<T>());
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const std::vector<int64_t> img = PadImage(g, x.data() + plane * in_sz, kPad);
    for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
      for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
        for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
          int64_t sum = 0, taps = 0, best = Lo<T>();
          for (int64_t k0 = 0; k0 < g.ker[0]; ++k0)
            for (int64_t k1 = 0; k1 < g.ker[1]; ++k1)
              for (int64_t k2 = 0; k2 < g.ker[2]; ++k2) {
                const int64_t v = img[((o0 * g.str[0] + k0 * g.dil[0]) * P1 + o1 * g.str[1] + k1 * g.dil[1]) * P2 +
                                      o2 * g.str[2] + k2 * g.dil[2]];
                if (v == kPad) continue;
                sum += v - p.x_zero_point;
                ++taps;
                best = std::max(best, v);
              }
          const int64_t o = plane * out_sz + (o0 * g.out[1] + o1) * g.out[2] + o2;
          ASSERT_EQ(mx[o], best) << "trial " << trial;
          const int64_t count = p.count_include_pad ? k_sz : taps;
          if (count == 0) {
            ASSERT_EQ(avg[o], std::clamp(p.y_zero_point, lo, hi));
            continue;
          }
          const FixedPointMultiplier m = QuantizeMultiplier(sx / (sy * static_cast<double>(count)));
          ASSERT_EQ(avg[o], Requantize(static_cast<int32_t>(sum), m, p.y_zero_point, lo, hi)) << "trial " << trial;
          const double t = sx * static_cast<double>(sum) / (sy * static_cast<double>(count));
          ASSERT_LE(std::abs(avg[o] - ClampToType<T>(t + p.y_zero_point, p.y_min, p.y_max)), 0.5 + 0x1p-20)
              << "trial " << trial;
        }
  }

  // GlobalAveragePool of the same planes.
  GlobalAvgPoolQ8Params gp;
  gp.spatial = in_sz;
  gp.x_zero_point = p.x_zero_point;
  gp.y_zero_point = p.y_zero_point;
  gp.y_min = p.y_min, gp.y_max = p.y_max;
  gp.multiplier = QuantizeMultiplier(sx / (sy * static_cast<double>(in_sz)));
  std::vector<T> gy(p.planes);
  GlobalAvgPoolQ8Reference(gp, x.data(), gy.data(), 0, p.planes);
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    double sum = 0;
    for (int64_t i = 0; i < in_sz; ++i) sum += x[plane * in_sz + i] - p.x_zero_point;
    const double t = sx * sum / (sy * static_cast<double>(in_sz));
    ASSERT_LE(std::abs(gy[plane] - ClampToType<T>(t + p.y_zero_point, p.y_min, p.y_max)), 0.5 + 0x1p-20);
  }
}

TEST(PoolQ8Reference, MatchesBruteForceOnRandomGeometries) {
  Rng rng(31337);
  for (int trial = 0; trial < 600; ++trial) {
    if (trial % 2) PoolQ8Trial<uint8_t>(rng, trial);
    else PoolQ8Trial<int8_t>(rng, trial);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ----------------------------------------------------------------- requantize

TEST(RequantizeQ8Reference, HandComputed) {
  // Equal scales, uint8 zx 128 -> int8 zy 0: a pure shift, exact.
  const uint8_t x[3] = {0, 128, 255};
  int8_t y[3];
  RequantizeQ8Reference(MakeRequantizeQ8Params(0.1, 128, 0.1, 0), x, y, 3);
  EXPECT_EQ(y[0], -128);
  EXPECT_EQ(y[1], 0);
  EXPECT_EQ(y[2], 127);
  // Ratio 1/2: 131 - 128 = 3 -> 1.5 -> 2; 125 - 128 = -3 -> -1.5 -> -1 (ties up);
  // 255 - 128 = 127 -> 63.5 -> 64, + zy 100 = 164 -> clamped to y_max 127.
  const uint8_t x2[3] = {131, 125, 255};
  RequantizeQ8Reference(MakeRequantizeQ8Params(0.05, 128, 0.1, 0), x2, y, 3);
  EXPECT_EQ(y[0], 2);
  EXPECT_EQ(y[1], -1);
  uint8_t yu[3];
  RequantizeQ8Reference(MakeRequantizeQ8Params(0.05, 128, 0.1, 100, 0, 150), x2, yu, 3);
  EXPECT_EQ(yu[0], 102);
  EXPECT_EQ(yu[1], 99);
  EXPECT_EQ(yu[2], 150);
  EXPECT_THROW(MakeRequantizeQ8Params(1.0, 0, 0.0, 0), Error);
}

template <class TX, class TY>
void RequantizeQ8Trial(Rng& rng, int trial) {
  const double sx = Log2Uniform(rng, -12, 0);
  const bool power_of_two = trial % 3 == 0;
  const double sy = power_of_two ? sx * std::ldexp(1.0, static_cast<int>(Pick(rng, -6, 6))) : sx * Log2Uniform(rng, -6, 6);
  const int32_t zx = PickZeroPoint<TX>(rng), zy = PickZeroPoint<TY>(rng);
  int32_t lo, hi;
  PickClamp<TY>(rng, zy, lo, hi);
  std::vector<TX> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<TX>(Lo<TX>() + i);
  std::vector<TY> y(256);
  RequantizeQ8Reference(MakeRequantizeQ8Params(sx, zx, sy, zy, lo, hi), x.data(), y.data(), 256);
  for (int i = 0; i < 256; ++i) {
    const double t = (x[i] - zx) * (sx / sy);  // exact when the ratio is a power of two
    ASSERT_LE(std::abs(y[i] - ClampToType<TY>(t + zy, lo, hi)), 0.5 + 0x1p-31 * std::abs(t)) << "trial " << trial;
    if (power_of_two) {
      ASSERT_EQ(y[i], ClampToType<TY>(std::floor(t + 0.5) + zy, lo, hi)) << "trial " << trial;
    }
  }
}

TEST(RequantizeQ8Reference, EveryCodeWithinHalfLsbOfTheRealValue) {
  Rng rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    switch (trial % 4) {
      case 0: RequantizeQ8Trial<uint8_t, uint8_t>(rng, trial); break;
      case 1: RequantizeQ8Trial<uint8_t, int8_t>(rng, trial); break;
      case 2: RequantizeQ8Trial<int8_t, uint8_t>(rng, trial); break;
      default: RequantizeQ8Trial<int8_t, int8_t>(rng, trial); break;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ----------------------------------------------------------------------- lut

QuantParams Q8(bool is_signed, float scale, int32_t zero_point) {
  QuantParams q;
  q.is_signed = is_signed;
  q.scale = {scale};
  q.zero_point = {zero_point};
  return q;
}

TEST(LutQ8, HandComputed) {
  // Identity from int8 (scale 0.5) to int8 (scale 1): q/2 rounded half to even:
  // 3 -> 1.5 -> 2, 5 -> 2.5 -> 2, -3 -> -1.5 -> -2, -128 -> -64, 127 -> 63.5 -> 64.
  const LutQ8 t = BuildLutQ8([](float v) { return v; }, Q8(true, 0.5f, 0), Q8(true, 1.0f, 0));
  EXPECT_EQ(static_cast<int8_t>(t[3]), 2);
  EXPECT_EQ(static_cast<int8_t>(t[5]), 2);
  EXPECT_EQ(static_cast<int8_t>(t[static_cast<uint8_t>(-3)]), -2);
  EXPECT_EQ(static_cast<int8_t>(t[static_cast<uint8_t>(-128)]), -64);
  EXPECT_EQ(static_cast<int8_t>(t[127]), 64);
  // Sigmoid from uint8 (0.1, zp 128) to uint8 (1/256, zp 0): 128 -> 0 -> 0.5 -> 128;
  // 255 -> 12.7 -> 0.999997 -> 255.999 -> 255 (saturated); 0 -> -12.8 -> 2.8e-6 -> 0;
  // 138 -> 1.0 -> 0.731059 * 256 = 187.15 -> 187.
  const LutQ8 s = BuildLutQ8([](float v) { return 1.0f / (1.0f + std::exp(-v)); }, Q8(false, 0.1f, 128),
                             Q8(false, 1.0f / 256, 0));
  EXPECT_EQ(s[128], 128);
  EXPECT_EQ(s[255], 255);
  EXPECT_EQ(s[0], 0);
  EXPECT_EQ(s[138], 187);
  const uint8_t x[4] = {0, 128, 138, 255};
  uint8_t y[4];
  ApplyLutQ8(s, x, y, 4);
  EXPECT_EQ(y[2], 187);
  EXPECT_EQ(y[3], 255);
  // int8 codes through the typed wrapper: -3 reads entry 253.
  const int8_t xs[2] = {-3, 5};
  int8_t ys[2];
  ApplyLutQ8(t, xs, ys, 2);
  EXPECT_EQ(ys[0], -2);
  EXPECT_EQ(ys[1], 2);
  QuantParams per_channel = Q8(true, 0.5f, 0);
  per_channel.scale = {0.5f, 0.25f};
  per_channel.zero_point = {0, 0};
  per_channel.axis = 1;
  EXPECT_THROW(BuildLutQ8([](float v) { return v; }, per_channel, Q8(true, 1.0f, 0)), Error);
}

// Every entry against Dequantize -> f -> Quantize written out here with the
// floating-point environment's rounding (std::nearbyint) instead of RoundHalfEven.
TEST(LutQ8, EveryEntryEqualsTheFloatQdqPath) {
  Rng rng(3);
  const std::vector<std::function<float(float)>> fns = {
      [](float v) { return std::tanh(v); }, [](float v) { return 1.0f / (1.0f + std::exp(-v)); },
      [](float v) { return v * std::min(std::max(v / 6.0f + 0.5f, 0.0f), 1.0f); },
      [](float v) { return v >= 0 ? v : 0.01f * v; }, [](float v) { return v * v; }};
  for (int trial = 0; trial < 200; ++trial) {
    QuantParams in = Q8(Pick(rng, 0, 1), static_cast<float>(Log2Uniform(rng, -8, 0)), 0);
    QuantParams out = Q8(Pick(rng, 0, 1), static_cast<float>(Log2Uniform(rng, -8, 0)), 0);
    out.narrow = Pick(rng, 0, 3) == 0;
    in.zero_point[0] = static_cast<int32_t>(Pick(rng, in.qmin(), in.qmax()));
    out.zero_point[0] = static_cast<int32_t>(Pick(rng, out.qmin(), out.qmax()));
    const auto& f = fns[trial % fns.size()];
    const LutQ8 t = BuildLutQ8(f, in, out);
    for (int byte = 0; byte < 256; ++byte) {
      const int32_t q = in.is_signed ? static_cast<int8_t>(byte) : byte;
      const float v = static_cast<float>(q - in.zero_point[0]) * in.scale[0];
      const float r = std::nearbyint(f(v) / out.scale[0]);
      const int32_t want = static_cast<int32_t>(
          std::clamp<double>(static_cast<double>(r) + out.zero_point[0], out.qmin(), out.qmax()));
      const int32_t got = out.is_signed ? static_cast<int8_t>(t[byte]) : t[byte];
      ASSERT_EQ(got, want) << "trial " << trial << " code " << q;
    }
  }
}

// -------------------------------------------------------------------- resize

ResizeAxis Axis(ResizeMode mode, ResizeCoord coord, int64_t in, int64_t out) {
  ResizeAxisSpec s;
  s.in = in, s.out = out;
  s.scale = static_cast<double>(out) / static_cast<double>(in);
  s.length_resized = static_cast<double>(out);
  return MakeResizeAxis(mode, coord, ResizeNearest::kRoundPreferFloor, s);
}

TEST(ResizeQ8Reference, BilinearHandComputed) {
  // [0 100; 200 255] to 4x4, half_pixel: per axis the outputs read (lo, hi, w) =
  // (0,0,0), (0,1,.25), (0,1,.75), (1,1,0). Weights .25/.75 are exact in Q15.
  //   row 0: 0, 25, 75, 100     row 3: 200, 213.75 -> 214, 241.25 -> 241, 255
  //   row 1: 50, .75*25 + .25*213.75 = 72.1875 -> 72, .75*75 + .25*241.25 = 116.5625 -> 117, 138.75 -> 139
  //   row 2: 150, .25*25 + .75*213.75 = 166.5625 -> 167, 199.6875 -> 200, 216.25 -> 216
  const uint8_t x[4] = {0, 100, 200, 255};
  const ResizeAxis a = Axis(ResizeMode::kLinear, ResizeCoord::kHalfPixel, 2, 4);
  uint8_t y[16];
  ResizeBilinearQ8Reference<uint8_t>(a, a, x, y, 0, 0, 1);
  const uint8_t want[16] = {0, 25, 75, 100, 50, 72, 117, 139, 150, 167, 200, 216, 200, 214, 241, 255};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[i], want[i]) << i;
  // Ties round half to even: align_corners 1x2 -> 1x3 puts the middle at 0.5.
  // int8 [-1 0] -> [-1, -0.5 -> 0, 0];  uint8 [0 1] -> [0, 0.5 -> 0, 1];  uint8 [1 2] -> 1.5 -> 2.
  const ResizeAxis h1 = Axis(ResizeMode::kLinear, ResizeCoord::kAlignCorners, 1, 1);
  const ResizeAxis w3 = Axis(ResizeMode::kLinear, ResizeCoord::kAlignCorners, 2, 3);
  const int8_t xs[2] = {-1, 0};
  int8_t ys[3];
  ResizeBilinearQ8Reference<int8_t>(h1, w3, xs, ys, 0, 0, 1);
  EXPECT_EQ(ys[0], -1);
  EXPECT_EQ(ys[1], 0);
  EXPECT_EQ(ys[2], 0);
  const uint8_t xu[2] = {0, 1};
  uint8_t yu[3];
  ResizeBilinearQ8Reference<uint8_t>(h1, w3, xu, yu, 0, 0, 1);
  EXPECT_EQ(yu[1], 0);
  const uint8_t xu2[2] = {1, 2};
  ResizeBilinearQ8Reference<uint8_t>(h1, w3, xu2, yu, 0, 0, 1);
  EXPECT_EQ(yu[1], 2);
  // tf_crop_and_resize with roi [0, 2] on a width of 2: coordinates 0, 1, 2; the
  // last is outside the input and takes the extrapolation code 77.
  ResizeAxisSpec s;
  s.in = 2, s.out = 3, s.scale = 1.5, s.length_resized = 3, s.roi_start = 0, s.roi_end = 2;
  const ResizeAxis crop = MakeResizeAxis(ResizeMode::kLinear, ResizeCoord::kTfCropAndResize,
                                         ResizeNearest::kRoundPreferFloor, s);
  const uint8_t xc[2] = {10, 20};
  uint8_t yc[3];
  ResizeBilinearQ8Reference<uint8_t>(h1, crop, xc, yc, 77, 0, 1);
  EXPECT_EQ(yc[0], 10);
  EXPECT_EQ(yc[1], 20);
  EXPECT_EQ(yc[2], 77);
}

TEST(ResizeQ8Reference, NearestCopiesCodes) {
  // asymmetric, floor: 2 -> 4 reads 0, 0, 1, 1 (x / 2).
  ResizeAxisSpec s;
  s.in = 2, s.out = 4, s.scale = 2, s.length_resized = 4;
  const ResizeAxis a = MakeResizeAxis(ResizeMode::kNearest, ResizeCoord::kAsymmetric, ResizeNearest::kFloor, s);
  const int8_t x[2] = {-128, 127};
  int8_t y[4];
  ResizeNearestQ8Reference<int8_t>({a}, x, y, 0, 0, 1);
  EXPECT_EQ(y[0], -128);
  EXPECT_EQ(y[1], -128);
  EXPECT_EQ(y[2], 127);
  EXPECT_EQ(y[3], 127);
}

template <class T>
void ResizeBilinearTrial(Rng& rng, int trial) {
  const ResizeCoord coords[] = {ResizeCoord::kHalfPixel, ResizeCoord::kAlignCorners, ResizeCoord::kAsymmetric,
                                ResizeCoord::kPytorchHalfPixel, ResizeCoord::kHalfPixelSymmetric};
  const ResizeCoord coord = coords[Pick(rng, 0, 4)];
  const ResizeAxis h = Axis(ResizeMode::kLinear, coord, Pick(rng, 1, 9), Pick(rng, 1, 17));
  const ResizeAxis w = Axis(ResizeMode::kLinear, coord, Pick(rng, 1, 9), Pick(rng, 1, 17));
  const int64_t planes = Pick(rng, 1, 3);
  const std::vector<T> x = RandomCodes<T>(rng, planes * h.in * w.in);
  std::vector<T> y(planes * h.out * w.out);
  ResizeBilinearQ8Reference<T>(h, w, x.data(), y.data(), 0, 0, planes);
  // The exact bilinear value: the float kernel in double on the codes.
  const std::vector<double> xd(x.begin(), x.end());
  std::vector<double> yd(y.size());
  ResizeAxis pa;
  pa.in = pa.out = planes;
  pa.lo.resize(planes), pa.hi.resize(planes), pa.w.assign(planes, 0.0), pa.outside.assign(planes, 0);
  for (int64_t i = 0; i < planes; ++i) pa.lo[i] = pa.hi[i] = i;
  ResizeReference<double>(ResizeMode::kLinear, {pa, h, w}, xd.data(), yd.data(), 0, 0, planes * h.out);
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_LE(std::abs(y[i] - yd[i]), 0.5 + 2 * 255 * 0x1p-16) << "trial " << trial << " at " << i;
}

TEST(ResizeQ8Reference, BilinearWithinTheStatedBoundOfTheExactValue) {
  Rng rng(8);
  for (int trial = 0; trial < 400; ++trial) {
    if (trial % 2) ResizeBilinearTrial<uint8_t>(rng, trial);
    else ResizeBilinearTrial<int8_t>(rng, trial);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace nibble
