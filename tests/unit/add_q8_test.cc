// AddQ8 (src/kernels/reference/add_mul_q8.h): the parameters of the kInt32 rule
// (the largest shift that cannot overflow int32, the switch to kRescale64 past
// the precision bound), its accuracy against the exactly rounded real sum over
// every pair of codes, and the x86 kernels bit-exact against the reference at
// every ISA level, on buffers that end at an unmapped page.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "guard_page.h"
#include "kernels/reference/add_mul_q8.h"
#include "kernels/reference/broadcast.h"
#include "kernels/x86/eltwise_q8.h"
#include "nibble/error.h"
#include "test_util.h"

namespace nibble {
namespace {

using testing::GuardedBuffer;
using Rule = AddQ8Params::Rule;
constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kI32Min = std::numeric_limits<int32_t>::min();

struct Rng {
  std::mt19937_64 gen;
  explicit Rng(uint64_t seed) : gen(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); }
  double Real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(gen); }
  bool Chance(double p) { return Real(0, 1) < p; }
  double Log2Uniform(double lo, double hi) { return std::exp2(Real(lo, hi)); }
};

using testing::Hi;
using testing::Lo;

// Zero points across the whole range, the extremes often.
template <class T>
int32_t AnyZeroPoint(Rng& r) {
  switch (r.Int(0, 4)) {
    case 0: return Lo<T>();
    case 1: return Hi<T>();
    case 2: return std::is_signed_v<T> ? 0 : 128;
    default: return r.Int(Lo<T>(), Hi<T>());
  }
}

// The kInt32 rule's overflow condition at shift s (add_mul_q8.h).
bool Int32Fits(double ra, double rb, int s) {
  const double a = std::ldexp(ra, s), b = std::ldexp(rb, s);
  if (255 * (a + b) > 4.0 * kI32Max) return false;
  return 255 * (std::llround(a) + std::llround(b)) + (int64_t{1} << (s - 1)) <= kI32Max;
}

// ------------------------------------------------------------------ parameters

TEST(AddQ8Params, HandComputed) {
  // ra = 0.5, rb = 0.25: 255 (am + bm) + 2^(s-1) = 2^s (255 * 3/4 + 1/2) = 191.75 * 2^s
  // is 1608515584 at s = 23 and twice that at s = 24, past 2^31 - 1. So s = 23,
  // am = 2^22, bm = 2^21, bias = 2^22 - 10 * 2^22 - 20 * 2^21 = -19 * 2^22.
  const AddQ8Params p = MakeAddQ8Params(0.5, 10, 0.25, 20, 1.0, 5);
  EXPECT_EQ(p.rule, Rule::kInt32);
  EXPECT_EQ(p.shift, 23);
  EXPECT_EQ(p.a_mult, 1 << 22);
  EXPECT_EQ(p.b_mult, 1 << 21);
  EXPECT_EQ(p.bias, -19 * (1 << 22));
  // Equal scales: 2^s * 510.5 <= 2^31 - 1 up to s = 22.
  const AddQ8Params eq = MakeAddQ8Params(0.1, 0, 0.1, 0, 0.1, 0);
  EXPECT_EQ(eq.shift, 22);
  EXPECT_EQ(eq.a_mult, 1 << 22);
  // Tiny ratios: s stops at 31 (the rounding term 2^30 still fits).
  const AddQ8Params tiny = MakeAddQ8Params(1e-7, 3, 1e-7, -4, 1.0, 0);
  EXPECT_EQ(tiny.rule, Rule::kInt32);
  EXPECT_EQ(tiny.shift, 31);
  EXPECT_EQ(tiny.a_mult, std::llround(1e-7 * 0x1p31));
}

TEST(AddQ8Params, RuleSwitchesAtTheShiftBound) {
  // ra = rb = 16: 2^18 (255 * 32 + 1/2) = 2139226112 fits, s = 18 is the least
  // shift the kInt32 rule accepts; ra = rb = 16.1 needs s = 17: kRescale64.
  const AddQ8Params in = MakeAddQ8Params(16, 0, 16, 0, 1, 0);
  EXPECT_EQ(in.rule, Rule::kInt32);
  EXPECT_EQ(in.shift, AddQ8Params::kMinInt32Shift);
  const AddQ8Params out = MakeAddQ8Params(16.1, 0, 16.1, 0, 1, 0);
  EXPECT_EQ(out.rule, Rule::kRescale64);
  // Unbalanced: rb alone past the bound.
  EXPECT_EQ(MakeAddQ8Params(1e-3, 0, 40, 0, 1, 0).rule, Rule::kRescale64);
  EXPECT_EQ(MakeAddQ8Params(1e-3, 0, 30, 0, 1, 0).rule, Rule::kInt32);
  // Huge ratios still fail as before (kRescale64's multiplier >= 2^30).
  EXPECT_THROW(MakeAddQ8Params(1, 0, 1, 0, 1e-20, 0), Error);
  EXPECT_THROW(MakeAddQ8Params(1, 300, 1, 0, 1, 0), Error);  // not an 8-bit zero point
}

// Random ratios from 2^-40 to 2^7: the shift is the largest without overflow,
// and every partial sum a kernel forms, at the worst codes, fits int32.
TEST(AddQ8Params, ShiftIsTheLargestThatCannotOverflow) {
  Rng r(1);
  int int32_rule = 0, rescale = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const double ra = r.Log2Uniform(-40, 7), rb = r.Chance(0.2) ? ra : r.Log2Uniform(-40, 7);
    const bool s8 = r.Chance(0.5);
    const int32_t za = s8 ? AnyZeroPoint<int8_t>(r) : AnyZeroPoint<uint8_t>(r);
    const int32_t zb = s8 ? AnyZeroPoint<int8_t>(r) : AnyZeroPoint<uint8_t>(r);
    const AddQ8Params p = MakeAddQ8Params(ra, za, rb, zb, 1.0, 0);
    if (p.rule == Rule::kRescale64) {
      ++rescale;
      ASSERT_FALSE(Int32Fits(ra, rb, AddQ8Params::kMinInt32Shift)) << ra << " " << rb;
      continue;
    }
    ++int32_rule;
    const int s = p.shift;
    ASSERT_GE(s, AddQ8Params::kMinInt32Shift);
    ASSERT_LE(s, 31);
    ASSERT_EQ(p.a_mult, std::llround(std::ldexp(ra, s)));
    ASSERT_EQ(p.b_mult, std::llround(std::ldexp(rb, s)));
    ASSERT_EQ(int64_t{p.bias}, (int64_t{1} << (s - 1)) - int64_t{p.a_mult} * za - int64_t{p.b_mult} * zb);
    ASSERT_TRUE(Int32Fits(ra, rb, s));
    if (s < 31) {
      ASSERT_FALSE(Int32Fits(ra, rb, s + 1)) << "s " << s << " is not the largest";
    }
    // The extreme codes of the type (the sums are linear in each code).
    const int32_t lo = s8 ? -128 : 0, hi = s8 ? 127 : 255;
    for (int32_t qa : {lo, hi})
      for (int32_t qb : {lo, hi}) {
        const int64_t a = int64_t{qa} * p.a_mult, b = int64_t{qb} * p.b_mult;
        for (int64_t v : {a, b, p.bias + a, p.bias + b, p.bias + a + b})
          ASSERT_TRUE(v >= kI32Min && v <= kI32Max) << "overflow at qa " << qa << " qb " << qb;
      }
  }
  EXPECT_GT(int32_rule, 1000);
  EXPECT_GT(rescale, 100);
}

// ------------------------------------------------------------------ accuracy

struct ScaleSet {
  double sa, sb, sy;
};

// Every pair of codes: never more than one code from the exactly rounded real
// sum clamp(floor(t + 1/2) + zy) (ties up, the documented rounding), within
// 1/2 + 255 * 2^-shift of the real value (so a mismatch lies that close to a
// half-integer), and equal to the rounded sum for at least 99.9% of the pairs.
// Of the pairs the clamp does not decide, at least 99.5%: decimal scales make
// exact real ties common (0.00031 / 0.0093 = 1/30, 0.1 / 0.0093 = 1000/93), and
// at a tie the rounding of the multipliers (and of the doubles) decides.
template <class T>
void CheckAccuracy(const ScaleSet& ss, int32_t za, int32_t zb, int32_t zy) {
  const AddQ8Params p = MakeAddQ8Params(ss.sa, za, ss.sb, zb, ss.sy, zy);
  ASSERT_EQ(p.rule, Rule::kInt32);
  std::vector<T> a(256), b(256), y(256 * 256);
  for (int i = 0; i < 256; ++i) a[i] = b[i] = static_cast<T>(Lo<T>() + i);
  AddQ8Reference<T>(p, {256, 1}, a.data(), {256}, b.data(), y.data());
  const double bound = 0.5 + 255 * std::ldexp(1.0, -p.shift) + 1e-9;
  int64_t exact = 0, inside = 0, exact_inside = 0;
  for (int i = 0; i < 256; ++i)
    for (int j = 0; j < 256; ++j) {
      const long double t = (static_cast<long double>(ss.sa) * (a[i] - za) +
                             static_cast<long double>(ss.sb) * (b[j] - zb)) / ss.sy;
      const double real = std::clamp(static_cast<double>(t) + zy, double{Lo<T>()}, double{Hi<T>()});
      const int64_t rounded = std::clamp<int64_t>(std::llround(std::floor(t + 0.5L)) + zy, Lo<T>(), Hi<T>());
      const int32_t got = y[i * 256 + j];
      ASSERT_LE(std::abs(got - rounded), 1) << "a " << int{a[i]} << " b " << int{b[j]};
      ASSERT_LE(std::abs(got - real), bound) << "a " << int{a[i]} << " b " << int{b[j]};
      exact += got == rounded;
      if (real > Lo<T>() && real < Hi<T>()) {
        ++inside;
        exact_inside += got == rounded;
      }
    }
  std::printf("  sa %g sb %g sy %g (shift %d): %lld/65536 exact, %lld/%lld unclamped exact\n", ss.sa, ss.sb, ss.sy,
              p.shift, static_cast<long long>(exact), static_cast<long long>(exact_inside),
              static_cast<long long>(inside));
  EXPECT_GE(exact, 0.999 * 65536);
  EXPECT_GE(exact_inside, 0.995 * inside);
}

TEST(AddQ8Reference, Int32RuleWithinOneLsbOfTheRoundedRealSum) {
  const ScaleSet sets[] = {
      {0.0173, 0.0291, 0.0412},    // typical residual Add: ratios ~0.4, ~0.7 (shift 22)
      {0.0236214f, 0.0418702f, 0.0512893f},  // float32 scales as calibration makes them
      {0.05, 0.05, 0.1},           // exact power-of-two ratios: every tie, rounded up
      {0.0123, 0.0456, 0.0457},    // ra + rb ~ 1.27
      {0.1, 0.00031, 0.0093},      // unbalanced: 10.75 and 0.033
      {0.5, 0.51, 0.0315},         // ra + rb ~ 32.06: the least shift, 18
      {1e-4, 3e-4, 0.37},          // tiny ratios: shift 31
  };
  Rng r(2);
  for (const ScaleSet& ss : sets) {
    CheckAccuracy<uint8_t>(ss, AnyZeroPoint<uint8_t>(r), AnyZeroPoint<uint8_t>(r), AnyZeroPoint<uint8_t>(r));
    CheckAccuracy<int8_t>(ss, AnyZeroPoint<int8_t>(r), AnyZeroPoint<int8_t>(r), AnyZeroPoint<int8_t>(r));
    CheckAccuracy<uint8_t>(ss, 128, 128, 128);  // centred: the fewest clamped outputs
    if (HasFatalFailure()) return;
  }
}

// ------------------------------------------------------------------ x86 kernels

// Ratios from tiny through both sides of the kInt32 bound to kRescale64's range.
void AnyScales(Rng& r, double& sa, double& sb, double& sy) {
  sy = r.Log2Uniform(-12, 2);
  switch (r.Int(0, 5)) {
    case 0:  // around ra + rb = 32, where the rule switches
      sa = sy * r.Real(0, 33);
      sb = sy * (r.Real(31, 33) - sa / sy);
      sb = std::max(sb, sy * 1e-3);
      break;
    case 1:  // tiny
      sa = sy * r.Log2Uniform(-30, -8), sb = sy * r.Log2Uniform(-30, -8);
      break;
    case 2:  // large: kRescale64
      sa = sy * r.Log2Uniform(5, 20), sb = sy * r.Log2Uniform(-4, 20);
      break;
    case 3:  // exact powers of two: ties
      sa = sy * std::ldexp(1.0, r.Int(-6, 3)), sb = sy * std::ldexp(1.0, r.Int(-6, 3));
      break;
    default:  // typical
      sa = sy * r.Log2Uniform(-3, 2), sb = sy * r.Log2Uniform(-3, 2);
  }
}

enum class Layout { kSame, kAScalar, kBScalar, kGeneral };

int64_t AnyLength(Rng& r) {
  switch (r.Int(0, 4)) {
    case 0: return r.Int(0, 3);
    case 1: return 64 * r.Int(1, 4) + r.Int(-1, 1);  // around whole blocks
    case 2: return r.Int(1000, 5000);
    default: return r.Int(1, 200);
  }
}

template <class T>
void CheckKernels(Rng& r, int trial, int counts[2]) {
  double sa, sb, sy;
  AnyScales(r, sa, sb, sy);
  const int32_t za = AnyZeroPoint<T>(r), zb = AnyZeroPoint<T>(r), zy = AnyZeroPoint<T>(r);
  // Codes and clamp: the full type, a fused Relu, a random window, or a
  // sub-8-bit width (codes and clamp in [qmin, qmax] of `bits` bits).
  int32_t lo = kI32Min, hi = kI32Max, code_lo = Lo<T>(), code_hi = Hi<T>();
  switch (r.Int(0, 3)) {
    case 0: break;
    case 1: lo = zy; break;
    case 2:
      lo = r.Int(Lo<T>(), Hi<T>());
      hi = std::min<int32_t>(lo + r.Int(0, 60), Hi<T>());
      break;
    default: {
      const int bits = r.Int(1, 7);
      code_lo = lo = std::is_signed_v<T> ? -(1 << (bits - 1)) : 0;
      code_hi = hi = std::is_signed_v<T> ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    }
  }
  const AddQ8Params p = MakeAddQ8Params(sa, za, sb, zb, sy, zy, lo, hi);
  ++counts[p.rule == Rule::kInt32 ? 0 : 1];
  const int64_t n = AnyLength(r);
  const Layout layout = static_cast<Layout>(r.Int(0, 3));
  Shape as = {n}, bs = {n};
  if (layout == Layout::kAScalar) as = r.Chance(0.5) ? Shape{1} : Shape{};
  if (layout == Layout::kBScalar) bs = r.Chance(0.5) ? Shape{1, 1} : Shape{};
  if (layout == Layout::kGeneral) {
    as = {3, 1, std::max<int64_t>(n % 70, 1)};
    bs = {4, 1};
  }
  const int64_t ny = ShapeNumel(BroadcastShapes({as, bs}));
  GuardedBuffer<T> a(ShapeNumel(as)), b(ShapeNumel(bs));
  const bool constant = r.Chance(0.1);  // all one code: the extremes of the sums
  const T fill = static_cast<T>(r.Chance(0.5) ? code_lo : code_hi);
  for (size_t i = 0; i < a.size(); ++i) a[i] = constant ? fill : static_cast<T>(r.Int(code_lo, code_hi));
  for (size_t i = 0; i < b.size(); ++i) b[i] = constant ? fill : static_cast<T>(r.Int(code_lo, code_hi));
  std::vector<T> want(ny);
  AddQ8Reference(p, as, a.data(), bs, b.data(), want.data());
  for (Isa isa : SupportedIsas()) {
    GuardedBuffer<T> y(ny);
    AddQ8X86(p, as, a.data(), bs, b.data(), y.data(), isa);
    for (int64_t i = 0; i < ny; ++i)
      ASSERT_EQ(int{y[i]}, int{want[i]}) << "trial " << trial << " isa " << IsaName(isa) << " rule "
                                         << static_cast<int>(p.rule) << " shift " << p.shift << " layout "
                                         << static_cast<int>(layout) << " at " << i << " of " << ny;
  }
}

TEST(AddQ8Reference, WritesTheOtherCodeTypeWithTheSameArithmetic) {
  // int8 in, uint8 out (a signed sum before a QuantReLU) and the reverse: each output is
  // AddQ8 of the pair, clamped to the output type.
  const AddQ8Params p = MakeAddQ8Params(0.05, -3, 0.07, 4, 0.04, 0, -1000, 1000);
  std::vector<int8_t> a(256), b(256);
  for (int i = 0; i < 256; ++i) a[i] = static_cast<int8_t>(i - 128), b[i] = static_cast<int8_t>((i * 37) % 256 - 128);
  std::vector<uint8_t> y(256);
  AddQ8Reference(p, {256}, a.data(), {256}, b.data(), y.data());
  for (int i = 0; i < 256; ++i) ASSERT_EQ(y[i], std::clamp(AddQ8(a[i], b[i], p), 0, 255)) << i;
  const AddQ8Params q = MakeAddQ8Params(0.05, 130, 0.07, 120, 0.04, -5, -1000, 1000);
  std::vector<uint8_t> ua(256), ub(256);
  for (int i = 0; i < 256; ++i) ua[i] = static_cast<uint8_t>(i), ub[i] = static_cast<uint8_t>((i * 91) % 256);
  std::vector<int8_t> sy(256);
  AddQ8Reference(q, {256}, ua.data(), {256}, ub.data(), sy.data());
  for (int i = 0; i < 256; ++i) ASSERT_EQ(sy[i], std::clamp(AddQ8(ua[i], ub[i], q), -128, 127)) << i;
}

TEST(X86AddQ8, BitExactWithTheReferenceBothRules) {
  Rng r(3);
  int counts[2] = {0, 0};
  for (int t = 0; t < 600; ++t) {
    CheckKernels<uint8_t>(r, t, counts);
    CheckKernels<int8_t>(r, t, counts);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(counts[0], 600);  // kInt32
  EXPECT_GT(counts[1], 100);  // kRescale64
}

// All 65536 pairs of codes, one vector span, both code types, at every shift
// the kInt32 rule can take and on the kRescale64 side of the bound.
TEST(X86AddQ8, EveryCodePairAtEveryShift) {
  Rng r(4);
  GuardedBuffer<uint8_t> a(65536), b(65536);
  for (int i = 0; i < 65536; ++i) {
    a[i] = static_cast<uint8_t>(i & 255);
    b[i] = static_cast<uint8_t>(i >> 8);
  }
  const int8_t* sa8 = reinterpret_cast<const int8_t*>(a.data());
  const int8_t* sb8 = reinterpret_cast<const int8_t*>(b.data());
  std::vector<bool> seen(32, false);
  constexpr int kTrials = 96;
  for (int t = 0; t < kTrials; ++t) {
    // ra + rb from 2^-10 to 2^6, stratified so every shift from 31 down to 18,
    // and kRescale64 past it, gets several trials.
    const double total = std::exp2(-10 + 16 * (t + r.Real(0, 1)) / kTrials);
    const double sy = r.Log2Uniform(-10, 0), part = r.Real(0, 1);
    const double sa = sy * total * part + sy * 1e-6, sb = sy * total * (1 - part) + sy * 1e-6;
    const bool s8 = t % 2;
    const AddQ8Params p = s8 ? MakeAddQ8Params(sa, AnyZeroPoint<int8_t>(r), sb, AnyZeroPoint<int8_t>(r), sy,
                                               AnyZeroPoint<int8_t>(r))
                             : MakeAddQ8Params(sa, AnyZeroPoint<uint8_t>(r), sb, AnyZeroPoint<uint8_t>(r), sy,
                                               AnyZeroPoint<uint8_t>(r));
    seen[p.rule == Rule::kInt32 ? p.shift : 0] = true;
    std::vector<uint8_t> want(65536);
    if (s8) AddQ8Reference(p, {65536}, sa8, {65536}, sb8, reinterpret_cast<int8_t*>(want.data()));
    else AddQ8Reference(p, {65536}, a.data(), {65536}, b.data(), want.data());
    for (Isa isa : SupportedIsas()) {
      GuardedBuffer<uint8_t> y(65536);
      if (s8) AddQ8Span(p, sa8, false, sb8, false, reinterpret_cast<int8_t*>(y.data()), 65536, isa);
      else AddQ8Span(p, a.data(), false, b.data(), false, y.data(), 65536, isa);
      ASSERT_TRUE(std::equal(want.begin(), want.end(), y.data()))
          << IsaName(isa) << " rule " << static_cast<int>(p.rule) << " shift " << p.shift;
    }
  }
  EXPECT_TRUE(seen[0]);  // kRescale64
  for (int s = AddQ8Params::kMinInt32Shift; s <= 31; ++s) EXPECT_TRUE(seen[s]) << "shift " << s;
}

}  // namespace
}  // namespace nibble
