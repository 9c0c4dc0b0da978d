// Measured choice of the low-bit kernel family (lowbit_select.h).
#include "kernels/x86/lowbit_select.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "kernels/x86/bitserial_gemm.h"
#include "kernels/x86/conv_q8_fast.h"
#include "kernels/x86/gemm_q8_fast.h"
#include "kernels/x86/isa.h"
#include "kernels/x86/lowbit_gemv.h"
#include "nibble/error.h"

namespace nibble {
namespace {

constexpr const char* kNames[] = {"int8", "w4a8", "bitserial", "binary"};

// -1: no override, -2: not set (read the environment), else the kind.
std::atomic<int> g_override{-2};

using Key = std::tuple<int64_t, int64_t, int64_t, int, int, bool, bool, bool, int>;
std::mutex g_mu;
std::map<Key, LowBitTiming>& Cache() {
  static std::map<Key, LowBitTiming> m;
  return m;
}

Key KeyOf(const LowBitProblem& p) {
  return {p.m, p.n, p.k, p.w_bits, p.a_bits, p.w_signed, p.a_signed, p.bipolar, static_cast<int>(ActiveIsa())};
}

// Overwrites more than the L2 so the next run reads its weights from L3 / DRAM.
void EvictL2() {
  thread_local std::vector<uint8_t> junk(size_t{5} << 18);  // 1.25 MiB
  static uint8_t value = 0;
  std::fill(junk.begin(), junk.end(), ++value);
}

// Best of 3 after a warm-up. cold: evict the L2 before each timed run, for
// memory-bound layers whose real weights do not fit in L2 (the proxy's do).
double TimeBest(const std::function<void()>& fn, bool cold) {
  fn();  // warm-up: scratch, caches
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    if (cold) EvictL2();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  return best;
}

int32_t Lo(int bits, bool s) { return s ? -(1 << (bits - 1)) : 0; }
int32_t Hi(int bits, bool s) { return s ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }

std::string Describe(const LowBitTiming& t) {
  std::string s = Cat(kNames[static_cast<int>(t.chosen)], " (");
  bool first = true;
  for (int i = 0; i < 4; ++i) {
    if (t.ns[i] < 0) continue;
    s += Cat(first ? "" : ", ", kNames[i], " ", static_cast<int64_t>(t.ns[i] / 100) / 10.0, "us");
    first = false;
  }
  return s + ")";
}

LowBitTiming ChooseFastest(LowBitTiming t) {
  t.measured = true;
  int best = 0;
  for (int i = 1; i < 4; ++i)
    if (t.ns[i] >= 0 && (t.ns[best] < 0 || t.ns[i] < t.ns[best])) best = i;
  t.chosen = static_cast<LowBitKernel>(best);
  return t;
}

// Cheap codes (xorshift) for the timing runs: the values do not matter, only the widths.
struct TimingCodes {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint64_t Next() {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
  }
  template <class T>
  void Fill(std::vector<T>& v, int32_t lo, int32_t hi) {  // uniform in [lo, hi]
    for (auto& x : v) x = static_cast<T>(lo + static_cast<int32_t>(Next() % static_cast<uint64_t>(hi - lo + 1)));
  }
  template <class T>
  void FillBipolar(std::vector<T>& v) {
    for (auto& x : v) x = static_cast<T>((Next() >> 40) & 1 ? 1 : -1);
  }
};

template <class TA>
LowBitTiming Measure(const LowBitProblem& prob) {
  LowBitTiming t;
  // Few rows and int8 weights beyond the L2 (1 MiB on Zen 4): memory-bound,
  // time cold, on more columns so the weight stream dominates the fixed costs.
  const bool cold = prob.m <= 4 && prob.n * prob.k > (int64_t{1} << 20);
  const int64_t m = std::min<int64_t>(prob.m, 16), n = std::min<int64_t>(prob.n, cold ? 256 : 64);
  const int64_t k = std::min<int64_t>(prob.k, 1024);
  TimingCodes codes;
  const int ab = std::min(prob.a_bits, 8), wb = std::min(prob.w_bits, 8);
  std::vector<TA> a(m * k);
  std::vector<int8_t> b(k * n), bpm(k * n);
  codes.Fill(a, Lo(ab, std::is_signed_v<TA>), Hi(ab, std::is_signed_v<TA>));
  codes.Fill(b, Lo(wb, prob.w_signed), Hi(wb, prob.w_signed));
  codes.FillBipolar(bpm);
  std::vector<uint8_t> c(m * n);
  GemmQ8Params p;
  p.m = m, p.n = n, p.k = k;
  p.multiplier = {QuantizeMultiplier(1.0 / 4096)};
  p.c_min = 0, p.c_max = 255;
  const bitserial::PopcountPath path = bitserial::PopcountPathFor(ActiveIsa());
  const std::vector<int8_t>& wcodes = prob.bipolar ? bpm : b;
  {
    const GemmQ8Packed pk = PackGemmQ8(p, wcodes.data(), nullptr, ActiveIsa());
    const int64_t tasks = GemmQ8FastTaskCount(pk, m);
    t.ns[0] = TimeBest([&] { GemmQ8FastRun(pk, m, a.data(), c.data(), 0, tasks); }, cold);
  }
  if (LowBitKernelCorrect(LowBitKernel::kW4A8, prob)) {
    const int bits = prob.w_bits <= 2 ? 2 : 4;
    const LowBitGemvPacked pk = PackLowBitGemv(p, wcodes.data(), nullptr, bits, prob.w_signed || prob.bipolar, ActiveIsa());
    t.ns[1] = TimeBest([&] { LowBitGemvRun(pk, m, a.data(), c.data(), 0, LowBitGemvTaskCount(pk)); }, cold);
  }
  if (LowBitKernelCorrect(LowBitKernel::kBitSerial, prob)) {
    // Bipolar codes as 2-bit signed codes {-1, +1} (what an exact bit-serial run needs).
    BitSerialSpec s{prob.bipolar ? 2 : prob.a_bits, prob.bipolar ? 2 : prob.w_bits, std::is_signed_v<TA>,
                    prob.bipolar || prob.w_signed};
    GemmQ8Params q = p;
    std::vector<TA> aa = a;
    const int32_t slo = Lo(s.a_bits, s.a_signed), shi = Hi(s.a_bits, s.a_signed);
    for (auto& v : aa) v = static_cast<TA>(std::clamp<int32_t>(v, slo, shi));
    const LowBitPacked pk = PackBitSerialGemm(q, wcodes.data(), nullptr, s);
    t.ns[2] = TimeBest([&] { LowBitGemmRun(pk, m, aa.data(), c.data(), 0, LowBitGemmTaskCount(pk, m), path); }, cold);
  }
  if (LowBitKernelCorrect(LowBitKernel::kBinary, prob)) {
    const LowBitPacked pk = PackBinaryGemm(p, bpm.data(), nullptr);
    t.ns[3] = TimeBest([&] { LowBitGemmRun(pk, m, a.data(), c.data(), 0, LowBitGemmTaskCount(pk, m), path); }, cold);
  }
  return ChooseFastest(t);
}

template <class TX>
LowBitTiming MeasureConvAs(ConvQ8Params p, const LowBitProblem& prob) {
  LowBitTiming t;
  p.batch = 1;
  TimingCodes codes;
  const int ab = std::min(prob.a_bits, 8), wb = std::min(prob.w_bits, 8);
  constexpr bool xs = std::is_signed_v<TX>;
  // Codes over the declared width (bipolar: -1 / +1), zero points as the layer has them.
  std::vector<TX> x(static_cast<size_t>(p.in_channels * p.geo.spatial_size_in()));
  std::vector<int8_t> w(static_cast<size_t>(p.out_channels * p.in_channels * p.geo.kernel_size()));
  if (prob.bipolar) {
    codes.FillBipolar(x);
    codes.FillBipolar(w);
  } else {
    codes.Fill(x, Lo(ab, xs), Hi(ab, xs));
    codes.Fill(w, Lo(wb, prob.w_signed), Hi(wb, prob.w_signed));
  }
  std::vector<uint8_t> y(static_cast<size_t>(p.out_channels * p.geo.spatial_size_out()));
  p.y_min = std::max(p.y_min, 0);
  p.y_max = std::min(p.y_max, 255);
  if (p.y_min > p.y_max) p.y_min = 0, p.y_max = 255;
  if (ConvQ8FastSupports(p, w.data(), nullptr, xs)) {
    const ConvQ8Packed pk = PackConvQ8(p, w.data(), nullptr, ActiveIsa());
    const int64_t tasks = ConvQ8FastTaskCount(pk, p);
    t.ns[0] = TimeBest([&] { ConvQ8FastRun(pk, p, x.data(), y.data(), 0, tasks); }, false);
  }
  LowBitConvInput in;
  const BitSerialSpec spec{prob.a_bits, prob.w_bits, xs, prob.w_signed};
  if (!prob.bipolar && LowBitKernelCorrect(LowBitKernel::kBitSerial, prob) &&
      BitSerialConvSupports(p, w.data(), nullptr, spec)) {
    const LowBitPacked pk = PackBitSerialConv(p, w.data(), nullptr, spec);
    t.ns[2] = TimeBest([&] { LowBitConv(pk, p, x.data(), y.data(), in, nullptr); }, false);
  }
  if (prob.bipolar && BinaryConvSupports(p, w.data(), nullptr)) {
    const LowBitPacked pk = PackBinaryConv(p, w.data(), nullptr);
    t.ns[3] = TimeBest([&] { LowBitConv(pk, p, x.data(), y.data(), in, nullptr); }, false);
  }
  return ChooseFastest(t);
}

std::map<std::string, LowBitTiming>& ConvCache() {
  static std::map<std::string, LowBitTiming> m;
  return m;
}

LowBitTiming MeasureConv(const ConvQ8Params& p, const LowBitProblem& prob) {
  std::string key = Cat(p.in_channels, "x", p.out_channels, "|", prob.w_bits, prob.w_signed, prob.a_bits,
                        prob.a_signed, prob.bipolar, "|", static_cast<int>(ActiveIsa()), "|", p.x_zero_point, "|",
                        p.y_min, ",", p.y_max);
  for (const auto* v : {&p.geo.in, &p.geo.kernel, &p.geo.stride, &p.geo.dilation, &p.geo.pad_begin, &p.geo.pad_end}) {
    key += "|";
    for (int64_t d : *v) key += Cat(d, ",");
  }
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = ConvCache().find(key);
    if (it != ConvCache().end()) return it->second;
  }
  const LowBitTiming t = prob.a_signed || prob.bipolar ? MeasureConvAs<int8_t>(p, prob) : MeasureConvAs<uint8_t>(p, prob);
  std::lock_guard<std::mutex> lock(g_mu);
  return ConvCache().emplace(key, t).first->second;
}

}  // namespace

const char* LowBitKernelName(LowBitKernel k) { return kNames[static_cast<int>(k)]; }

std::optional<LowBitKernel> ParseLowBitKernel(const std::string& name) {
  for (int i = 0; i < 4; ++i)
    if (name == kNames[i]) return static_cast<LowBitKernel>(i);
  return std::nullopt;
}

bool LowBitKernelCorrect(LowBitKernel kind, const LowBitProblem& p) {
  const bool widths_ok = p.w_bits >= 1 && p.w_bits <= 8 && p.a_bits >= 1 && p.a_bits <= 8;
  if (!widths_ok) return false;
  switch (kind) {
    case LowBitKernel::kInt8: return true;
    case LowBitKernel::kW4A8: return p.bipolar || p.w_bits <= 4;
    case LowBitKernel::kBitSerial: return p.bipolar || (p.w_bits <= 4 && p.a_bits <= 4);
    case LowBitKernel::kBinary: return p.bipolar;
  }
  return false;
}

std::optional<LowBitKernel> ForcedLowBitKernel() {
  int o = g_override.load(std::memory_order_relaxed);
  if (o == -2) {
    static const int from_env = [] {
      const char* env = std::getenv("NIBBLE_LOWBIT_KERNEL");
      if (!env || !*env) return -1;
      const std::optional<LowBitKernel> k = ParseLowBitKernel(env);
      NIBBLE_CHECK(k.has_value(), "NIBBLE_LOWBIT_KERNEL='", env, "' is not one of int8, bitserial, binary, w4a8");
      return static_cast<int>(*k);
    }();
    o = from_env;
  }
  if (o < 0) return std::nullopt;
  return static_cast<LowBitKernel>(o);
}

void SetLowBitKernelOverride(std::optional<LowBitKernel> kind) {
  g_override.store(kind ? static_cast<int>(*kind) : -2, std::memory_order_relaxed);
}

LowBitTiming MeasureLowBitKernels(const LowBitProblem& p) {
  NIBBLE_CHECK(p.m > 0 && p.n > 0 && p.k > 0, "low-bit kernel selection: empty shape");
  const Key key = KeyOf(p);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = Cache().find(key);
    if (it != Cache().end()) return it->second;
  }
  // Measured outside the lock (another thread may measure the same shape: same answer).
  const LowBitTiming t = p.a_signed && !p.bipolar ? Measure<int8_t>(p) : Measure<uint8_t>(p);
  std::lock_guard<std::mutex> lock(g_mu);
  return Cache().emplace(key, t).first->second;
}

LowBitKernel SelectLowBitKernel(const LowBitProblem& p) {
  if (const std::optional<LowBitKernel> f = ForcedLowBitKernel())
    return LowBitKernelCorrect(*f, p) ? *f : LowBitKernel::kInt8;
  return MeasureLowBitKernels(p).chosen;
}

std::string DescribeLowBitChoice(const LowBitProblem& p) {
  if (const std::optional<LowBitKernel> f = ForcedLowBitKernel())
    return Cat(LowBitKernelName(SelectLowBitKernel(p)), " (forced by NIBBLE_LOWBIT_KERNEL=", LowBitKernelName(*f), ")");
  return Describe(MeasureLowBitKernels(p));
}

LowBitKernel SelectLowBitConvKernel(const ConvQ8Params& p, const LowBitProblem& prob) {
  if (const std::optional<LowBitKernel> f = ForcedLowBitKernel())
    return LowBitKernelCorrect(*f, prob) ? *f : LowBitKernel::kInt8;
  return MeasureConv(p, prob).chosen;
}

std::string DescribeLowBitConvChoice(const ConvQ8Params& p, const LowBitProblem& prob) {
  if (const std::optional<LowBitKernel> f = ForcedLowBitKernel())
    return Cat(LowBitKernelName(SelectLowBitConvKernel(p, prob)), " (forced by NIBBLE_LOWBIT_KERNEL=",
               LowBitKernelName(*f), ")");
  return Describe(MeasureConv(p, prob)) + " on the layer's shape";
}

}  // namespace nibble
