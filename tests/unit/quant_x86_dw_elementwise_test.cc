// The x86 depthwise conv and elementwise int8 kernels (src/kernels/x86/) at every
// ISA level this CPU runs, bit-exact against the scalar references, on buffers
// that end at an unmapped page (any over-read or over-write faults).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "guard_page.h"
#include "test_util.h"
#include "kernels/reference/add_mul_q8.h"
#include "kernels/reference/broadcast.h"
#include "kernels/reference/conv_q8.h"
#include "kernels/reference/lut_q8.h"
#include "kernels/reference/pool_q8.h"
#include "kernels/x86/dwconv_q8.h"
#include "kernels/x86/eltwise_q8.h"
#include "kernels/x86/global_avgpool_q8.h"
#include "kernels/x86/maxpool_q8.h"
#include "kernels/x86/planes_to_pixels.h"

namespace nibble {
namespace {

using testing::GuardedBuffer;
using testing::ToChannelsLast;

struct Rng {
  std::mt19937 gen;
  explicit Rng(uint32_t seed) : gen(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); }
  double Real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(gen); }
  bool Chance(double p) { return Real(0, 1) < p; }
};

template <class T>
int32_t AnyCode(Rng& r) {
  // Extremes and the middle half the time, anything else otherwise.
  constexpr int lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  switch (r.Int(0, 5)) {
    case 0: return lo;
    case 1: return hi;
    case 2: return r.Int(lo, lo + 3);
    case 3: return r.Int(hi - 3, hi);
    default: return r.Int(lo, hi);
  }
}

// A multiplier from tiny (rounds everything to 0) through > 1 (saturates).
FixedPointMultiplier AnyMultiplier(Rng& r) {
  switch (r.Int(0, 7)) {
    case 0: return QuantizeMultiplier(std::ldexp(r.Real(1, 2), -r.Int(32, 40)));
    case 1: return QuantizeMultiplier(r.Real(1, 300));
    case 2: return QuantizeMultiplier(std::ldexp(1.0, -r.Int(0, 12)));  // exact powers of two: ties
    default: return QuantizeMultiplier(std::ldexp(r.Real(1, 2), -r.Int(4, 16)));
  }
}

template <class T>
void FillCodes(Rng& r, T* p, size_t n) {
  const int mode = r.Int(0, 5);
  for (size_t i = 0; i < n; ++i)
    p[i] = static_cast<T>(mode == 0 ? std::numeric_limits<T>::min()
                          : mode == 1 ? std::numeric_limits<T>::max()
                                      : r.Int(std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

std::string IsaList() {
  std::string s;
  for (Isa i : SupportedIsas()) s += std::string(IsaName(i)) + " ";
  return s;
}

// ---------------------------------------------------------------- depthwise

struct DwShape {
  int64_t batch, channels, mult, rank, k[2], s[2], d[2], in[2];
  std::vector<int64_t> pads;  // ONNX order
};

DwShape RandomDwShape(Rng& r, bool fast) {
  DwShape c;
  c.batch = r.Int(1, 2);
  c.channels = r.Int(1, 4);
  c.mult = r.Chance(0.2) ? r.Int(2, 3) : 1;
  c.rank = fast || r.Chance(0.8) ? 2 : 1;
  const int64_t k = r.Chance(0.5) ? 3 : 5;
  const int64_t s = r.Int(1, 2);
  c.pads.assign(2 * c.rank, 0);
  for (int d = 0; d < c.rank; ++d) {
    if (fast) {
      c.k[d] = k;
      c.s[d] = s;
      c.d[d] = 1;
    } else {
      c.k[d] = r.Int(1, 6);
      c.s[d] = r.Int(1, 3);
      c.d[d] = r.Chance(0.3) ? 2 : 1;
    }
    c.pads[d] = r.Int(0, c.k[d] - 1);
    c.pads[d + c.rank] = r.Int(0, c.k[d] - 1);
    const int64_t eff = (c.k[d] - 1) * c.d[d] + 1;
    const int64_t min_in = std::max<int64_t>(1, eff - c.pads[d] - c.pads[d + c.rank]);
    // Width: every residue modulo 16 and 32 (1..70); height: small.
    c.in[d] = std::max(min_in, static_cast<int64_t>(d == c.rank - 1 ? r.Int(1, 70) : r.Int(1, 9)));
  }
  return c;
}

template <class TX, class TY>
void CheckDw(Rng& r, const DwShape& c, int trial) {
  ConvQ8Params p;
  p.batch = c.batch;
  p.in_channels = c.channels;
  p.group = c.channels;
  p.out_channels = c.channels * c.mult;
  for (int d = 0; d < c.rank; ++d) {
    p.geo.in.push_back(c.in[d]);
    p.geo.kernel.push_back(c.k[d]);
    p.geo.stride.push_back(c.s[d]);
    p.geo.dilation.push_back(c.d[d]);
  }
  ComputeWindow(p.geo, c.pads, "NOTSET", false);
  const int64_t M = p.out_channels, K = p.geo.kernel_size();
  p.x_zero_point = AnyCode<TX>(r);
  p.y_zero_point = AnyCode<TY>(r);
  const bool per_channel = r.Chance(0.5);
  for (int64_t m = 0; m < (per_channel ? M : 1); ++m) p.multiplier.push_back(AnyMultiplier(r));
  if (r.Chance(0.15)) p.w_zero_point.assign(r.Chance(0.5) ? 1 : M, 0);
  if (r.Chance(0.1)) for (auto& z : p.w_zero_point) z = r.Int(-20, 20);
  if (r.Chance(0.3)) p.y_min = p.y_zero_point;  // fused Relu
  if (r.Chance(0.2)) {                          // fused Clip
    p.y_min = AnyCode<TY>(r);
    p.y_max = std::min<int32_t>(p.y_min + r.Int(0, 100), std::numeric_limits<TY>::max());
  }
  std::vector<int8_t> w(M * K);
  const bool strong = r.Chance(0.3);  // weights at the extremes of int8
  for (auto& v : w) v = static_cast<int8_t>(strong ? (r.Chance(0.5) ? -128 : 127) : r.Int(-128, 127));
  const int64_t x_max = MaxAbsOffset<TX>(p.x_zero_point);
  std::vector<int32_t> bias(M);
  for (int64_t m = 0; m < M; ++m) {
    const int32_t zw = p.w_zero_point.empty() ? 0 : p.w_zero_point[p.w_zero_point.size() == 1 ? 0 : m];
    int64_t wabs = 0;
    for (int64_t k = 0; k < K; ++k) wabs += std::llabs(int64_t{w[m * K + k]} - zw);
    const int64_t room = std::numeric_limits<int32_t>::max() - x_max * wabs;
    // Small, large and as large as the overflow check allows.
    bias[m] = static_cast<int32_t>(r.Chance(0.1) ? (r.Chance(0.5) ? room : -room)
                                                  : std::clamp<int64_t>(r.Int(-1 << 20, 1 << 20), -room, room));
  }
  const bool has_bias = r.Chance(0.85);
  const int64_t nx = p.batch * p.in_channels * p.geo.spatial_size_in();
  const int64_t ny = p.batch * M * p.geo.spatial_size_out();
  GuardedBuffer<TX> x(nx);
  FillCodes(r, x.data(), nx);
  std::vector<TY> want(ny);
  ConvQ8Reference(p, x.data(), w.data(), has_bias ? bias.data() : nullptr, want.data());
  for (Isa isa : SupportedIsas()) {
    const DwConvQ8Packed pk = PackDwConvQ8<TX>(p, w.data(), has_bias ? bias.data() : nullptr, isa);
    GuardedBuffer<TY> y(ny);
    std::fill(y.data(), y.data() + ny, TY{0x55});
    const int64_t planes = p.batch * M, split = r.Int(0, static_cast<int>(planes));
    DwConvQ8Run(pk, p, x.data(), y.data(), 0, split);  // two threads' chunks
    DwConvQ8Run(pk, p, x.data(), y.data(), split, planes);
    for (int64_t i = 0; i < ny; ++i)
      ASSERT_EQ(int{y[i]}, int{want[i]})
          << "trial " << trial << " isa " << IsaName(isa) << " fast " << pk.fast << " at " << i << " of " << ny
          << ", in " << c.in[0] << "x" << (c.rank == 2 ? c.in[1] : 0) << " k " << c.k[0] << " s " << c.s[0]
          << " C " << c.channels << " mult " << c.mult << " zx " << p.x_zero_point << " zy " << p.y_zero_point;
  }
}

template <class TX, class TY>
void CheckDwMany(uint32_t seed, bool fast, int trials) {
  Rng r(seed);
  for (int t = 0; t < trials; ++t) {
    const DwShape c = RandomDwShape(r, fast);
    CheckDw<TX, TY>(r, c, t);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(X86DwConvQ8, FastPathsTakenWhereExpected) {
  ConvQ8Params p;
  p.batch = 1;
  p.in_channels = p.group = p.out_channels = 4;
  p.geo.in = {9, 9};
  p.geo.kernel = {3, 3};
  p.geo.stride = {2, 2};
  p.geo.dilation = {1, 1};
  ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
  p.multiplier = {QuantizeMultiplier(0.01)};
  EXPECT_TRUE(DwConvQ8Supports(p));
  EXPECT_FALSE(DwConvQ8FastSupports(p, Isa::kScalar));
  for (Isa isa : SupportedIsas()) {
    if (isa != Isa::kScalar) {
      EXPECT_TRUE(DwConvQ8FastSupports(p, isa)) << IsaName(isa);
    }
  }
  p.geo.dilation = {2, 2};
  ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
  EXPECT_FALSE(DwConvQ8FastSupports(p, BestIsa()));
  p.group = 2;
  EXPECT_FALSE(DwConvQ8Supports(p));
  std::cout << "ISA levels tested: " << IsaList() << "\n";
}

TEST(X86DwConvQ8, FastShapesBitExact) {
  CheckDwMany<uint8_t, uint8_t>(1, true, 150);
  CheckDwMany<uint8_t, int8_t>(2, true, 100);
  CheckDwMany<int8_t, uint8_t>(3, true, 100);
  CheckDwMany<int8_t, int8_t>(4, true, 150);
}

// 3x3 shapes for the AVX-512 int8-weight paths: narrow (two rows per vector,
// widths <= 8), 16-column blocks, and wide rows (64 / 32 column blocks, widths
// up to 200: several blocks and every tail), heights that leave every
// remainder of the row blocking, every padding.
DwShape Random3x3Shape(Rng& r) {
  DwShape c;
  c.batch = r.Int(1, 2);
  c.channels = r.Int(1, 5);
  c.mult = r.Chance(0.2) ? 2 : 1;
  c.rank = 2;
  c.pads.assign(4, 0);
  const int64_t s = r.Int(1, 2);
  for (int d = 0; d < 2; ++d) {
    c.k[d] = 3;
    c.s[d] = s;
    c.d[d] = 1;
    c.pads[d] = r.Int(0, 2);
    c.pads[d + 2] = r.Int(0, 2);
    const int64_t min_in = std::max<int64_t>(1, 3 - c.pads[d] - c.pads[d + 2]);
    const int64_t v = d == 1 ? (r.Chance(0.3) ? r.Int(1, 20) : r.Int(1, 200)) : r.Int(1, 13);
    c.in[d] = std::max(min_in, v);
  }
  return c;
}

template <class TX, class TY>
void CheckDw3x3Many(uint32_t seed, int trials) {
  Rng r(seed);
  for (int t = 0; t < trials; ++t) {
    CheckDw<TX, TY>(r, Random3x3Shape(r), t);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(X86DwConvQ8, Fast3x3ShapesBitExact) {
  CheckDw3x3Many<uint8_t, uint8_t>(11, 150);
  CheckDw3x3Many<uint8_t, int8_t>(12, 100);
  CheckDw3x3Many<int8_t, uint8_t>(13, 100);
  CheckDw3x3Many<int8_t, int8_t>(14, 150);
}

// The MobileNetV2 depthwise geometries (pad 1), a few channels each.
TEST(X86DwConvQ8, MobileNetV2ShapesBitExact) {
  const int64_t shapes[][3] = {{112, 1, 0}, {112, 2, 0}, {56, 1, 0}, {56, 2, 0}, {28, 1, 0},
                               {28, 2, 0},  {14, 1, 0},  {14, 2, 0}, {7, 1, 0}};
  Rng r(21);
  int t = 0;
  for (const auto& sh : shapes)
    for (int rep = 0; rep < 3; ++rep, ++t) {
      DwShape c;
      c.batch = 1;
      c.channels = r.Int(2, 4);
      c.mult = 1;
      c.rank = 2;
      c.pads = {1, 1, 1, 1};
      for (int d = 0; d < 2; ++d) {
        c.k[d] = 3;
        c.s[d] = sh[1];
        c.d[d] = 1;
        c.in[d] = sh[0];
      }
      if (rep == 0) CheckDw<uint8_t, uint8_t>(r, c, t);
      else if (rep == 1) CheckDw<int8_t, int8_t>(r, c, t);
      else CheckDw<uint8_t, int8_t>(r, c, t);
      if (::testing::Test::HasFatalFailure()) return;
    }
}

TEST(X86DwConvQ8, GenericShapesBitExact) {
  CheckDwMany<uint8_t, uint8_t>(5, false, 100);
  CheckDwMany<uint8_t, int8_t>(6, false, 60);
  CheckDwMany<int8_t, uint8_t>(7, false, 60);
  CheckDwMany<int8_t, int8_t>(8, false, 100);
}

TEST(X86DwConvQ8, OverflowCheckLikeReference) {
  ConvQ8Params p;
  p.batch = 1;
  p.in_channels = p.group = p.out_channels = 1;
  p.geo.in = {3, 3};
  p.geo.kernel = {3, 3};
  p.geo.stride = {1, 1};
  p.geo.dilation = {1, 1};
  ComputeWindow(p.geo, {}, "NOTSET", false);
  p.multiplier = {QuantizeMultiplier(0.01)};
  std::vector<int8_t> w(9, -128);
  const int32_t bias = std::numeric_limits<int32_t>::max() - 255 * 128 * 9 + 1;  // one too many
  EXPECT_THROW(PackDwConvQ8<uint8_t>(p, w.data(), &bias, BestIsa()), Error);
  const int32_t ok = bias - 1;
  EXPECT_NO_THROW(PackDwConvQ8<uint8_t>(p, w.data(), &ok, BestIsa()));
}

// ---------------------------------------------------------------- Add / Mul

// Ratios of two such scales run from 5e-5 to 2e4: both of AddQ8's rules
// (add_q8_test.cc probes the bound between them).
double AnyScale(Rng& r) { return std::exp(r.Real(std::log(1e-4), std::log(2.0))); }

enum class Layout { kSame, kAScalar, kBScalar, kGeneral };

template <class T>
void CheckAddMul(Rng& r, bool mul, int trial) {
  const double sa = AnyScale(r), sb = r.Chance(0.2) ? sa : AnyScale(r);
  const double sy = r.Chance(0.1) ? 1e-6 : AnyScale(r);
  const int32_t za = AnyCode<T>(r), zb = AnyCode<T>(r), zy = AnyCode<T>(r);
  int32_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  if (r.Chance(0.3)) lo = zy;
  if (r.Chance(0.2)) {
    lo = AnyCode<T>(r);
    hi = std::min<int32_t>(lo + r.Int(0, 60), std::numeric_limits<T>::max());
  }
  const AddQ8Params ap = MakeAddQ8Params(sa, za, sb, zb, sy, zy, lo, hi);
  const MulQ8Params mp = MakeMulQ8Params(sa, za, sb, zb, sy, zy, lo, hi);
  const int64_t n = r.Chance(0.1) ? r.Int(0, 3) : r.Int(1, 300);
  const Layout layout = static_cast<Layout>(r.Int(0, 3));
  Shape as = {n}, bs = {n};
  if (layout == Layout::kAScalar) as = r.Chance(0.5) ? Shape{1} : Shape{};
  if (layout == Layout::kBScalar) bs = r.Chance(0.5) ? Shape{1, 1} : Shape{};
  if (layout == Layout::kGeneral) {
    as = {3, 1, std::max<int64_t>(n % 7, 1)};
    bs = {4, 1};
  }
  auto numel = [](const Shape& s) {
    int64_t k = 1;
    for (int64_t d : s) k *= d;
    return k;
  };
  const int64_t ny = numel(BroadcastShapes({as, bs}));
  GuardedBuffer<T> a(numel(as)), b(numel(bs));
  FillCodes(r, a.data(), a.size());
  FillCodes(r, b.data(), b.size());
  std::vector<T> want(ny);
  if (mul) MulQ8Reference(mp, as, a.data(), bs, b.data(), want.data());
  else AddQ8Reference(ap, as, a.data(), bs, b.data(), want.data());
  EXPECT_EQ(EltwiseQ8Vectorizes(as, bs), layout != Layout::kGeneral);
  for (Isa isa : SupportedIsas()) {
    GuardedBuffer<T> y(ny);
    if (mul) MulQ8X86(mp, as, a.data(), bs, b.data(), y.data(), isa);
    else AddQ8X86(ap, as, a.data(), bs, b.data(), y.data(), isa);
    for (int64_t i = 0; i < ny; ++i)
      ASSERT_EQ(int{y[i]}, int{want[i]}) << (mul ? "Mul" : "Add") << " trial " << trial << " isa " << IsaName(isa)
                                         << " layout " << static_cast<int>(layout) << " at " << i << " of " << ny
                                         << " a " << int{a[layout == Layout::kAScalar ? 0 : i]} << " b "
                                         << int{b[layout == Layout::kBScalar ? 0 : i]};
  }
}

TEST(X86ElementwiseQ8, AddBitExact) {
  Rng r(11);
  for (int t = 0; t < 300; ++t) {
    CheckAddMul<uint8_t>(r, false, t);
    CheckAddMul<int8_t>(r, false, t);
    if (HasFatalFailure()) return;
  }
}

TEST(X86ElementwiseQ8, MulBitExact) {
  Rng r(12);
  for (int t = 0; t < 300; ++t) {
    CheckAddMul<uint8_t>(r, true, t);
    CheckAddMul<int8_t>(r, true, t);
    if (HasFatalFailure()) return;
  }
}

TEST(X86ElementwiseQ8, AddMulEveryCodePair) {
  // All 65536 (qa, qb) pairs at a few parameter sets, u8 and s8.
  Rng r(13);
  for (int t = 0; t < 4; ++t) {
    const AddQ8Params ap = MakeAddQ8Params(AnyScale(r), AnyCode<uint8_t>(r), AnyScale(r), AnyCode<uint8_t>(r),
                                           AnyScale(r), AnyCode<uint8_t>(r));
    const MulQ8Params mp = MakeMulQ8Params(AnyScale(r), AnyCode<uint8_t>(r), AnyScale(r), AnyCode<uint8_t>(r),
                                           AnyScale(r) * 1e-3, AnyCode<uint8_t>(r));
    GuardedBuffer<uint8_t> a(65536), b(65536);
    for (int i = 0; i < 65536; ++i) {
      a[i] = static_cast<uint8_t>(i & 255);
      b[i] = static_cast<uint8_t>(i >> 8);
    }
    std::vector<uint8_t> want_add(65536), want_mul(65536);
    AddQ8Reference(ap, {65536}, a.data(), {65536}, b.data(), want_add.data());
    MulQ8Reference(mp, {65536}, a.data(), {65536}, b.data(), want_mul.data());
    for (Isa isa : SupportedIsas()) {
      GuardedBuffer<uint8_t> y(65536);
      AddQ8Span(ap, a.data(), false, b.data(), false, y.data(), 65536, isa);
      ASSERT_TRUE(std::equal(want_add.begin(), want_add.end(), y.data())) << IsaName(isa);
      MulQ8Span(mp, a.data(), false, b.data(), false, y.data(), 65536, isa);
      ASSERT_TRUE(std::equal(want_mul.begin(), want_mul.end(), y.data())) << IsaName(isa);
    }
  }
}

// ---------------------------------------------------------------- lookup table

TEST(X86ElementwiseQ8, LutBitExact) {
  Rng r(21);
  for (int t = 0; t < 60; ++t) {
    LutQ8 table;
    for (auto& v : table) v = static_cast<uint8_t>(r.Int(0, 255));
    const int64_t n = t < 5 ? t : (r.Chance(0.2) ? r.Int(1000, 5000) : r.Int(1, 200));
    GuardedBuffer<uint8_t> x(n);
    FillCodes(r, x.data(), n);
    if (t == 5)
      for (int64_t i = 0; i < n; ++i) x[i] = static_cast<uint8_t>(i);
    std::vector<uint8_t> want(n);
    ApplyLutQ8(table, x.data(), want.data(), n);
    for (Isa isa : SupportedIsas()) {
      GuardedBuffer<uint8_t> y(n);
      ApplyLutQ8X86(table, x.data(), y.data(), n, isa);
      ASSERT_TRUE(std::equal(want.begin(), want.end(), y.data())) << "trial " << t << " n " << n << " " << IsaName(isa);
      if (n == 0) continue;
      GuardedBuffer<int8_t> inplace(n);  // in place, through the typed overload
      std::memcpy(inplace.data(), x.data(), n);
      ApplyLutQ8X86(table, inplace.data(), inplace.data(), n, isa);
      ASSERT_EQ(std::memcmp(inplace.data(), want.data(), n), 0) << "in place, trial " << t << " " << IsaName(isa);
    }
  }
}

// ---------------------------------------------------------------- MaxPool

// PlanesToPixels (a MaxPool's channels-last output): channel counts that
// leave the last block of 64 partial, plane sizes that leave the last step
// of 16 positions partial, position ranges split between two calls, every
// level, input and output against guard pages; each byte against the index
// formula, and nothing outside the range written.
TEST(X86ElementwiseQ8, PlanesToPixelsMatchesIndexFormula) {
  Rng r(131);
  for (int trial = 0; trial < 80; ++trial) {
    const int64_t c = trial % 4 == 0 ? 64 : r.Int(1, 200), sp = r.Int(1, 300);
    GuardedBuffer<uint8_t> x(c * sp);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(r.Int(0, 255));
    const int64_t lo = r.Int(0, static_cast<int>(sp)), hi = r.Int(static_cast<int>(lo), static_cast<int>(sp));
    for (Isa isa : SupportedIsas()) {
      GuardedBuffer<uint8_t> y(c * sp);
      std::memset(y.data(), 0xA5, y.size());
      const int64_t mid = r.Int(static_cast<int>(lo), static_cast<int>(hi));
      PlanesToPixels(x.data(), sp, c, lo, mid, y.data(), isa);
      PlanesToPixels(x.data(), sp, c, mid, hi, y.data(), isa);
      for (int64_t s = 0; s < sp; ++s)
        for (int64_t ch = 0; ch < c; ++ch)
          ASSERT_EQ(int{y[s * c + ch]}, s >= lo && s < hi ? int{x[ch * sp + s]} : 0xA5)
              << "trial " << trial << " isa " << IsaName(isa) << " channels " << c << " positions " << sp << " ["
              << lo << ", " << hi << ") at position " << s << " channel " << ch;
    }
  }
}


template <class T>
void CheckMaxPool(Rng& r, int trial) {
  WindowGeometry g;
  const bool vec = r.Chance(0.85);
  std::vector<int64_t> pads(4);
  for (int d = 0; d < 2; ++d) {
    g.kernel.push_back(r.Chance(0.7) ? r.Int(2, 3) : r.Int(1, 5));
    g.stride.push_back(d == 1 ? r.Int(1, 2) : r.Int(1, 3));
    g.dilation.push_back(vec ? 1 : r.Int(1, 2));
    pads[d] = r.Int(0, g.kernel[d] - 1);
    pads[d + 2] = r.Int(0, g.kernel[d] - 1);
    const int64_t eff = (g.kernel[d] - 1) * g.dilation[d] + 1;
    g.in.push_back(std::max<int64_t>(std::max<int64_t>(1, eff - pads[d] - pads[d + 2]),
                                     d == 1 ? r.Int(1, 70) : r.Int(1, 9)));
  }
  ComputeWindow(g, pads, "NOTSET", r.Chance(0.3));
  const int64_t planes = r.Int(1, 4);
  GuardedBuffer<T> x(planes * g.spatial_size_in());
  FillCodes(r, x.data(), x.size());
  const int64_t ny = planes * g.spatial_size_out();
  std::vector<T> want(ny);
  MaxPoolQ8Reference(planes, g, x.data(), want.data(), 0, planes);
  for (Isa isa : SupportedIsas()) {
    GuardedBuffer<T> y(ny);
    const int64_t split = r.Int(0, static_cast<int>(planes));
    MaxPoolQ8X86(planes, g, x.data(), y.data(), 0, split, isa);
    MaxPoolQ8X86(planes, g, x.data(), y.data(), split, planes, isa);
    for (int64_t i = 0; i < ny; ++i)
      ASSERT_EQ(int{y[i]}, int{want[i]}) << "trial " << trial << " isa " << IsaName(isa) << " vectorized "
                                         << MaxPoolQ8X86Vectorizes(g) << " in " << g.in[0] << "x" << g.in[1]
                                         << " k " << g.kernel[0] << "x" << g.kernel[1] << " s " << g.stride[0]
                                         << "x" << g.stride[1] << " at " << i;
  }
}

// One geometry on 1-5 planes of random codes at every level, split between
// two calls at a random plane, against the reference.
template <class T>
void CheckMaxPoolEveryIsa(Rng& r, const WindowGeometry& g, int trial) {
  const int64_t planes = r.Int(1, 5);
  GuardedBuffer<T> x(planes * g.spatial_size_in());
  FillCodes(r, x.data(), x.size());
  std::vector<T> want(planes * g.spatial_size_out());
  MaxPoolQ8Reference(planes, g, x.data(), want.data(), 0, planes);
  for (Isa isa : SupportedIsas()) {
    GuardedBuffer<T> y(want.size());
    const int64_t split = r.Int(0, static_cast<int>(planes));
    MaxPoolQ8X86(planes, g, x.data(), y.data(), 0, split, isa);
    MaxPoolQ8X86(planes, g, x.data(), y.data(), split, planes, isa);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(int{y[i]}, int{want[i]}) << "trial " << trial << " isa " << IsaName(isa) << " in " << g.in[0] << "x"
                                         << g.in[1] << " kernel " << g.kernel[0] << "x" << g.kernel[1] << " pads "
                                         << g.pad_begin[0] << "," << g.pad_begin[1] << " at " << i;
  }
}

// The 2x2 stride-2 kernel (small CNNs' pooling): odd and even sizes, widths
// past one 32-output step, small even widths (several output rows per step,
// odd heights leaving a row between planes), ceil_mode (whose partial last
// window leaves it), signed and unsigned codes, every level.
TEST(X86ElementwiseQ8, MaxPool2x2Stride2BitExact) {
  Rng r(77);
  int fast = 0, several_rows = 0;
  for (int trial = 0; trial < 60; ++trial) {
    WindowGeometry g;
    g.kernel = {2, 2};
    g.stride = {2, 2};
    g.dilation = {1, 1};
    const int64_t width = r.Chance(0.3) ? r.Int(65, 200) : r.Chance(0.4) ? 2 * r.Int(1, 16) : r.Int(2, 64);
    g.in = {r.Int(2, 40), width};
    ComputeWindow(g, {0, 0, 0, 0}, "NOTSET", r.Chance(0.2));
    fast += MaxPoolQ8Is2x2Stride2(g) ? 1 : 0;
    several_rows += MaxPoolQ8RowsPerStep2x2(g) > 1 ? 1 : 0;
    CheckMaxPoolEveryIsa<uint8_t>(r, g, trial);
    CheckMaxPoolEveryIsa<int8_t>(r, g, trial);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(fast, 40);
  EXPECT_GT(several_rows, 15);  // small even widths: several output rows per step
}

// The kernel for windows 3 wide at stride 2 (ResNet's 3x3/2 pad 1 stem
// pool): left padding 0 and 1, right padding 0-2 and ceil_mode (last windows
// partly past the input), widths below, at and past one 32-output step,
// kernel heights 1-4 with any vertical stride and padding, signed and
// unsigned codes (the padding is the lowest code, not 0), every level.
TEST(X86ElementwiseQ8, MaxPoolWidth3Stride2BitExact) {
  Rng r(78);
  int fast = 0, left_pad = 0;
  for (int trial = 0; trial < 80; ++trial) {
    WindowGeometry g;
    g.kernel = {r.Int(1, 4), 3};
    g.stride = {r.Int(1, 3), 2};
    g.dilation = {1, 1};
    const int64_t width = r.Chance(0.3) ? r.Int(65, 200) : r.Int(3, 64);
    g.in = {r.Int(g.kernel[0], 30), width};
    const int64_t pl = r.Int(0, 1);
    ComputeWindow(g, {r.Int(0, g.kernel[0] - 1), pl, r.Int(0, g.kernel[0] - 1), r.Int(0, 2)}, "NOTSET",
                  r.Chance(0.3));
    if (!MaxPoolQ8IsWidth3Stride2(g)) continue;
    ++fast;
    left_pad += pl;
    CheckMaxPoolEveryIsa<uint8_t>(r, g, trial);
    CheckMaxPoolEveryIsa<int8_t>(r, g, trial);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(fast, 60);
  EXPECT_GT(left_pad, 25);
}

TEST(X86ElementwiseQ8, MaxPoolBitExact) {
  Rng r(31);
  for (int t = 0; t < 150; ++t) {
    CheckMaxPool<uint8_t>(r, t);
    CheckMaxPool<int8_t>(r, t);
    if (HasFatalFailure()) return;
  }
}

// MaxPool written as channels-last pixels in bands of output rows
// (MaxPoolQ8X86ToPixels, the producer in front of channels-last convs): the
// three kernels (any window, 3 wide at stride 2 as in ResNet's stem, 2x2 at
// stride 2) on bands with padding above, inside and below them, channel
// counts below, at and past one 64-byte block, the map split into one to
// four bands at random rows, signed and unsigned codes, every level, input and
// output against guard pages; each pixel against the NCHW reference.
template <class T>
void CheckMaxPoolToPixels(Rng& r, int trial) {
  WindowGeometry g;
  const int kind = trial % 3;
  g.kernel = kind == 1 ? std::vector<int64_t>{3, 3} : kind == 2 ? std::vector<int64_t>{2, 2}
                                                                  : std::vector<int64_t>{r.Int(1, 4), r.Int(1, 4)};
  g.stride = kind == 0 ? std::vector<int64_t>{r.Int(1, 3), r.Int(1, 2)} : std::vector<int64_t>{2, 2};
  g.dilation = {1, 1};
  g.in = {r.Int(g.kernel[0] + 1, 30), r.Int(g.kernel[1] + 1, 80)};
  std::vector<int64_t> pads(4, 0);
  if (kind != 2)
    for (int i = 0; i < 4; ++i) pads[i] = r.Int(0, g.kernel[i % 2] - 1);
  ComputeWindow(g, pads, "NOTSET", false);
  ASSERT_TRUE(MaxPoolQ8X86Vectorizes(g)) << "trial " << trial;
  const int64_t c = r.Chance(0.3) ? 64 : r.Int(1, 130), in_sz = g.spatial_size_in(), out_sz = g.spatial_size_out();
  GuardedBuffer<T> x(c * in_sz);
  FillCodes(r, x.data(), x.size());
  std::vector<T> want(c * out_sz);
  MaxPoolQ8Reference(c, g, x.data(), want.data(), 0, c);
  const int64_t oh = g.out[0];
  for (Isa isa : SupportedIsas()) {
    GuardedBuffer<T> y(c * out_sz);
    std::vector<int64_t> cuts = {0, oh};
    for (int i = r.Int(0, 3); i > 0; --i) cuts.push_back(r.Int(1, static_cast<int>(oh)));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (size_t i = 0; i + 1 < cuts.size(); ++i) MaxPoolQ8X86ToPixels(c, g, x.data(), y.data(), cuts[i], cuts[i + 1], isa);
    for (int64_t s = 0; s < out_sz; ++s)
      for (int64_t ch = 0; ch < c; ++ch)
        ASSERT_EQ(int{y[s * c + ch]}, int{want[ch * out_sz + s]})
            << "trial " << trial << " isa " << IsaName(isa) << " in " << g.in[0] << "x" << g.in[1] << " kernel "
            << g.kernel[0] << "x" << g.kernel[1] << " stride " << g.stride[0] << "x" << g.stride[1] << " pads "
            << g.pad_begin[0] << "," << g.pad_begin[1] << " channels " << c << " bands " << cuts.size() - 1
            << " at position " << s << " channel " << ch;
  }
}

TEST(X86ElementwiseQ8, MaxPoolToPixelsInBandsBitExact) {
  Rng r(83);
  for (int trial = 0; trial < 60; ++trial) {
    CheckMaxPoolToPixels<uint8_t>(r, trial);
    CheckMaxPoolToPixels<int8_t>(r, trial);
    if (HasFatalFailure()) return;
  }
}

// ---------------------------------------------------------------- GlobalAveragePool

// Plane sizes below, at and past one and two 32- and 64-byte steps (49: 7x7;
// 196: 14x14), any zero point and multiplier, fused clamps, codes at the
// extremes (the largest sums), planes ending at an unmapped page, split
// between two calls, every level; and channels-last input.
template <class T>
void CheckGlobalAvgPool(Rng& r, int trial) {
  static const int64_t kSizes[] = {1, 7, 31, 32, 33, 49, 63, 64, 65, 96, 127, 128, 129, 196, 200};
  GlobalAvgPoolQ8Params p;
  p.spatial = r.Chance(0.7) ? kSizes[r.Int(0, 14)] : r.Int(1, 600);
  p.x_zero_point = AnyCode<T>(r);
  p.y_zero_point = AnyCode<T>(r);
  p.multiplier = AnyMultiplier(r);
  if (r.Chance(0.3)) p.y_min = p.y_zero_point;  // fused Relu
  if (r.Chance(0.2)) {
    p.y_min = AnyCode<T>(r);
    p.y_max = std::min<int32_t>(p.y_min + r.Int(0, 100), std::numeric_limits<T>::max());
  }
  const int64_t planes = r.Int(1, 300);
  GuardedBuffer<T> x(planes * p.spatial);
  if (r.Chance(0.2)) std::fill(x.data(), x.data() + x.size(), r.Chance(0.5) ? std::numeric_limits<T>::max()
                                                                            : std::numeric_limits<T>::min());
  else FillCodes(r, x.data(), x.size());
  std::vector<T> want(planes);
  GlobalAvgPoolQ8Reference(p, x.data(), want.data(), 0, planes);
  for (Isa isa : SupportedIsas()) {
    GuardedBuffer<T> y(planes);
    const int64_t split = r.Int(0, static_cast<int>(planes));
    GlobalAvgPoolQ8X86(p, x.data(), y.data(), 0, split, isa);
    GlobalAvgPoolQ8X86(p, x.data(), y.data(), split, planes, isa);
    for (int64_t i = 0; i < planes; ++i)
      ASSERT_EQ(int{y[i]}, int{want[i]}) << "trial " << trial << " isa " << IsaName(isa) << " spatial "
                                         << p.spatial << " plane " << i << " of " << planes;
  }
  // The same planes as channels-last images (one or two of planes / images
  // channels), split between two calls.
  const int64_t images = planes % 2 == 0 ? 2 : 1, channels = planes / images;
  GuardedBuffer<T> xcl(x.size());
  xcl.CopyFrom(ToChannelsLast(x.data(), x.size(), channels, p.spatial).data());
  GuardedBuffer<T> y(planes);
  const int64_t split = r.Int(0, static_cast<int>(images));
  GlobalAvgPoolQ8ChannelsLast(p, xcl.data(), channels, y.data(), 0, split);
  GlobalAvgPoolQ8ChannelsLast(p, xcl.data(), channels, y.data(), split, images);
  for (int64_t i = 0; i < planes; ++i)
    ASSERT_EQ(int{y[i]}, int{want[i]}) << "trial " << trial << " channels-last, spatial " << p.spatial << " plane "
                                       << i << " of " << planes;
}

TEST(X86ElementwiseQ8, GlobalAvgPoolBitExact) {
  Rng r(41);
  for (int t = 0; t < 200; ++t) {
    CheckGlobalAvgPool<uint8_t>(r, t);
    CheckGlobalAvgPool<int8_t>(r, t);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace nibble
