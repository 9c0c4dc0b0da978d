// The x86 int8 GEMM / conv kernels (src/kernels/x86) bit-exact against the
// scalar references, on every ISA level this CPU runs, with guard pages after
// every buffer.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <random>

#include "guard_page.h"
#include "test_util.h"
#include "kernels/reference/conv_q8.h"
#include "kernels/reference/gemm_q8.h"
#include "kernels/x86/conv_q8_fast.h"
#include "kernels/x86/conv_q8_pack_kernels.h"
#include "kernels/x86/gemm_q8_fast.h"
#include "kernels/x86/gemm_q8_microkernel.h"

namespace nibble {
namespace {

using testing::GuardedBuffer;

using testing::Guarded;
using testing::Rng;
using testing::FromChannelsLast;
using testing::ToChannelsLast;

// A multiplier over a wide range of reals: tiny, typical, and above 1.
FixedPointMultiplier RandomMultiplier(Rng& r) {
  switch (r.Int(0, 3)) {
    case 0: return QuantizeMultiplier(std::ldexp(1.0, static_cast<int>(r.Int(-40, -20))) * (1 + r.Int(0, 999) / 1000.0));
    case 1: return QuantizeMultiplier(std::ldexp(1.0, static_cast<int>(r.Int(-6, 6))) * (1 + r.Int(0, 999) / 1000.0));
    default: return QuantizeMultiplier(r.Int(1, 100000) * 1e-7);
  }
}

std::string Label(Isa isa) { return std::string("isa=") + q8::KernelsFor(isa).name; }

// Requantize() from int32 accumulators: extremes, multipliers at both ends of
// their range and beyond the QuantizeMultiplier normal form, every shift.
TEST(QuantX86Kernels, EpilogueMatchesRequantize) {
  for (Isa isa : SupportedIsas()) {
    const q8::KernelTable& kt = q8::KernelsFor(isa);
    Rng r(7);
    constexpr int64_t kN = 1 << 12;
    std::vector<int32_t> acc(kN), mult(kN), shift(kN), out(kN);
    const int rounds = isa == Isa::kScalar ? 8 : 256;  // ~1M triples per vector level
    for (int round = 0; round < rounds; ++round) {
      for (int64_t i = 0; i < kN; ++i) {
        switch (r.Int(0, 5)) {
          case 0: acc[i] = static_cast<int32_t>(r.Int(INT32_MIN, INT32_MAX)); break;
          case 1: acc[i] = r.Coin() ? INT32_MIN + static_cast<int32_t>(r.Int(0, 3)) : INT32_MAX - static_cast<int32_t>(r.Int(0, 3)); break;
          case 2: acc[i] = static_cast<int32_t>(r.Int(-300, 300)); break;
          default: acc[i] = static_cast<int32_t>(r.Int(-(1 << 22), 1 << 22)); break;
        }
        shift[i] = static_cast<int32_t>(r.Int(1, 62));
        switch (r.Int(0, 3)) {
          case 0: mult[i] = static_cast<int32_t>(r.Int(0, INT32_MAX)); break;
          case 1: mult[i] = r.Coin() ? INT32_MAX : static_cast<int32_t>(r.Int(0, 2)); break;
          default: {
            const FixedPointMultiplier m = RandomMultiplier(r);
            mult[i] = m.multiplier;
            shift[i] = m.shift;
          }
        }
      }
      int32_t zp, lo, hi;
      switch (round % 4) {
        case 0: zp = static_cast<int32_t>(r.Int(0, 255)), lo = 0, hi = 255; break;
        case 1: zp = static_cast<int32_t>(r.Int(-128, 127)), lo = -128, hi = 127; break;
        case 2: zp = static_cast<int32_t>(r.Int(-128, 127)), lo = static_cast<int32_t>(r.Int(-128, 0)), hi = static_cast<int32_t>(r.Int(0, 127)); break;
        default: zp = static_cast<int32_t>(r.Int(-(1 << 16), 1 << 16)), lo = -(1 << 30), hi = 1 << 30; break;
      }
      const int64_t n = kN - r.Int(0, 15);  // vector tails
      kt.requantize(acc.data(), mult.data(), shift.data(), n, zp, lo, hi, out.data());
      for (int64_t i = 0; i < n; ++i) {
        const int32_t want = Requantize(acc[i], {mult[i], shift[i]}, zp, lo, hi);
        ASSERT_EQ(out[i], want) << Label(isa) << " acc=" << acc[i] << " mult=" << mult[i] << " shift=" << shift[i]
                                << " zp=" << zp << " lo=" << lo << " hi=" << hi;
      }
    }
  }
}

template <class TA, class TC>
void CheckGemm(Rng& r, Isa isa, int trial, bool extreme) {
  GemmQ8Params p;
  p.m = r.Coin(0.3) ? 1 : r.Int(1, 80);
  p.n = r.Int(1, 220);
  p.k = r.Coin(0.2) ? r.Int(1, 8) : r.Int(1, 300);
  p.transpose_b = r.Coin();
  const int32_t za = static_cast<int32_t>(
      r.Coin(0.3) ? (r.Coin() ? std::numeric_limits<TA>::min() : std::numeric_limits<TA>::max())
                  : r.Int(std::numeric_limits<TA>::min(), std::numeric_limits<TA>::max()));
  if (!r.Coin(0.2)) p.a_zero_point = {za};
  if (r.Coin()) p.multiplier.push_back(RandomMultiplier(r));
  else
    for (int64_t j = 0; j < p.n; ++j) p.multiplier.push_back(RandomMultiplier(r));
  p.c_zero_point = static_cast<int32_t>(r.Int(std::numeric_limits<TC>::min(), std::numeric_limits<TC>::max()));
  if (r.Coin(0.3)) p.c_min = p.c_zero_point;  // fused Relu
  if (r.Coin(0.2)) p.c_max = static_cast<int32_t>(r.Int(p.c_zero_point, std::numeric_limits<TC>::max()));
  std::vector<TA> a(p.m * p.k);
  std::vector<int8_t> b(p.k * p.n);
  std::vector<int32_t> bias(p.n);
  for (auto& v : a)
    v = static_cast<TA>(extreme ? (r.Coin() ? std::numeric_limits<TA>::min() : std::numeric_limits<TA>::max())
                                : r.Int(std::numeric_limits<TA>::min(), std::numeric_limits<TA>::max()));
  for (auto& v : b) v = static_cast<int8_t>(extreme ? (r.Coin(0.8) ? -128 : 127) : r.Int(-128, 127));
  for (auto& v : bias) v = static_cast<int32_t>(r.Int(-100000, 100000));
  const bool with_bias = r.Coin(0.8);
  auto ga = Guarded(a);
  auto gb = Guarded(b);
  auto gbias = Guarded(bias);
  const int32_t* bp = with_bias ? gbias->data() : nullptr;
  ASSERT_TRUE(GemmQ8FastSupports(p, gb->data(), bp, std::is_same_v<TA, int8_t>));
  std::vector<TC> want(p.m * p.n);
  GemmQ8Reference(p, ga->data(), gb->data(), bp, want.data());
  const GemmQ8Packed pk = PackGemmQ8(p, gb->data(), bp, isa);
  GuardedBuffer<TC> got(p.m * p.n);
  const int64_t tasks = GemmQ8FastTaskCount(pk, p.m);
  const int64_t split = r.Int(0, tasks);  // any partition of the tasks
  GemmQ8FastRun(pk, p.m, ga->data(), got.data(), 0, split);
  GemmQ8FastRun(pk, p.m, ga->data(), got.data(), split, tasks);
  for (int64_t i = 0; i < p.m * p.n; ++i)
    ASSERT_EQ(int{got[i]}, int{want[i]}) << Label(isa) << " trial " << trial << " m=" << p.m << " n=" << p.n
                                         << " k=" << p.k << " transB=" << p.transpose_b << " za=" << za << " at " << i;
}

TEST(QuantX86Kernels, GemmMatchesReference) {
  for (Isa isa : SupportedIsas()) {
    Rng r(11 + static_cast<int>(isa));
    for (int trial = 0; trial < 24; ++trial) {
      const bool extreme = trial % 6 == 5;
      CheckGemm<uint8_t, uint8_t>(r, isa, trial, extreme);
      CheckGemm<uint8_t, int8_t>(r, isa, trial, extreme);
      CheckGemm<int8_t, uint8_t>(r, isa, trial, extreme);
      CheckGemm<int8_t, int8_t>(r, isa, trial, extreme);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

struct ConvShape {
  int64_t batch, group, cg, mg;
  std::vector<int64_t> in, kernel, stride, dilation, pads;
};

ConvShape RandomConvShape(Rng& r) {
  ConvShape s;
  s.batch = r.Int(1, 2);
  if (r.Coin(0.15)) {  // depthwise
    s.group = r.Int(1, 6), s.cg = 1, s.mg = 1;
  } else {
    s.group = r.Coin(0.7) ? 1 : r.Int(2, 3);
    s.cg = r.Coin(0.2) ? r.Int(1, 3) : r.Int(1, 20);
    s.mg = r.Int(1, 20);
  }
  const int rank = static_cast<int>(r.Int(1, 2));
  for (int d = 0; d < rank; ++d) {
    s.kernel.push_back(r.Coin(0.1) ? 7 : r.Int(1, 3));
    s.stride.push_back(r.Int(1, 3));
    s.dilation.push_back(r.Coin(0.8) ? 1 : 2);
    s.in.push_back((s.kernel.back() - 1) * s.dilation.back() + 1 + r.Int(0, rank == 1 ? 200 : 24));
  }
  for (int d = 0; d < 2 * rank; ++d) s.pads.push_back(r.Int(0, 3));
  return s;
}

// Paths CheckConv ran: row tiles of lanes-are-channels convs, judged over the
// whole map as one task (ConvQ8RowRuns): read in place, or copied; convs
// packed in pixel-rows order.
struct ConvPaths {
  int in_place = 0, copied = 0, pixel_rows = 0, pixel_rows_one_channel = 0, amx = 0;
};

// layout: the fast path reads x and/or writes y channels-last (transposed
// here from and back to the reference's NCHW).
template <class TX, class TY>
void CheckConv(Rng& r, Isa isa, const ConvShape& s, int trial, bool extreme, ConvPaths* paths = nullptr,
               std::optional<int32_t> x_zero_point = std::nullopt, ConvQ8Layout layout = {}) {
  ConvQ8Params p;
  p.batch = s.batch;
  p.group = s.group;
  p.in_channels = s.group * s.cg;
  p.out_channels = s.group * s.mg;
  p.geo.in = s.in;
  p.geo.kernel = s.kernel;
  p.geo.stride = s.stride;
  p.geo.dilation = s.dilation;
  ComputeWindow(p.geo, s.pads, "NOTSET", false);
  p.x_zero_point = static_cast<int32_t>(
      r.Coin(0.3) ? (r.Coin() ? std::numeric_limits<TX>::min() : std::numeric_limits<TX>::max())
                  : r.Int(std::numeric_limits<TX>::min(), std::numeric_limits<TX>::max()));
  if (x_zero_point) p.x_zero_point = *x_zero_point;
  p.y_zero_point = static_cast<int32_t>(r.Int(std::numeric_limits<TY>::min(), std::numeric_limits<TY>::max()));
  if (r.Coin()) p.multiplier.push_back(RandomMultiplier(r));
  else
    for (int64_t m = 0; m < p.out_channels; ++m) p.multiplier.push_back(RandomMultiplier(r));
  if (r.Coin(0.3)) p.y_min = p.y_zero_point;
  if (r.Coin(0.2)) p.y_max = static_cast<int32_t>(r.Int(p.y_zero_point, std::numeric_limits<TY>::max()));
  const int64_t k = s.cg * p.geo.kernel_size();
  std::vector<TX> x(p.batch * p.in_channels * p.geo.spatial_size_in());
  std::vector<int8_t> w(p.out_channels * k);
  std::vector<int32_t> bias(p.out_channels);
  for (auto& v : x)
    v = static_cast<TX>(extreme ? (r.Coin() ? std::numeric_limits<TX>::min() : std::numeric_limits<TX>::max())
                                : r.Int(std::numeric_limits<TX>::min(), std::numeric_limits<TX>::max()));
  for (auto& v : w) v = static_cast<int8_t>(extreme ? (r.Coin(0.8) ? -128 : 127) : r.Int(-128, 127));
  for (auto& v : bias) v = static_cast<int32_t>(r.Int(-100000, 100000));
  const bool with_bias = r.Coin(0.8);
  auto gx = Guarded(x);
  auto gw = Guarded(w);
  auto gbias = Guarded(bias);
  const int32_t* bp = with_bias ? gbias->data() : nullptr;
  ASSERT_TRUE(ConvQ8FastSupports(p, gw->data(), bp, std::is_same_v<TX, int8_t>));
  std::vector<TY> want(p.batch * p.out_channels * p.geo.spatial_size_out());
  ConvQ8Reference(p, gx->data(), gw->data(), bp, want.data());
  const ConvQ8Packed pk = PackConvQ8(p, gw->data(), bp, isa);
  if (paths && pk.pixel_rows) ++paths->pixel_rows;
  if (paths && pk.isa == Isa::kAmx) ++paths->amx;
  if (paths && pk.pixel_rows && pk.cg == 1) ++paths->pixel_rows_one_channel;
  if (paths && pk.lanes_channels) {
    std::vector<std::pair<int64_t, int>> runs;
    const int64_t out_sz = p.geo.spatial_size_out();
    ++(ConvQ8RowRuns(0, out_sz, p.geo.out.back(), pk.mr, runs) ? paths->in_place : paths->copied);
  }
  GuardedBuffer<TY> got(want.size());
  const int64_t tasks = ConvQ8FastTaskCount(pk, p);
  const int64_t split = r.Int(0, tasks);
  auto gx_fast = layout.x_channels_last ? Guarded(ToChannelsLast(x.data(), x.size(), p.in_channels, p.geo.spatial_size_in())) : nullptr;
  const TX* x_fast = gx_fast ? gx_fast->data() : gx->data();
  ConvQ8FastRun(pk, p, x_fast, got.data(), 0, split, 0, layout);
  ConvQ8FastRun(pk, p, x_fast, got.data(), split, tasks, 0, layout);
  const std::vector<TY> y = layout.y_channels_last
                                ? FromChannelsLast(got.data(), want.size(), p.out_channels, p.geo.spatial_size_out())
                                : std::vector<TY>(got.data(), got.data() + want.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(int{y[i]}, int{want[i]}) << Label(isa) << " trial " << trial << " batch=" << s.batch
                                         << " group=" << s.group << " cg=" << s.cg << " mg=" << s.mg
                                         << " rank=" << s.in.size() << " in0=" << s.in[0] << " k0=" << s.kernel[0]
                                         << " s0=" << s.stride[0] << " zx=" << p.x_zero_point << " at " << i;
}

TEST(QuantX86Kernels, ConvMatchesReference) {
  for (Isa isa : SupportedIsas()) {
    Rng r(23 + static_cast<int>(isa));
    for (int trial = 0; trial < 30; ++trial) {
      const ConvShape s = RandomConvShape(r);
      const bool extreme = trial % 5 == 4;
      CheckConv<uint8_t, uint8_t>(r, isa, s, trial, extreme);
      CheckConv<uint8_t, int8_t>(r, isa, s, trial, extreme);
      CheckConv<int8_t, uint8_t>(r, isa, s, trial, extreme);
      CheckConv<int8_t, int8_t>(r, isa, s, trial, extreme);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// Shapes of real networks: deep K (one position panel per task), 1x1 stride 2,
// 7x7 stride 2 on 3 channels, many output channels (several channel blocks).
TEST(QuantX86Kernels, ConvNetworkShapesMatchReference) {
  const std::vector<ConvShape> shapes = {
      {1, 1, 3, 16, {23, 29}, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}},
      {1, 1, 40, 20, {14, 14}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}},
      {1, 1, 512, 12, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {1, 1, 16, 300, {9, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {2, 1, 24, 40, {17, 31}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}},
  };
  for (Isa isa : SupportedIsas()) {
    Rng r(5);
    for (size_t i = 0; i < shapes.size(); ++i) {
      CheckConv<uint8_t, uint8_t>(r, isa, shapes[i], static_cast<int>(i), false);
      CheckConv<int8_t, int8_t>(r, isa, shapes[i], static_cast<int>(i), i % 2 == 0);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// The tap-buffer paths (channel quads: cg >= 3) on many random shapes with
// tails everywhere: 1x1 stride 1 unpadded (the buffer is the panel), 1x1
// stride 2 (one phase of four), 3x3 / 7x7 stride 1 and 2 (column and row
// phases), dilation, asymmetric padding, channel counts that are not
// multiples of 4, small maps (one position block, split channels) and large
// ones (several position blocks), several channel blocks, batch and groups.
ConvShape RandomQuadShape(Rng& r) {
  ConvShape s;
  s.batch = r.Int(1, 2);
  s.group = r.Coin(0.8) ? 1 : r.Int(2, 3);
  s.cg = r.Coin(0.5) ? 4 * r.Int(1, 24) : r.Int(3, 70);
  s.mg = r.Coin(0.3) ? r.Int(40, 300) : r.Int(1, 40);
  const int rank = r.Coin(0.85) ? 2 : 1;
  const int kind = static_cast<int>(r.Int(0, 5));
  for (int d = 0; d < rank; ++d) {
    int64_t k = 1, st = 1, dil = 1;
    switch (kind) {
      case 0: k = 1, st = 1; break;
      case 1: k = 1, st = 2; break;
      case 2: k = 3, st = 1; break;
      case 3: k = 3, st = 2; break;
      case 4: k = r.Coin() ? 7 : 5, st = r.Int(1, 2); break;
      default: k = r.Int(1, 4), st = r.Int(1, 3), dil = r.Int(1, 2); break;
    }
    s.kernel.push_back(k);
    s.stride.push_back(st);
    s.dilation.push_back(dil);
    const int64_t span = (k - 1) * dil + 1;
    s.in.push_back(span + (r.Coin(0.3) ? r.Int(0, 6) : r.Int(0, rank == 1 ? 300 : 60)));
  }
  const bool pad = !(kind == 0 || kind == 1) || r.Coin(0.2);
  for (int d = 0; d < 2 * rank; ++d) s.pads.push_back(pad ? r.Int(0, s.kernel[d % rank] / 2 + (r.Coin(0.2) ? 1 : 0)) : 0);
  return s;
}

// Under the sanitizers (10x slower) the random sweeps run a quarter of their trials.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSweepDivisor = 4;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int kSweepDivisor = 4;
#else
constexpr int kSweepDivisor = 1;
#endif
#else
constexpr int kSweepDivisor = 1;
#endif

// One of the four input/output type pairs, in turn by trial.
void CheckConvTypePair(Rng& r, Isa isa, const ConvShape& s, int trial, bool extreme, ConvPaths* paths = nullptr,
                       ConvQ8Layout layout = {}) {
  switch (trial % 4) {
    case 0: CheckConv<uint8_t, uint8_t>(r, isa, s, trial, extreme, paths, std::nullopt, layout); break;
    case 1: CheckConv<uint8_t, int8_t>(r, isa, s, trial, extreme, paths, std::nullopt, layout); break;
    case 2: CheckConv<int8_t, uint8_t>(r, isa, s, trial, extreme, paths, std::nullopt, layout); break;
    default: CheckConv<int8_t, int8_t>(r, isa, s, trial, extreme, paths, std::nullopt, layout); break;
  }
}

TEST(QuantX86Kernels, ConvTapBufferPathsMatchReference) {
  for (Isa isa : SupportedIsas()) {
    Rng r(71 + static_cast<int>(isa));
    // The best level gets the most trials; the others share the packing code.
    const int trials = (isa == BestIsa() ? 40 : 12) / kSweepDivisor;
    for (int trial = 0; trial < trials; ++trial) {
      const ConvShape s = RandomQuadShape(r);
      const bool extreme = trial % 7 == 6;
      CheckConvTypePair(r, isa, s, trial, extreme);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// The AMX tile kernel (conv_q8_amx.h) on the convs the amx level gives it
// (channel quads, at least 64 channels per group, stride width at most 2,
// depth at least 192 or at least 256 output channels): tap counts 1 to 25,
// strides, dilation, padding, channel counts that leave the last block of
// 64 partly padding (67: a block of 64 and one of 3) or that are no multiple
// of 4, channel tiles of 1 to 32 rows (the last one partial), maps whose passes span several output rows (7x7,
// narrow ones) or one row in pieces (wide ones), a position block per task
// or several, groups and batch; bit-exact with the reference, every output
// type pair, extreme codes, and both requantization forms (shift 33..45 with
// narrow bounds, and the general one).
ConvShape RandomAmxShape(Rng& r, int trial) {
  ConvShape s = RandomQuadShape(r);
  // Maps up to 24 past the kernel's span (a 2-D map up to ~30x30): the
  // reference's time grows with channels x area, and rows of 7 to 30
  // already cover passes over several rows and rows in two passes.
  for (size_t d = 0; d < s.in.size(); ++d)
    s.in[d] = std::min<int64_t>(s.in[d], (s.kernel[d] - 1) * s.dilation[d] + 1 + (s.in.size() == 1 ? 90 : 24));
  s.cg = r.Coin(0.4) ? 64 * r.Int(1, 3) : r.Int(64, 200);
  if (s.cg * std::accumulate(s.kernel.begin(), s.kernel.end(), int64_t{1}, std::multiplies<>()) < 192)
    s.cg = 192;
  s.mg = r.Coin(0.3) ? r.Int(1, 32) : r.Int(33, 100);
  if (s.group > 1) s.mg = std::min<int64_t>(s.mg, 40);
  if (trial % 8 == 3) {  // shallower, with enough output channels (kAmxMinShallowOutputs)
    s.cg = r.Int(64, 191);
    s.mg = r.Int(128, 300);
    s.group = 1;
  }
  s.stride.back() = std::min<int64_t>(s.stride.back(), 2);  // wider strides stay on zmm
  return s;
}

// `trials` random AMX shapes, each bit-exact with the reference; with
// channels_last, one group and channels-last input, output or both in turn.
void SweepAmxShapes(uint32_t seed, int trials, bool channels_last) {
  Rng r(seed);
  ConvPaths paths;
  for (int trial = 0; trial < trials; ++trial) {
    ConvShape s = RandomAmxShape(r, trial);
    ConvQ8Layout layout;
    if (channels_last) {
      s.group = 1;
      layout.x_channels_last = trial % 3 != 1;
      layout.y_channels_last = trial % 3 != 0;
    }
    CheckConvTypePair(r, Isa::kAmx, s, trial, trial % 7 == 6, &paths, layout);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(paths.amx, trials) << "some shape did not take the AMX path";
}

TEST(QuantX86Kernels, ConvAmxMatchesReference) {
  if (!IsaSupported(Isa::kAmx)) GTEST_SKIP() << "this CPU (or OS) runs no AMX-INT8";
  SweepAmxShapes(97, 32 / kSweepDivisor, false);
}

// Channels-last input, output or both (ConvQ8Layout) on the same AMX shapes
// with one group: the cells staged from pixels (masked loads of a pixel's
// channels, the last block partly padding when the channels are no multiple
// of 64, padding columns and rows, stride 2's column phases) and the cells
// stored untransposed (channel tiles of 1 to 32) match the reference.
TEST(QuantX86Kernels, ConvAmxChannelsLastMatchesReference) {
  if (!IsaSupported(Isa::kAmx)) GTEST_SKIP() << "this CPU (or OS) runs no AMX-INT8";
  SweepAmxShapes(151, 36 / kSweepDivisor, true);
}

// Lanes-are-channels convs (ConvQ8Packed::lanes_channels) of one group with
// channels-last input, output or both, at every level that runs them (not
// the wide AVX2 one): positions read as pixels in place (no padding read,
// whole channel quads) or from staged rows (padding columns and rows,
// channels no multiple of 4 or of 64), at strides and dilations, 1-D convs,
// row tiles read in place or copied (narrow maps), tiles stored as pixels
// (packed rows at the zmm level), all match the reference, every type pair,
// extreme codes.
TEST(QuantX86Kernels, ConvLanesChannelsChannelsLastMatchesReference) {
  int levels = 0;
  for (Isa isa : SupportedIsas()) {
    if (isa == Isa::kAmx || q8::KernelsFor(isa).wide) continue;
    ++levels;
    Rng r(211 + static_cast<int>(isa));
    const int trials = (isa == BestIsa() || isa == Isa::kAvx512Vnni ? 48 : 16) / kSweepDivisor;
    ConvPaths paths;
    const int64_t in_place_before = ConvQ8PixelsReadInPlace();
    for (int trial = 0; trial < trials; ++trial) {
      ConvShape s = RandomQuadShape(r);
      s.group = 1;
      if (trial % 12 == 0 || trial % 12 == 8 || trial % 12 == 9) {
        // uint8 input, channels-last (CheckConvTypePair, the layouts below):
        // without padding and with whole channel quads, read in place.
        s.pads.assign(s.pads.size(), 0);
        s.cg = (s.cg + 3) / 4 * 4;
      }
      const int64_t taps = std::accumulate(s.kernel.begin(), s.kernel.end(), int64_t{1}, std::multiplies<>());
      if (taps == 1) {
        // 1x1: lanes-are-channels from 16 channels on maps of up to 64 positions.
        s.cg = std::max<int64_t>(s.cg, 16);
        for (int64_t& d : s.in) d = std::min<int64_t>(d, s.in.size() == 1 ? 60 : 6);  // padding adds up to 2
      } else {
        s.cg = std::max<int64_t>(s.cg, 8);
      }
      ConvQ8Layout layout;
      layout.x_channels_last = trial % 3 != 1;
      layout.y_channels_last = trial % 3 != 0;
      CheckConvTypePair(r, isa, s, trial, trial % 7 == 6, &paths, layout);
      if (::testing::Test::HasFatalFailure()) return;
    }
    EXPECT_EQ(paths.in_place + paths.copied, trials) << Label(isa) << ": some shape was not lanes-are-channels";
    EXPECT_GT(paths.copied, 0) << Label(isa);
    EXPECT_GT(paths.in_place, 0) << Label(isa);
    EXPECT_GT(ConvQ8PixelsReadInPlace(), in_place_before) << Label(isa) << ": no task read its pixels in place";
  }
  EXPECT_GT(levels, 0);
}

// Channels-last is refused where the kernel cannot do it (the wide AVX2
// level, the lanes-are-positions mode, groups).
TEST(QuantX86Kernels, ConvChannelsLastRefusedOffTheAmxPath) {
  ConvQ8Params p;
  p.batch = 1, p.group = 1, p.in_channels = 8, p.out_channels = 8;
  p.geo.in = {6, 6}, p.geo.kernel = {3, 3}, p.geo.stride = {1, 1}, p.geo.dilation = {1, 1};
  ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
  p.multiplier.push_back(FixedPointMultiplier{1 << 30, 10});
  const std::vector<int8_t> w(8 * 8 * 9, 1);
  const ConvQ8Packed pk = PackConvQ8(p, w.data(), nullptr, Isa::kAvx2);
  EXPECT_FALSE(ConvQ8FastChannelsLast(pk));
  std::vector<uint8_t> x(8 * 36), y(8 * 36);
  ConvQ8Layout layout;
  layout.y_channels_last = true;
  EXPECT_THROW(ConvQ8FastRun(pk, p, x.data(), y.data(), 0, ConvQ8FastTaskCount(pk, p), 0, layout), Error);
  if (IsaSupported(Isa::kAvx512Vnni)) {
    // The same conv on zmm runs lanes-are-channels: channels-last with one
    // group, not with two.
    const ConvQ8Packed zmm = PackConvQ8(p, w.data(), nullptr, Isa::kAvx512Vnni);
    ASSERT_TRUE(zmm.lanes_channels);
    EXPECT_TRUE(ConvQ8FastChannelsLast(zmm));
    ConvQ8Params g2 = p;
    g2.group = 2;
    const ConvQ8Packed grouped = PackConvQ8(g2, w.data(), nullptr, Isa::kAvx512Vnni);
    ASSERT_TRUE(grouped.lanes_channels);
    EXPECT_FALSE(ConvQ8FastChannelsLast(grouped));
    EXPECT_THROW(ConvQ8FastRun(grouped, g2, x.data(), y.data(), 0, ConvQ8FastTaskCount(grouped, g2), 0, layout),
                 Error);
    // A shallow 1x1 stride-1 conv on a 30x30 map runs lanes-are-positions.
    ConvQ8Params shallow = p;
    shallow.geo.in = {30, 30}, shallow.geo.kernel = {1, 1};
    ComputeWindow(shallow.geo, {0, 0, 0, 0}, "NOTSET", false);
    const std::vector<int8_t> w1(8 * 8, 1);
    const ConvQ8Packed positions = PackConvQ8(shallow, w1.data(), nullptr, Isa::kAvx512Vnni);
    EXPECT_FALSE(positions.lanes_channels);
    EXPECT_FALSE(ConvQ8FastChannelsLast(positions));
  }
  if (!IsaSupported(Isa::kAmx)) return;
  // Two groups of 64 channels: AMX tiles, but a pixel's channels would span both groups.
  p.group = 2, p.in_channels = 128, p.out_channels = 64;
  const std::vector<int8_t> wg(64 * 64 * 9, 1);
  const ConvQ8Packed grouped = PackConvQ8(p, wg.data(), nullptr, Isa::kAmx);
  ASSERT_EQ(grouped.isa, Isa::kAmx);
  EXPECT_FALSE(ConvQ8FastChannelsLast(grouped));
  x.assign(128 * 36, 0), y.assign(64 * 36, 0);
  EXPECT_THROW(ConvQ8FastRun(grouped, p, x.data(), y.data(), 0, ConvQ8FastTaskCount(grouped, p), 0, layout), Error);
}

// Shape s on the AMX level, one input/output type pair (CheckConvTypePair),
// which must take the AMX path; `trial` names the shape in failures.
void CheckAmxConv(Rng& r, const ConvShape& s, int trial) {
  ConvPaths paths;
  CheckConvTypePair(r, Isa::kAmx, s, trial, false, &paths);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_EQ(paths.amx, 1) << "shape " << trial << " did not take the AMX path";
}

// Wide rows on the AMX path (the random shapes above have rows of at most
// ~30 cells): with rows of 100+ cells a pass's lower taps read lanes a row or
// two of dilation past its own, and 1xK kernels reach only K - 1 lanes.
TEST(QuantX86Kernels, ConvAmxWideRowsMatchReference) {
  if (!IsaSupported(Isa::kAmx)) GTEST_SKIP() << "this CPU (or OS) runs no AMX-INT8";
  const std::vector<ConvShape> shapes = {
      {1, 1, 64, 48, {5, 130}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {1, 1, 64, 40, {7, 111}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}},
      {1, 1, 150, 33, {4, 97}, {3, 3}, {1, 1}, {1, 1}, {0, 1, 2, 1}},
      {1, 1, 64, 40, {3, 160}, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}},
      // 1x3: a reach of two lanes, so a pass's own 32 rows bound what it reads.
      {1, 1, 64, 32, {3, 150}, {1, 3}, {1, 1}, {1, 1}, {0, 1, 0, 1}},
      {1, 1, 192, 20, {2, 77}, {1, 2}, {1, 1}, {1, 1}, {0, 0, 0, 0}},
  };
  Rng r(131);
  // One input/output type pair per shape, in turn (the scalar reference is the time here).
  for (size_t i = 0; i < shapes.size(); ++i) {
    CheckAmxConv(r, shapes[i], static_cast<int>(i));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// The packing of shape s (one group, unit weights) and its params, for
// looking at the task plan (ConvQ8FastTaskCount, ConvQ8FastBlockPositions).
ConvQ8Packed PackedForPlan(const ConvShape& s, Isa isa, ConvQ8Params& p) {
  p.batch = s.batch, p.group = 1, p.in_channels = s.cg, p.out_channels = s.mg;
  p.geo.in = s.in, p.geo.kernel = s.kernel, p.geo.stride = s.stride, p.geo.dilation = s.dilation;
  ComputeWindow(p.geo, s.pads, "NOTSET", false);
  p.multiplier = {QuantizeMultiplier(1e-3)};
  const std::vector<int8_t> w(s.cg * s.mg * p.geo.kernel_size(), 1);
  return PackConvQ8(p, w.data(), nullptr, isa);
}

// MobileNetV2's AMX 1x1 convs on small maps, split for two threads: bit-exact
// at every task boundary, position blocks of whole 16-cell row tiles that
// differ by at most one row tile (a pass costs by its row tiles), and an even
// task count where the channel tiles allow one.
TEST(QuantX86Kernels, ConvAmx1x1SmallMapsSplitEvenly) {
  if (!IsaSupported(Isa::kAmx)) GTEST_SKIP() << "this CPU (or OS) runs no AMX-INT8";
  struct Case {
    int64_t cg, mg, hw;
  };
  // 576->96@14, 384->64@14, 192->64@14 (projections), 960->320@7 and 576->160@7.
  const Case cases[] = {{576, 96, 14}, {384, 64, 14}, {192, 64, 14}, {960, 320, 7}, {576, 160, 7}};
  Rng r(211);
  for (const Case& c : cases) {
    const ConvShape s{1, 1, c.cg, c.mg, {c.hw, c.hw}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}};
    CheckAmxConv(r, s, static_cast<int>(c.cg));
    if (::testing::Test::HasFatalFailure()) return;

    ConvQ8Params p;
    const ConvQ8Packed pk = PackedForPlan(s, Isa::kAmx, p);
    const int64_t n = c.hw * c.hw, per = ConvQ8FastBlockPositions(pk, p), tasks = ConvQ8FastTaskCount(pk, p);
    EXPECT_EQ(per % 16, 0) << c.cg << "->" << c.mg;
    const int64_t blocks = (n + per - 1) / per, m_tiles = (c.mg + 31) / 32;
    if (blocks >= 2) {
      const int64_t first = per / 16, last = (n - (blocks - 1) * per + 15) / 16;
      EXPECT_LE(first - last, 1) << c.cg << "->" << c.mg << ": blocks of " << per << " positions";
    }
    // An even count exists unless the map is one block of an odd number of channel tiles.
    if (blocks >= 2 || m_tiles % 2 == 0) {
      EXPECT_EQ(tasks % 2, 0) << c.cg << "->" << c.mg << ": " << tasks << " tasks";
    }
  }
}

// AMX convs with a kernel height above 1 split a map into blocks of whole
// output rows, as equal as the rows allow (ResNet-18's 28x28 and 56x56
// layers, a strided one, odd sizes), bit-exact at a random task boundary.
TEST(QuantX86Kernels, ConvAmxHaloBlocksAreWholeRows) {
  if (!IsaSupported(Isa::kAmx)) GTEST_SKIP() << "this CPU (or OS) runs no AMX-INT8";
  const std::vector<ConvShape> shapes = {
      {1, 1, 128, 128, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {1, 1, 64, 128, {56, 56}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}},
      {1, 1, 64, 64, {56, 56}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {1, 1, 64, 40, {33, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {2, 1, 96, 64, {41, 19}, {5, 3}, {1, 2}, {1, 1}, {2, 1, 2, 1}},
      // One output row, wider than a block: still split within the row.
      {1, 1, 64, 32, {3, 1100}, {3, 3}, {1, 1}, {1, 1}, {0, 1, 0, 1}},
  };
  Rng r(223);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const ConvShape& s = shapes[i];
    CheckAmxConv(r, s, static_cast<int>(i));
    if (::testing::Test::HasFatalFailure()) return;
    ConvQ8Params p;
    const ConvQ8Packed pk = PackedForPlan(s, Isa::kAmx, p);
    const int64_t per = ConvQ8FastBlockPositions(pk, p), ow = p.geo.out[1];
    const int64_t n = p.geo.spatial_size_out(), oh = p.geo.out[0];
    if (oh == 1) {
      EXPECT_LT(per, n) << "shape " << i << ": a one-row map in one block";
      continue;
    }
    if (per >= n) continue;
    EXPECT_EQ(per % ow, 0) << "shape " << i << ": blocks of " << per << " positions, rows of " << ow;
    // ResNet-18's maps (28 and 56 rows) split into equal blocks.
    const int64_t blocks = (n + per - 1) / per, rows = per / ow, last_rows = oh - (blocks - 1) * rows;
    if (i < 3) {
      EXPECT_EQ(last_rows, rows) << "shape " << i << ": " << blocks << " blocks of " << rows << " rows, the last "
                                 << last_rows;
    }
  }
}

// The row tiles of lanes-are-channels mode read in place: balanced runs within
// output rows, refused when some run is shorter than 3/4 of mr and the runs
// take more tiles than plain runs of mr would.
TEST(QuantX86Kernels, ConvRowRunsSplitOutputRowsEvenly) {
  std::vector<std::pair<int64_t, int>> runs;
  ASSERT_TRUE(ConvQ8RowRuns(0, 49, 7, 8, runs));  // 7x7: 7 tiles of 7, not 6 of 8 and 1 of 1
  ASSERT_EQ(runs.size(), 7u);
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i], std::make_pair(int64_t(7 * i), 7));
  ASSERT_TRUE(ConvQ8RowRuns(0, 60, 30, 8, runs));  // rows of 30: 8 + 8 + 7 + 7, twice
  const std::vector<std::pair<int64_t, int>> want30 = {{0, 8},  {8, 8},  {16, 7}, {23, 7},
                                                       {30, 8}, {38, 8}, {46, 7}, {53, 7}};
  EXPECT_EQ(runs, want30);
  ASSERT_TRUE(ConvQ8RowRuns(3, 10, 7, 8, runs));  // a task starting mid-row: 4 + 6
  const std::vector<std::pair<int64_t, int>> want_mid = {{3, 4}, {7, 6}};
  EXPECT_EQ(runs, want_mid);
  EXPECT_FALSE(ConvQ8RowRuns(0, 4, 1, 8, runs));   // a 4x1 map: 4 tiles of 1 against 1 of 4
  EXPECT_TRUE(ConvQ8RowRuns(0, 56, 14, 8, runs));   // rows of 14 in 7 + 7: 8 tiles against 7, all nearly full
  EXPECT_EQ(runs.size(), 8u);
  EXPECT_FALSE(ConvQ8RowRuns(0, 50, 10, 8, runs));  // rows of 10 in 5 + 5: 10 tiles against 7
  EXPECT_TRUE(ConvQ8RowRuns(0, 40, 6, 4, runs));    // mr 4 (scalar): 3 + 3 is 3/4 full
  EXPECT_FALSE(ConvQ8RowRuns(0, 40, 5, 4, runs));   // 3 + 2 is not
}

// The transposed store of lanes-are-channels tiles writes exactly the
// rows x lanes bytes it is asked for (the bytes around them belong to other
// tasks), at every run length and output stride, in both versions.
TEST(QuantX86Kernels, StoreTransposedWritesExactlyItsBytes) {
  const bool zmm = q8::KernelsFor(BestIsa()).isa == Isa::kAvx512Vnni;
  Rng r(77);
  std::vector<uint8_t> tile(8 * 48 + 16);
  for (auto& v : tile) v = static_cast<uint8_t>(r.Int(0, 255));
  for (int version = 0; version < (zmm ? 2 : 1); ++version)
    for (int rows = 1; rows <= 8; ++rows)
      for (int lanes : {1, 2, 15, 16, 17, 31, 47, 48})
        for (int64_t stride : {int64_t{rows}, int64_t{9}, int64_t{49}, int64_t{196}}) {
          if (stride < rows) continue;
          const int64_t pad = 64, size = pad + (lanes - 1) * stride + rows + pad;
          GuardedBuffer<uint8_t> out(size);
          std::fill(out.data(), out.data() + size, uint8_t{0xA5});
          auto fn = version == 0 ? q8::StoreTransposedPortable : q8::StoreTransposedAvx512;
          fn(tile.data(), 48, rows, lanes, out.data() + pad, stride);
          for (int64_t i = 0; i < size; ++i) {
            const int64_t o = i - pad, j = o >= 0 ? o / stride : -1, rr = o >= 0 ? o % stride : -1;
            const bool written = o >= 0 && j < lanes && rr < rows;
            const int want = written ? tile[rr * 48 + j] : 0xA5;
            ASSERT_EQ(int{out[i]}, want) << "version " << version << " rows " << rows << " lanes " << lanes
                                          << " stride " << stride << " at " << o;
          }
        }
}

// The pixel-rows panel against its definition (conv_q8_pack_kernels.h): row
// widths that do and do not divide into 4-byte steps (steps straddling two
// kernel rows), odd and even pitches, 1 to 48 lanes, the source ending where
// the contract says it may (4 bytes before a row, 128 past its last lane) and
// the panel where its last lane ends, both against guard pages; the bytes
// past the lanes of each step stay untouched.
TEST(QuantX86Kernels, PixelPanelMatchesItsDefinition) {
  const bool zmm = q8::KernelsFor(BestIsa()).isa == Isa::kAvx512Vnni;
  std::vector<void (*)(const q8::PixelPanelArgs&)> versions = {q8::PixelPanelPortable};
  if (IsaSupported(Isa::kAvx2)) versions.push_back(q8::PixelPanelAvx2);
  if (zmm) versions.push_back(q8::PixelPanelAvx512);
  Rng r(313);
  int straddling = 0, vector_calls = 0;
  for (int trial = 0; trial < 600 / kSweepDivisor; ++trial) {
    q8::PixelPanelArgs a;
    a.pitch = r.Int(1, 9);
    a.rows = r.Int(1, 7);
    a.row_bytes = r.Coin(0.3) ? 4 * r.Int(1, 3) : r.Int(3, 40);
    a.steps = (a.rows * a.row_bytes + 3) / 4;
    a.lanes = static_cast<int>(r.Int(1, 48));
    a.row_stride = (a.lanes - 1) * a.pitch + a.row_bytes + r.Int(132, 200);
    a.dst_stride = 4 * 48;
    const int64_t src_size = 4 + (a.rows - 1) * a.row_stride + (a.lanes - 1) * a.pitch + 128;
    std::vector<uint8_t> src(src_size);
    for (auto& v : src) v = static_cast<uint8_t>(r.Int(0, 255));
    auto gsrc = Guarded(src);
    a.src = gsrc->data() + 4;
    const int64_t dst_size = (a.steps - 1) * a.dst_stride + 4 * a.lanes;
    std::vector<uint8_t> want(dst_size, 0xA5);
    for (int64_t l = 0; l < 4 * a.steps; ++l) {
      const int64_t ky = std::min(l / a.row_bytes, a.rows - 1), b = l - ky * a.row_bytes;
      for (int i = 0; i < a.lanes; ++i)
        want[(l / 4) * a.dst_stride + 4 * i + l % 4] = src[4 + ky * a.row_stride + i * a.pitch + b];
    }
    if (a.row_bytes % 4 != 0 && a.rows > 1) ++straddling;
    if (15 * a.pitch + a.row_bytes <= 118) ++vector_calls;
    for (size_t version = 0; version < versions.size(); ++version) {
      GuardedBuffer<uint8_t> dst(dst_size);
      std::fill(dst.data(), dst.data() + dst_size, uint8_t{0xA5});
      a.dst = dst.data();
      versions[version](a);
      for (int64_t i = 0; i < dst_size; ++i)
        ASSERT_EQ(int{dst[i]}, int{want[i]}) << "version " << version << " trial " << trial << " pitch " << a.pitch
                                             << " rows " << a.rows << " row_bytes " << a.row_bytes << " lanes "
                                             << a.lanes << " at step " << i / a.dst_stride << " byte "
                                             << i % a.dst_stride;
    }
  }
  EXPECT_GT(straddling, 200 / kSweepDivisor);
  EXPECT_GT(vector_calls, 300 / kSweepDivisor);
}

// Three channels' rows as 3-byte pixels (the pixel-rows gather of 3-channel
// convs) against its definition: left padding (negative start), rows shorter
// than the run (right padding), a row outside the map (valid 0), int8's
// flip, 1 to 300 pixels; each row ends at a guard page, so reading a byte
// past `valid` faults.
TEST(QuantX86Kernels, PixelRow3MatchesItsDefinition) {
  const bool zmm = q8::KernelsFor(BestIsa()).isa == Isa::kAvx512Vnni;
  std::vector<void (*)(const q8::TapRowArgs&)> versions = {q8::PixelRow3Portable};
  if (IsaSupported(Isa::kAvx2)) versions.push_back(q8::PixelRow3Avx2);
  if (zmm) versions.push_back(q8::PixelRow3Avx512);
  Rng r(317);
  for (int trial = 0; trial < 300 / kSweepDivisor; ++trial) {
    q8::TapRowArgs a;
    a.n = r.Int(1, 300);
    a.start = r.Coin(0.5) ? -r.Int(0, 5) : r.Int(0, 20);
    a.step = 1;
    a.fill = static_cast<uint8_t>(r.Int(0, 255));
    a.flip = r.Coin() ? 0x80 : 0;
    std::vector<std::unique_ptr<GuardedBuffer<uint8_t>>> rows;
    for (int t = 0; t < 3; ++t) {
      a.valid[t] = r.Coin(0.1) ? 0 : std::max<int64_t>(1, a.start + a.n - r.Int(0, 8));
      std::vector<uint8_t> v(std::max<int64_t>(1, a.valid[t]));
      for (auto& b : v) b = static_cast<uint8_t>(r.Int(0, 255));
      rows.push_back(Guarded(v));
      a.row[t] = rows.back()->data();
    }
    a.row[3] = nullptr;
    a.valid[3] = 0;
    std::vector<uint8_t> want(3 * a.n);
    for (int64_t j = 0; j < a.n; ++j)
      for (int t = 0; t < 3; ++t) {
        const int64_t i = a.start + j;
        want[3 * j + t] = static_cast<uint8_t>((i >= 0 && i < a.valid[t] ? a.row[t][i] : a.fill) ^ a.flip);
      }
    for (size_t version = 0; version < versions.size(); ++version) {
      std::vector<uint8_t> out(3 * a.n + 192, 0xA5);
      a.out = out.data();
      versions[version](a);
      for (int64_t i = 0; i < 3 * a.n; ++i)
        ASSERT_EQ(int{out[i]}, int{want[i]}) << "version " << version << " trial " << trial << " n " << a.n
                                             << " start " << a.start << " at pixel " << i / 3 << " channel " << i % 3;
    }
  }
}

// Lanes-are-channels mode (small output maps, deep K: positions as rows,
// channels as lanes, transposed store): channel counts around the tile and
// vector edges, position counts around the row tile, 1x1 and 3x3, stride 2,
// dilation 2 along the height, padding with code 0 (edge columns skipped as
// well as the kernel rows, which any padding code skips),
// batch and groups (several channel blocks and position blocks); output rows
// from 1 to 40 wide, so the row tiles are read in place from the tap buffer
// (ConvQ8RowRuns) in some shapes and copied in others.
TEST(QuantX86Kernels, ConvLanesChannelsMatchesReference) {
  ConvPaths paths;
  const int64_t reuses0 = ConvQ8TapBufferReuses(), skipped0 = ConvQ8KernelRowsSkipped(), edges0 = ConvQ8EdgeTiles();
  const int64_t skipped_nonzero0 = ConvQ8KernelRowsSkippedNonzeroPad();
  // The scalar level runs fewer trials where a u8 vector level runs this mode
  // too (AVX2's int16 operands do not: there, scalar is the only one, and its
  // 4-row tiles fit most rows in place).
  const bool u8_vector_level = IsaSupported(Isa::kAvxVnni) || IsaSupported(Isa::kAvx512Vnni);
  for (Isa isa : SupportedIsas()) {
    Rng r(131 + static_cast<int>(isa));
    const int trials = isa == Isa::kScalar && u8_vector_level ? 8 : 24;
    for (int trial = 0; trial < trials; ++trial) {
      ConvShape s;
      s.batch = r.Int(1, 2);
      s.group = r.Coin(0.8) ? 1 : 2;
      const bool one = r.Coin(0.4);
      s.cg = one ? r.Int(256, 400) : r.Int(29, 80);
      s.mg = r.Coin(0.5) ? r.Int(1, 70) : r.Int(90, 200);
      const int64_t st = r.Coin(0.3) ? 2 : 1, k = one ? 1 : 3;
      // Dilation 2 along the height in some of the plain shapes (the kernel
      // rows a row tile skips depend on it).
      const int64_t dh = k == 3 && trial % 3 != 2 && trial % 4 != 3 && r.Coin(0.3) ? 2 : 1;
      const int64_t side = (k - 1) * dh + 1 + r.Int(0, 8) * st;
      s.in = {side, r.Int(k, 8)};
      if (trial % 3 == 2) s.in = {k + r.Int(0, 1) * st, k - 1 + r.Int(9, 40) * st};  // 1 or 2 wide rows
      if (trial % 4 == 3) s.in = {k - 1 + r.Int(9, 16) * st, k - 1 + r.Int(9, 16) * st};  // up to 16x16: blocks of rows

      s.kernel = {k, k};
      s.stride = {st, st};
      s.dilation = {dh, 1};
      s.pads = one ? std::vector<int64_t>{0, 0, 0, 0} : std::vector<int64_t>{1, r.Int(0, 1), r.Int(0, 1), 1};
      if (dh == 2) s.pads[0] = r.Int(1, 3), s.pads[2] = r.Int(0, 3);
      const bool extreme = trial % 5 == 4;
      // Every third trial pads with code 0 (uint8 zero point 0, int8 -128),
      // where row tiles of 7 or 8 also skip the edge columns in the padding.
      const bool zero_pad = trial % 3 == 1;
      if (trial % 2 == 0)
        CheckConv<uint8_t, uint8_t>(r, isa, s, trial, extreme, &paths,
                                    zero_pad ? std::optional<int32_t>(0) : std::nullopt);
      else
        CheckConv<int8_t, int8_t>(r, isa, s, trial, extreme, &paths,
                                  zero_pad ? std::optional<int32_t>(-128) : std::nullopt);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  EXPECT_GT(paths.in_place, u8_vector_level ? 10 : 5);
  EXPECT_GT(paths.copied, u8_vector_level ? 10 : 0);
  // Split channel blocks of one position block run in one call: the later
  // tasks take the first one's tap buffer.
  EXPECT_GT(ConvQ8TapBufferReuses() - reuses0, 10);
  EXPECT_GT(ConvQ8KernelRowsSkipped() - skipped0, 50);
  // Padding with another code (the other trials' random zero points): rows
  // skipped, their share of the bias added back.
  EXPECT_GT(ConvQ8KernelRowsSkippedNonzeroPad() - skipped_nonzero0, 50);
  // Edge columns are skipped in row tiles of 7 or 8 positions: the zmm
  // level's (the other levels' tiles hold at most 6 rows).
  if (IsaSupported(Isa::kAvx512Vnni)) EXPECT_GT(ConvQ8EdgeTiles() - edges0, 50);
  else EXPECT_EQ(ConvQ8EdgeTiles() - edges0, 0);
}

// Pixel-rows order (3 channels per group, the kernel rows' 3-byte pixels
// back to back, steps straddling kernel rows; or one channel and kernel rows
// up to 4 wide): kernel widths 2-11, strides 1-3 (pitches 1-9: the word-permute
// panel, with a second window for odd pitches, up to 15 pitch + row bytes =
// 118, the portable one past it), dilation along the height, asymmetric
// padding, 1-D, groups, batch.
TEST(QuantX86Kernels, ConvPixelRowsMatchesReference) {
  ConvPaths paths;
  for (Isa isa : SupportedIsas()) {
    Rng r(211 + static_cast<int>(isa));
    const int trials = (isa == BestIsa() ? 40 : 12) / kSweepDivisor;
    for (int trial = 0; trial < trials; ++trial) {
      ConvShape s;
      s.batch = r.Int(1, 2);
      s.group = r.Coin(0.8) ? 1 : r.Int(2, 3);
      // One channel in a third of the trials (a sliding window of the input
      // row; pitch 1 or the stride).
      const bool one = trial % 3 == 2;
      s.cg = one ? 1 : 3;
      s.mg = r.Coin(0.5) ? r.Int(1, 20) : r.Int(40, 140);
      const int rank = r.Coin(0.85) ? 2 : 1;
      // (One channel: kernel rows 3 or 4 wide and up to 3 of them, where
      // pixel rows are no deeper than the plain order and get chosen.)
      const int64_t kw = one ? r.Int(3, 4) : r.Int(2, 11), st = r.Int(1, 3);
      for (int d = 0; d < rank; ++d) {
        const bool h = rank == 2 && d == 0;
        s.kernel.push_back(h ? r.Int(1, one ? 3 : 7) : kw);
        s.stride.push_back(h ? r.Int(1, 3) : st);
        s.dilation.push_back(h && r.Coin(0.3) ? 2 : 1);
        const int64_t span = (s.kernel.back() - 1) * s.dilation.back() + 1;
        s.in.push_back(span + r.Int(0, rank == 1 ? 150 : 40));
      }
      for (int d = 0; d < 2 * rank; ++d) s.pads.push_back(r.Int(0, s.kernel[d % rank] / 2 + 1));
      const bool extreme = trial % 7 == 6;
      if (trial % 2 == 0) CheckConv<uint8_t, uint8_t>(r, isa, s, trial, extreme, &paths);
      else CheckConv<int8_t, int8_t>(r, isa, s, trial, extreme, &paths);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  EXPECT_GT(paths.pixel_rows, 30 / kSweepDivisor);
  EXPECT_GT(paths.pixel_rows_one_channel, 8 / kSweepDivisor);
}

// A tap buffer is reused only within one run (the ConvQ8FastRun calls that
// share a ConvQ8FastNewRun id, or a single call): the same input buffer with
// new contents (the arena reuses addresses between runs) and the same plan
// must not take the previous run's gather. The 9x9 shape's 34.5 KB of weights
// are past kLanesChannelsSplitRowsMaxWeights, so it splits its channels.
TEST(QuantX86Kernels, ConvTapBufferReusedWithinOneRunOnly) {
  for (Isa isa : SupportedIsas()) {
    Rng r(17);
    ConvQ8Params p;
    p.batch = 1, p.group = 1, p.in_channels = 40, p.out_channels = 96;
    p.geo.in = {9, 9};
    p.geo.kernel = {3, 3};
    p.geo.stride = {1, 1};
    p.geo.dilation = {1, 1};
    ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
    p.x_zero_point = 3;
    p.y_zero_point = 7;
    p.multiplier.push_back(RandomMultiplier(r));
    std::vector<uint8_t> x(p.in_channels * 81);
    std::vector<int8_t> w(p.out_channels * p.in_channels * 9);
    for (auto& v : w) v = static_cast<int8_t>(r.Int(-128, 127));
    const ConvQ8Packed pk = PackConvQ8(p, w.data(), nullptr, isa);
    const int64_t tasks = ConvQ8FastTaskCount(pk, p);
    std::vector<uint8_t> want(p.out_channels * 81), got(want.size());
    const int64_t reuses0 = ConvQ8TapBufferReuses();
    int64_t split_reuses = 0;
    for (int run = 0; run < 6; ++run) {
      for (auto& v : x) v = static_cast<uint8_t>(r.Int(0, 255));  // same address, new data
      ConvQ8Reference(p, x.data(), w.data(), nullptr, want.data());
      std::fill(got.begin(), got.end(), 0);
      if (run % 2 == 0) {
        ConvQ8FastRun(pk, p, x.data(), got.data(), 0, tasks);
      } else {
        // Two calls of one run, as two ParallelFor chunks on one thread: the
        // second takes the position block the first gathered.
        ASSERT_GE(tasks, 2) << Label(isa);
        const uint64_t id = ConvQ8FastNewRun();
        ConvQ8FastRun(pk, p, x.data(), got.data(), 0, 1, id);
        const int64_t before = ConvQ8TapBufferReuses();
        ConvQ8FastRun(pk, p, x.data(), got.data(), 1, tasks, id);
        split_reuses += ConvQ8TapBufferReuses() - before;
      }
      ASSERT_EQ(got, want) << Label(isa) << " run " << run;
    }
    // The shape splits its channels (a small map): the reuse path ran, also
    // across the calls of one run.
    if (pk.lanes_channels) {
      EXPECT_GT(ConvQ8TapBufferReuses(), reuses0) << Label(isa);
      EXPECT_GE(split_reuses, 3) << Label(isa);
    }
  }
}

// ResNet-18 / MobileNetV2 shapes (scaled where the reference would be slow):
// the plans and tiles the benchmarks run.
TEST(QuantX86Kernels, ConvBenchmarkShapesMatchReference) {
  const std::vector<ConvShape> shapes = {
      {1, 1, 3, 64, {64, 66}, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}},       // conv1
      {1, 1, 64, 64, {56, 56}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},      // layer1
      {1, 1, 64, 128, {56, 56}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}},     // layer2 down
      {1, 1, 64, 128, {56, 56}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}},     // layer2 1x1 s2
      {1, 1, 256, 256, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},    // layer3
      {1, 1, 512, 512, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},      // layer4
      {1, 1, 24, 144, {56, 56}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}},     // mnv2 expand
      {1, 1, 160, 960, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}},      // mnv2 expand, small map
      {1, 1, 16, 96, {112, 112}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}},    // mnv2 first expand
  };
  for (Isa isa : SupportedIsas()) {
    Rng r(9);
    for (size_t i = 0; i < shapes.size(); ++i) {
      // Every shape at the best level; the big ones (slow in the reference) once more at AVX2 only.
      if (isa != BestIsa() && !(i == 0 || i == 3 || i == 6 || i == 7 || (isa == Isa::kAvx2 && i == 1))) continue;
      // Under the sanitizers the four biggest (seconds each in the reference) are left to the Release run.
      if (kSweepDivisor > 1 && (i == 1 || i == 2 || i == 4 || i == 5)) continue;
      if (i % 2 == 0 || kSweepDivisor == 1) CheckConv<uint8_t, uint8_t>(r, isa, shapes[i], static_cast<int>(i), false);
      if (i % 2 == 1 || kSweepDivisor == 1) CheckConv<int8_t, int8_t>(r, isa, shapes[i], static_cast<int>(i), i % 3 == 0);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(QuantX86Kernels, SupportsRejectsWhatTheFastPathCannotMatch) {
  ConvQ8Params p;
  p.in_channels = 4, p.out_channels = 2;
  p.geo.in = {5, 5}, p.geo.kernel = {3, 3}, p.geo.stride = {1, 1}, p.geo.dilation = {1, 1};
  ComputeWindow(p.geo, {}, "NOTSET", false);
  p.multiplier = {QuantizeMultiplier(0.01)};
  std::vector<int8_t> w(2 * 4 * 9, 1);
  EXPECT_TRUE(ConvQ8FastSupports(p, w.data(), nullptr, false));
  p.w_zero_point = {0, 3};
  EXPECT_FALSE(ConvQ8FastSupports(p, w.data(), nullptr, false));
  p.w_zero_point.clear();
  std::vector<int32_t> big_bias = {INT32_MAX - 100, 0};  // the int32 bound fails
  EXPECT_FALSE(ConvQ8FastSupports(p, w.data(), big_bias.data(), false));
  p.x_zero_point = 200;  // outside int8
  EXPECT_FALSE(ConvQ8FastSupports(p, w.data(), nullptr, true));

  GemmQ8Params g;
  g.m = 2, g.n = 3, g.k = 4;
  g.multiplier = {QuantizeMultiplier(0.01)};
  std::vector<int8_t> b(12, 1);
  EXPECT_TRUE(GemmQ8FastSupports(g, b.data(), nullptr, true));
  g.b_zero_point = {1};
  EXPECT_FALSE(GemmQ8FastSupports(g, b.data(), nullptr, true));
  g.b_zero_point.clear();
  g.a_zero_point = {1, 2};  // per row
  EXPECT_FALSE(GemmQ8FastSupports(g, b.data(), nullptr, true));
}

}  // namespace
}  // namespace nibble
