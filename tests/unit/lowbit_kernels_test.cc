// Sub-8-bit kernels (bit-serial W_k A_k, binary W1A1, W4A8 / W2A8 GEMV)
// bit-exact against GemmQ8Reference / ConvQ8Reference on the same codes, on
// every popcount path / ISA level this CPU runs, every buffer the kernels
// read or write ending at a guard page.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>

#include "base/thread_pool.h"
#include "nibble/error.h"
#include "guard_page.h"
#include "test_util.h"
#include "kernels/reference/conv_q8.h"
#include "kernels/reference/gemm_q8.h"
#include "kernels/x86/bitserial_gemm.h"
#include "kernels/x86/lowbit_gemv.h"
#include "kernels/x86/lowbit_select.h"

namespace nibble {
namespace {

using bitserial::PopcountPath;
using testing::GuardedBuffer;

using testing::Guarded;
using testing::Rng;

int32_t CodeMin(int bits, bool s) { return s ? -(1 << (bits - 1)) : 0; }
int32_t CodeMax(int bits, bool s) { return s ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }

// Multipliers that keep outputs of accumulators of size ~`scale` spread over the code range.
FixedPointMultiplier RandomMultiplier(Rng& r, double scale) {
  if (r.Coin(0.1)) return QuantizeMultiplier(std::ldexp(1.0, static_cast<int>(r.Int(-8, 2))));
  return QuantizeMultiplier(r.Int(20, 400) / (100.0 * std::max(1.0, scale)));
}

// Output clamp: full type range, a fused-Relu-like bound, or a narrow k-bit range.
template <class TC>
void RandomClamp(Rng& r, int32_t zp, int32_t& lo, int32_t& hi) {
  lo = std::numeric_limits<int32_t>::min();
  hi = std::numeric_limits<int32_t>::max();
  if constexpr (!std::is_same_v<TC, int32_t>) {
    switch (r.Int(0, 2)) {
      case 0: break;
      case 1: lo = zp; break;
      default: {
        const int bits = static_cast<int>(r.Int(2, 4));
        lo = std::is_signed_v<TC> ? -(1 << (bits - 1)) : 0;
        hi = std::is_signed_v<TC> ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
      }
    }
  }
}

template <class TC>
int32_t RandomOutZp(Rng& r) {
  if constexpr (std::is_same_v<TC, int32_t>) return 0;
  else return static_cast<int32_t>(r.Int(std::numeric_limits<TC>::min(), std::numeric_limits<TC>::max()));
}

std::string PathLabel(PopcountPath p) { return std::string("path=") + bitserial::PopcountPathName(p); }

// ---- bit-serial GEMM ---------------------------------------------------------

template <class TA, class TC>
void CheckBitSerialGemmCase(Rng& r, const BitSerialSpec& s, int64_t m, int64_t n, int64_t k) {
  GemmQ8Params p;
  p.m = m, p.n = n, p.k = k;
  p.transpose_b = r.Coin();
  const int32_t amin = CodeMin(s.a_bits, s.a_signed), amax = CodeMax(s.a_bits, s.a_signed);
  const int32_t wmin = CodeMin(s.w_bits, s.w_signed), wmax = CodeMax(s.w_bits, s.w_signed);
  if (r.Coin(0.8)) p.a_zero_point = {static_cast<int32_t>(r.Int(amin, amax))};
  if (r.Coin(0.3)) {
    p.b_zero_point = {static_cast<int32_t>(r.Int(wmin, wmax))};
  } else if (r.Coin(0.3)) {
    for (int64_t j = 0; j < n; ++j) p.b_zero_point.push_back(static_cast<int32_t>(r.Int(wmin, wmax)));
  }
  std::vector<TA> a(m * k);
  std::vector<int8_t> b(k * n);
  std::vector<int32_t> bias(n);
  for (auto& v : a) v = static_cast<TA>(r.Int(amin, amax));
  for (auto& v : b) v = static_cast<int8_t>(r.Int(wmin, wmax));
  for (auto& v : bias) v = static_cast<int32_t>(r.Int(-5000, 5000));
  const double scale = std::sqrt(static_cast<double>(k)) * (1 << s.a_bits) * (1 << s.w_bits) / 4.0;
  if (r.Coin()) p.multiplier = {RandomMultiplier(r, scale)};
  else for (int64_t j = 0; j < n; ++j) p.multiplier.push_back(RandomMultiplier(r, scale));
  p.c_zero_point = RandomOutZp<TC>(r);
  RandomClamp<TC>(r, p.c_zero_point, p.c_min, p.c_max);
  const bool use_bias = r.Coin(0.8);
  std::vector<TC> want(m * n);
  if constexpr (std::is_same_v<TC, int32_t>) {
    GemmQ8Int32Reference<TA, int8_t>(p, a.data(), b.data(), want.data());
    if (use_bias)
      for (int64_t i = 0; i < m * n; ++i) want[i] += bias[i % n];
  } else {
    GemmQ8Reference<TA, int8_t, TC>(p, a.data(), b.data(), use_bias ? bias.data() : nullptr, want.data());
  }
  auto gb = Guarded(b);
  auto gbias = Guarded(bias);
  const LowBitPacked pk = PackBitSerialGemm(p, gb->data(), use_bias ? gbias->data() : nullptr, s);
  auto ga = Guarded(a);
  for (PopcountPath path : bitserial::SupportedPopcountPaths()) {
    GuardedBuffer<TC> c(m * n);
    LowBitGemmRun(pk, m, ga->data(), c.data(), 0, LowBitGemmTaskCount(pk, m), path);
    for (int64_t i = 0; i < m * n; ++i)
      ASSERT_EQ(int{c[i]}, int{want[i]}) << PathLabel(path) << " W" << s.w_bits << (s.w_signed ? "s" : "u") << "A"
                                         << s.a_bits << (s.a_signed ? "s" : "u") << " m=" << m << " n=" << n
                                         << " k=" << k << " at " << i;
  }
}

TEST(BitSerialKernels, GemmMatchesReferenceEveryWidth) {
  Rng r(11);
  for (int ka = 1; ka <= 4; ++ka)
    for (int kw = 1; kw <= 4; ++kw)
      for (int rep = 0; rep < 6; ++rep) {
        BitSerialSpec s{ka, kw, r.Coin(0.3), r.Coin(0.6)};
        const int64_t m = r.Coin(0.2) ? r.Int(40, 60) : r.Int(1, 7);
        const int64_t n = r.Int(1, 20), k = r.Coin(0.2) ? 64 * r.Int(1, 4) : r.Int(1, 300);
        switch (rep % 3) {
          case 0:
            if (s.a_signed) CheckBitSerialGemmCase<int8_t, uint8_t>(r, s, m, n, k);
            else CheckBitSerialGemmCase<uint8_t, uint8_t>(r, s, m, n, k);
            break;
          case 1:
            if (s.a_signed) CheckBitSerialGemmCase<int8_t, int8_t>(r, s, m, n, k);
            else CheckBitSerialGemmCase<uint8_t, int8_t>(r, s, m, n, k);
            break;
          default:
            if (s.a_signed) CheckBitSerialGemmCase<int8_t, int32_t>(r, s, m, n, k);
            else CheckBitSerialGemmCase<uint8_t, int32_t>(r, s, m, n, k);
        }
        if (HasFatalFailure()) return;
      }
}

TEST(BitSerialKernels, GemmDepthSweep) {
  Rng r(12);
  for (int64_t k = 1; k <= 300; k += (k < 140 ? 1 : 7)) {
    BitSerialSpec s{static_cast<int>(r.Int(1, 4)), static_cast<int>(r.Int(1, 4)), false, true};
    CheckBitSerialGemmCase<uint8_t, uint8_t>(r, s, r.Int(1, 5), r.Int(1, 17), k);
    if (HasFatalFailure()) return;
  }
}

// ---- binary GEMM ---------------------------------------------------------------

template <class TA, class TC>
void CheckBinaryGemmCase(Rng& r, int64_t m, int64_t n, int64_t k) {
  GemmQ8Params p;
  p.m = m, p.n = n, p.k = k;
  p.transpose_b = r.Coin();
  const int32_t th = static_cast<int32_t>(r.Int(std::numeric_limits<TA>::min(), std::numeric_limits<TA>::max()));
  p.a_zero_point = {th};
  std::vector<TA> a(m * k);
  std::vector<int8_t> a_pm(m * k), b(k * n);
  std::vector<int32_t> bias(n);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<TA>(r.Int(std::numeric_limits<TA>::min(), std::numeric_limits<TA>::max()));
    a_pm[i] = a[i] >= th ? 1 : -1;
  }
  for (auto& v : b) v = r.Coin() ? 1 : -1;
  for (auto& v : bias) v = static_cast<int32_t>(r.Int(-300, 300));
  if (r.Coin()) p.multiplier = {RandomMultiplier(r, std::sqrt(double(k)))};
  else for (int64_t j = 0; j < n; ++j) p.multiplier.push_back(RandomMultiplier(r, std::sqrt(double(k))));
  p.c_zero_point = RandomOutZp<TC>(r);
  RandomClamp<TC>(r, p.c_zero_point, p.c_min, p.c_max);
  GemmQ8Params ref = p;
  ref.a_zero_point.clear();  // the reference runs on the +-1 codes
  std::vector<TC> want(m * n);
  if constexpr (std::is_same_v<TC, int32_t>) {
    GemmQ8Int32Reference<int8_t, int8_t>(ref, a_pm.data(), b.data(), want.data());
    for (int64_t i = 0; i < m * n; ++i) want[i] += bias[i % n];
  } else {
    GemmQ8Reference<int8_t, int8_t, TC>(ref, a_pm.data(), b.data(), bias.data(), want.data());
  }
  auto gb = Guarded(b);
  auto gbias = Guarded(bias);
  const LowBitPacked pk = PackBinaryGemm(p, gb->data(), gbias->data());
  auto ga = Guarded(a);
  for (PopcountPath path : bitserial::SupportedPopcountPaths()) {
    GuardedBuffer<TC> c(m * n);
    LowBitGemmRun(pk, m, ga->data(), c.data(), 0, LowBitGemmTaskCount(pk, m), path);
    for (int64_t i = 0; i < m * n; ++i)
      ASSERT_EQ(int{c[i]}, int{want[i]}) << PathLabel(path) << " m=" << m << " n=" << n << " k=" << k << " at " << i;
  }
}

TEST(BinaryKernels, GemmMatchesReference) {
  Rng r(21);
  for (int rep = 0; rep < 60; ++rep) {
    const int64_t m = r.Coin(0.2) ? r.Int(40, 60) : r.Int(1, 6), n = r.Int(1, 20);
    const int64_t k = rep < 20 ? rep + 1 : r.Int(1, 300);
    switch (rep % 4) {
      case 0: CheckBinaryGemmCase<uint8_t, uint8_t>(r, m, n, k); break;
      case 1: CheckBinaryGemmCase<int8_t, int8_t>(r, m, n, k); break;
      case 2: CheckBinaryGemmCase<uint8_t, int32_t>(r, m, n, k); break;
      default: CheckBinaryGemmCase<int8_t, uint8_t>(r, m, n, k);
    }
    if (HasFatalFailure()) return;
  }
}

TEST(BinaryKernels, RejectsNonBipolarWeights) {
  GemmQ8Params p;
  p.m = 1, p.n = 2, p.k = 2;
  p.multiplier = {QuantizeMultiplier(0.5)};
  const std::vector<int8_t> b = {1, 0, -1, 1};
  EXPECT_FALSE(BinaryGemmSupports(p, b.data(), nullptr));
  EXPECT_THROW(PackBinaryGemm(p, b.data(), nullptr), Error);
}

// ---- convolution ---------------------------------------------------------------------

struct ConvShape {
  int64_t batch, c, m;
  std::vector<int64_t> in, kernel, stride, dilation, pads;
};

ConvShape RandomConvShape(Rng& r) {
  ConvShape s;
  s.batch = r.Int(1, 2);
  s.c = r.Coin(0.2) ? r.Int(60, 140) : r.Int(1, 12);
  s.m = r.Int(1, 19);
  const int dims = r.Coin(0.85) ? 2 : 1;
  for (int d = 0; d < dims; ++d) {
    const int64_t kernel = r.Int(1, 3), dil = r.Coin(0.2) ? 2 : 1;
    s.kernel.push_back(kernel);
    s.dilation.push_back(dil);
    s.stride.push_back(r.Int(1, 2));
    s.in.push_back(r.Int((kernel - 1) * dil + 1, 9));
  }
  for (int d = 0; d < 2 * dims; ++d) s.pads.push_back(r.Int(0, 2));
  return s;
}

ConvQ8Params MakeConvParams(const ConvShape& s) {
  ConvQ8Params p;
  p.batch = s.batch, p.in_channels = s.c, p.out_channels = s.m;
  p.geo.in = s.in;
  p.geo.kernel = s.kernel;
  p.geo.stride = s.stride;
  p.geo.dilation = s.dilation;
  ComputeWindow(p.geo, s.pads, "NOTSET", false);
  return p;
}

// The reference output: requantized, or (TY = int32) the accumulators + bias.
template <class TX, class TY>
std::vector<TY> ReferenceConv(const ConvQ8Params& p, const std::vector<TX>& x, const std::vector<int8_t>& w,
                              const std::vector<int32_t>& bias) {
  const int64_t ysize = p.batch * p.out_channels * p.geo.spatial_size_out();
  std::vector<TY> want(ysize);
  if constexpr (std::is_same_v<TY, int32_t>) {
    ConvQ8Int32Reference<TX, int8_t>(p, x.data(), w.data(), want.data());
    for (int64_t i = 0; i < ysize; ++i) want[i] += bias[(i / p.geo.spatial_size_out()) % p.out_channels];
  } else {
    ConvQ8Reference<TX, int8_t, TY>(p, x.data(), w.data(), bias.data(), want.data());
  }
  return want;
}

// Runs the packed conv on x (guarded) at every popcount path and expects `want`, bit for bit.
template <class TX, class TY>
void ExpectConvEveryPath(const LowBitPacked& pk, const ConvQ8Params& p, const std::vector<TX>& x,
                         const std::vector<TY>& want, const std::string& label) {
  auto gx = Guarded(x);
  for (PopcountPath path : bitserial::SupportedPopcountPaths()) {
    GuardedBuffer<TY> y(want.size());
    LowBitConvInput in;
    LowBitConvPrepareInput(pk, p, in);
    LowBitConvPackInput(pk, p, gx->data(), in, 0, LowBitConvPackTaskCount(pk, p), path);
    LowBitConvRun(pk, p, in, y.data(), 0, LowBitConvTaskCount(pk, p), path);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(int{y[i]}, int{want[i]}) << PathLabel(path) << label << " C=" << p.in_channels
                                         << " M=" << p.out_channels << " at " << i;
  }
}

template <class TX, class TY>
void CheckBitSerialConvCase(Rng& r, const BitSerialSpec& bs, const ConvShape& shape) {
  ConvQ8Params p = MakeConvParams(shape);
  const int32_t amin = CodeMin(bs.a_bits, bs.a_signed), amax = CodeMax(bs.a_bits, bs.a_signed);
  const int32_t wmin = CodeMin(bs.w_bits, bs.w_signed), wmax = CodeMax(bs.w_bits, bs.w_signed);
  p.x_zero_point = r.Coin(0.4) ? (bs.a_signed ? 0 : 0) : static_cast<int32_t>(r.Int(amin, amax));
  if (r.Coin(0.3)) p.w_zero_point = {static_cast<int32_t>(r.Int(wmin, wmax))};
  else if (r.Coin(0.3))
    for (int64_t m = 0; m < p.out_channels; ++m) p.w_zero_point.push_back(static_cast<int32_t>(r.Int(wmin, wmax)));
  const int64_t taps = p.geo.kernel_size(), k = p.in_channels * taps;
  std::vector<TX> x(p.batch * p.in_channels * p.geo.spatial_size_in());
  std::vector<int8_t> w(p.out_channels * k);
  std::vector<int32_t> bias(p.out_channels);
  for (auto& v : x) v = static_cast<TX>(r.Int(amin, amax));
  for (auto& v : w) v = static_cast<int8_t>(r.Int(wmin, wmax));
  for (auto& v : bias) v = static_cast<int32_t>(r.Int(-3000, 3000));
  const double scale = std::sqrt(static_cast<double>(k)) * (1 << bs.a_bits) * (1 << bs.w_bits) / 4.0;
  if (r.Coin()) p.multiplier = {RandomMultiplier(r, scale)};
  else for (int64_t m = 0; m < p.out_channels; ++m) p.multiplier.push_back(RandomMultiplier(r, scale));
  p.y_zero_point = RandomOutZp<TY>(r);
  RandomClamp<TY>(r, p.y_zero_point, p.y_min, p.y_max);
  const std::vector<TY> want = ReferenceConv<TX, TY>(p, x, w, bias);
  auto gw = Guarded(w);
  auto gbias = Guarded(bias);
  const LowBitPacked pk = PackBitSerialConv(p, gw->data(), gbias->data(), bs);
  ExpectConvEveryPath(pk, p, x, want, Cat(" W", bs.w_bits, "A", bs.a_bits));
}

TEST(BitSerialKernels, ConvMatchesReference) {
  Rng r(31);
  for (int rep = 0; rep < 64; ++rep) {
    BitSerialSpec s{static_cast<int>(r.Int(1, 4)), static_cast<int>(r.Int(1, 4)), r.Coin(0.3), r.Coin(0.6)};
    const ConvShape shape = RandomConvShape(r);
    switch (rep % 3) {
      case 0:
        if (s.a_signed) CheckBitSerialConvCase<int8_t, uint8_t>(r, s, shape);
        else CheckBitSerialConvCase<uint8_t, uint8_t>(r, s, shape);
        break;
      case 1:
        if (s.a_signed) CheckBitSerialConvCase<int8_t, int8_t>(r, s, shape);
        else CheckBitSerialConvCase<uint8_t, int8_t>(r, s, shape);
        break;
      default:
        if (s.a_signed) CheckBitSerialConvCase<int8_t, int32_t>(r, s, shape);
        else CheckBitSerialConvCase<uint8_t, int32_t>(r, s, shape);
    }
    if (HasFatalFailure()) return;
  }
}

template <class TX, class TY>
void CheckBinaryConvCase(Rng& r, const ConvShape& shape) {
  ConvQ8Params p = MakeConvParams(shape);
  const int32_t th = static_cast<int32_t>(r.Int(std::numeric_limits<TX>::min(), std::numeric_limits<TX>::max()));
  p.x_zero_point = th;
  const int64_t taps = p.geo.kernel_size(), k = p.in_channels * taps;
  std::vector<TX> x(p.batch * p.in_channels * p.geo.spatial_size_in());
  std::vector<int8_t> x_pm(x.size()), w(p.out_channels * k);
  std::vector<int32_t> bias(p.out_channels);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<TX>(r.Int(std::numeric_limits<TX>::min(), std::numeric_limits<TX>::max()));
    x_pm[i] = x[i] >= th ? 1 : -1;
  }
  for (auto& v : w) v = r.Coin() ? 1 : -1;
  for (auto& v : bias) v = static_cast<int32_t>(r.Int(-100, 100));
  if (r.Coin()) p.multiplier = {RandomMultiplier(r, std::sqrt(double(k)))};
  else for (int64_t m = 0; m < p.out_channels; ++m) p.multiplier.push_back(RandomMultiplier(r, std::sqrt(double(k))));
  p.y_zero_point = RandomOutZp<TY>(r);
  RandomClamp<TY>(r, p.y_zero_point, p.y_min, p.y_max);
  ConvQ8Params ref = p;
  ref.x_zero_point = 0;  // the reference on +-1 codes: padding reads real 0
  const std::vector<TY> want = ReferenceConv<int8_t, TY>(ref, x_pm, w, bias);
  auto gw = Guarded(w);
  auto gbias = Guarded(bias);
  const LowBitPacked pk = PackBinaryConv(p, gw->data(), gbias->data());
  ExpectConvEveryPath(pk, p, x, want, "");
}

TEST(BinaryKernels, ConvMatchesReferenceRandomGeometry) {
  Rng r(41);
  for (int rep = 0; rep < 80; ++rep) {
    const ConvShape shape = RandomConvShape(r);
    switch (rep % 3) {
      case 0: CheckBinaryConvCase<uint8_t, uint8_t>(r, shape); break;
      case 1: CheckBinaryConvCase<int8_t, int8_t>(r, shape); break;
      default: CheckBinaryConvCase<uint8_t, int32_t>(r, shape);
    }
    if (HasFatalFailure()) return;
  }
}

// Up to 64 channels and whole 64-pixel chunks: the input packer's transposing path
// (plus a 16-pixel tail), at every channel count that fills the 8-channel groups differently.
TEST(BinaryKernels, ConvPackerWholeChunksUpTo64Channels) {
  Rng r(43);
  for (int64_t c : {1, 8, 9, 37, 63, 64})
    for (int64_t hw : {8, 12}) {
      const ConvShape s{2, c, 11, {hw, hw}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}};
      CheckBinaryConvCase<uint8_t, uint8_t>(r, s);
      CheckBinaryConvCase<int8_t, int8_t>(r, s);
      if (HasFatalFailure()) return;
    }
}

// Every padding case of a 3x3 window: symmetric 1 and 2, each side alone
// (asymmetric), images smaller than the window (every tap of a corner output
// in the padding but one), stride 2 and dilation 2 at the borders.
TEST(BinaryKernels, ConvEveryPaddingCase) {
  Rng r(42);
  const std::vector<std::vector<int64_t>> pads = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {1, 0, 0, 0},
                                                  {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}, {2, 0, 1, 2}};
  for (const auto& pad : pads)
    for (int64_t hw : {1, 2, 3, 5})
      for (int64_t stride : {1, 2})
        for (int64_t dil : {1, 2}) {
          ConvShape s{1, r.Coin() ? 3 : 65, 9, {hw, hw + 1}, {3, 3}, {stride, stride}, {dil, dil}, pad};
          const int64_t eff = 2 * dil + 1;
          if (hw + pad[0] + pad[2] < eff || hw + 1 + pad[1] + pad[3] < eff) continue;
          CheckBinaryConvCase<uint8_t, int32_t>(r, s);
          CheckBitSerialConvCase<uint8_t, int32_t>(r, BitSerialSpec{2, 2, false, true}, s);
          if (HasFatalFailure()) return;
        }
}

// The convenience entry points follow ActiveIsa() (every supported level) and
// split tasks over a thread pool.
TEST(LowBitKernels, ConvAndGemmThreadedEveryIsa) {
  Rng r(51);
  ThreadPool pool(2);
  for (Isa isa : SupportedIsas()) {
    SetIsaOverride(isa);
    ConvShape s{2, 70, 21, {9, 8}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}};
    ConvQ8Params p = MakeConvParams(s);
    p.x_zero_point = 1;
    p.multiplier = {QuantizeMultiplier(0.01)};
    std::vector<uint8_t> x(p.batch * p.in_channels * p.geo.spatial_size_in());
    std::vector<int8_t> w(p.out_channels * p.in_channels * 9);
    for (auto& v : x) v = static_cast<uint8_t>(r.Int(0, 3));
    for (auto& v : w) v = static_cast<int8_t>(r.Int(-2, 1));
    std::vector<uint8_t> want(p.batch * p.out_channels * p.geo.spatial_size_out());
    ConvQ8Reference<uint8_t, int8_t, uint8_t>(p, x.data(), w.data(), nullptr, want.data());
    const LowBitPacked pk = PackBitSerialConv(p, w.data(), nullptr, BitSerialSpec{2, 2, false, true});
    GuardedBuffer<uint8_t> y(want.size());
    LowBitConvInput in;
    LowBitConv(pk, p, x.data(), y.data(), in, &pool);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(int{y[i]}, int{want[i]}) << IsaName(isa) << " at " << i;
  }
  SetIsaOverride(std::nullopt);
}

// ---- W4A8 / W2A8 GEMV ------------------------------------------------------------

template <class TA, class TC>
void CheckGemvCase(Rng& r, int w_bits, bool w_signed, int64_t m, int64_t n, int64_t k) {
  GemmQ8Params p;
  p.m = m, p.n = n, p.k = k;
  p.transpose_b = r.Coin();
  const int32_t wmin = CodeMin(w_bits, w_signed), wmax = CodeMax(w_bits, w_signed);
  const int32_t amin = std::numeric_limits<TA>::min(), amax = std::numeric_limits<TA>::max();
  // Zero points across the whole range, the extremes included.
  switch (r.Int(0, 3)) {
    case 0: break;
    case 1: p.a_zero_point = {r.Coin() ? amin : amax}; break;
    default: p.a_zero_point = {static_cast<int32_t>(r.Int(amin, amax))};
  }
  if (r.Coin(0.3)) p.b_zero_point = {static_cast<int32_t>(r.Int(wmin, wmax))};
  else if (r.Coin(0.2))
    for (int64_t j = 0; j < n; ++j) p.b_zero_point.push_back(static_cast<int32_t>(r.Int(wmin, wmax)));
  std::vector<TA> a(m * k);
  std::vector<int8_t> b(k * n);
  std::vector<int32_t> bias(n);
  for (auto& v : a) v = static_cast<TA>(r.Int(amin, amax));
  for (auto& v : b) v = static_cast<int8_t>(r.Int(wmin, wmax));
  for (auto& v : bias) v = static_cast<int32_t>(r.Int(-100000, 100000));
  const double scale = std::sqrt(static_cast<double>(k)) * 128.0 * (1 << w_bits) / 2.0;
  if (r.Coin()) p.multiplier = {RandomMultiplier(r, scale)};
  else for (int64_t j = 0; j < n; ++j) p.multiplier.push_back(RandomMultiplier(r, scale));
  p.c_zero_point = RandomOutZp<TC>(r);
  RandomClamp<TC>(r, p.c_zero_point, p.c_min, p.c_max);
  std::vector<TC> want(m * n);
  if constexpr (std::is_same_v<TC, int32_t>) {
    GemmQ8Int32Reference<TA, int8_t>(p, a.data(), b.data(), want.data());
    for (int64_t i = 0; i < m * n; ++i) want[i] += bias[i % n];
  } else {
    GemmQ8Reference<TA, int8_t, TC>(p, a.data(), b.data(), bias.data(), want.data());
  }
  auto gb = Guarded(b);
  auto gbias = Guarded(bias);
  auto ga = Guarded(a);
  for (Isa isa : SupportedIsas()) {
    const LowBitGemvPacked pk = PackLowBitGemv(p, gb->data(), gbias->data(), w_bits, w_signed, isa);
    GuardedBuffer<TC> c(m * n);
    LowBitGemvRun(pk, m, ga->data(), c.data(), 0, LowBitGemvTaskCount(pk));
    for (int64_t i = 0; i < m * n; ++i)
      ASSERT_EQ(int{c[i]}, int{want[i]}) << IsaName(isa) << " W" << w_bits << " m=" << m << " n=" << n << " k=" << k
                                         << " at " << i;
  }
}

TEST(LowBitGemv, W4A8AndW2A8MatchReference) {
  Rng r(61);
  for (int rep = 0; rep < 120; ++rep) {
    const int w_bits = rep % 2 ? 2 : 4;
    const bool w_signed = r.Coin(0.8);
    const int64_t m = r.Coin(0.8) ? 1 : r.Int(2, 4);
    const int64_t n = r.Coin(0.2) ? r.Int(60, 200) : r.Int(1, 40);
    const int64_t k = rep < 40 ? rep + 1 : r.Int(1, 300);
    switch (rep % 6) {
      case 0: CheckGemvCase<uint8_t, uint8_t>(r, w_bits, w_signed, m, n, k); break;
      case 1: CheckGemvCase<int8_t, int8_t>(r, w_bits, w_signed, m, n, k); break;
      case 2: CheckGemvCase<uint8_t, int32_t>(r, w_bits, w_signed, m, n, k); break;
      case 3: CheckGemvCase<int8_t, uint8_t>(r, w_bits, w_signed, m, n, k); break;
      case 4: CheckGemvCase<uint8_t, int8_t>(r, w_bits, w_signed, m, n, k); break;
      default: CheckGemvCase<int8_t, int32_t>(r, w_bits, w_signed, m, n, k);
    }
    if (HasFatalFailure()) return;
  }
}

TEST(LowBitGemv, RejectsCodesOutsideTheWidth) {
  GemmQ8Params p;
  p.m = 1, p.n = 1, p.k = 2;
  p.multiplier = {QuantizeMultiplier(0.5)};
  const std::vector<int8_t> b = {7, 8};
  EXPECT_FALSE(LowBitGemvSupports(p, b.data(), nullptr, 4, true, false));
  EXPECT_TRUE(LowBitGemvSupports(p, b.data(), nullptr, 4, false, false));
  EXPECT_THROW(PackLowBitGemv(p, b.data(), nullptr, 2, true, Isa::kScalar), Error);
}

// ---- kernel selection ---------------------------------------------------------------

TEST(LowBitSelect, CorrectnessTableAndForcing) {
  LowBitProblem w4a8{1, 1000, 512, 4, 8, true, false, false};
  LowBitProblem w2a2{3136, 64, 576, 2, 2, true, false, false};
  LowBitProblem bin{3136, 64, 576, 1, 1, true, true, true};
  EXPECT_TRUE(LowBitKernelCorrect(LowBitKernel::kInt8, w4a8));
  EXPECT_TRUE(LowBitKernelCorrect(LowBitKernel::kW4A8, w4a8));
  EXPECT_FALSE(LowBitKernelCorrect(LowBitKernel::kBitSerial, w4a8));
  EXPECT_FALSE(LowBitKernelCorrect(LowBitKernel::kBinary, w4a8));
  EXPECT_TRUE(LowBitKernelCorrect(LowBitKernel::kBitSerial, w2a2));
  EXPECT_FALSE(LowBitKernelCorrect(LowBitKernel::kBinary, w2a2));
  EXPECT_TRUE(LowBitKernelCorrect(LowBitKernel::kBinary, bin));
  SetLowBitKernelOverride(LowBitKernel::kBitSerial);
  EXPECT_EQ(SelectLowBitKernel(w2a2), LowBitKernel::kBitSerial);
  EXPECT_EQ(SelectLowBitKernel(w4a8), LowBitKernel::kInt8);  // not correct there: int8
  EXPECT_NE(DescribeLowBitChoice(w2a2).find("forced"), std::string::npos);
  SetLowBitKernelOverride(std::nullopt);
  EXPECT_EQ(ParseLowBitKernel("w4a8"), LowBitKernel::kW4A8);
  EXPECT_FALSE(ParseLowBitKernel("fp8").has_value());
}

TEST(LowBitSelect, MeasuresOnlyCorrectCandidatesAndCaches) {
  if (ForcedLowBitKernel()) GTEST_SKIP() << "NIBBLE_LOWBIT_KERNEL is set";
  LowBitProblem bin{49, 512, 4608, 1, 1, true, true, true};
  LowBitProblem w4{1, 4096, 4096, 4, 8, true, false, false};
  for (const LowBitProblem& p : {w4, bin}) {
    const auto t0 = std::chrono::steady_clock::now();
    const LowBitTiming t = MeasureLowBitKernels(p);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(t.measured);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(t.ns[i] >= 0, LowBitKernelCorrect(static_cast<LowBitKernel>(i), p)) << i;
    EXPECT_TRUE(LowBitKernelCorrect(t.chosen, p));
    EXPECT_EQ(SelectLowBitKernel(p), t.chosen);
    std::printf("  %s  (%.2f ms to measure)\n", DescribeLowBitChoice(p).c_str(), ms);
    // Cached: the second call does not measure again.
    const auto t1 = std::chrono::steady_clock::now();
    MeasureLowBitKernels(p);
    using Ms = std::chrono::duration<double, std::milli>;
    EXPECT_LT(Ms(std::chrono::steady_clock::now() - t1).count(), 1.0);
  }
}

TEST(LowBitSelect, ConvLayersAreTimedOnTheirOwnShape) {
  if (ForcedLowBitKernel()) GTEST_SKIP() << "NIBBLE_LOWBIT_KERNEL is set";
  ConvQ8Params p = MakeConvParams(ConvShape{1, 32, 48, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}});
  p.multiplier = {QuantizeMultiplier(1.0 / 512)};
  p.y_min = 0, p.y_max = 255;
  LowBitProblem w2a2{196, 48, 288, 2, 2, true, false, false};
  LowBitProblem bin{196, 48, 288, 1, 1, true, true, true};
  for (const LowBitProblem& prob : {w2a2, bin}) {
    const LowBitKernel k = SelectLowBitConvKernel(p, prob);
    EXPECT_TRUE(LowBitKernelCorrect(k, prob));
    const std::string why = DescribeLowBitConvChoice(p, prob);
    EXPECT_NE(why.find("on the layer's shape"), std::string::npos) << why;
    EXPECT_NE(why.find("int8 "), std::string::npos) << why;  // the int8 conv kernel always competes
    EXPECT_NE(why.find(prob.bipolar ? "binary " : "bitserial "), std::string::npos) << why;
    EXPECT_EQ(why.find("w4a8 "), std::string::npos) << why;  // no GEMV kernel for convolutions
    std::printf("  %s\n", why.c_str());
    // Cached: the second call does not measure again.
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_EQ(SelectLowBitConvKernel(p, prob), k);
    using Ms = std::chrono::duration<double, std::milli>;
    EXPECT_LT(Ms(std::chrono::steady_clock::now() - t1).count(), 1.0);
  }
  SetLowBitKernelOverride(LowBitKernel::kBinary);
  EXPECT_EQ(SelectLowBitConvKernel(p, w2a2), LowBitKernel::kInt8);  // not correct for w2a2: int8
  EXPECT_EQ(SelectLowBitConvKernel(p, bin), LowBitKernel::kBinary);
  SetLowBitKernelOverride(std::nullopt);
}

}  // namespace
}  // namespace nibble
