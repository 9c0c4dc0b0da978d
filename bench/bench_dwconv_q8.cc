// Depthwise int8 conv (src/kernels/x86/dwconv_q8.h) on the MobileNetV2 (224x224)
// depthwise layers, one thread, u8 in / u8 out, per-channel multipliers, fused
// Relu6-like clamp: every ISA level this CPU runs, and ConvQ8Reference.
// Counters: out_px/s = output pixels (all channels) per second; speedup = the
// reference's time over this one (the reference is timed once per shape).
//
//   bench_dwconv_q8 [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/reference/conv_q8.h"
#include "kernels/x86/dwconv_q8.h"

namespace nibble {
namespace {

struct Layer {
  const char* name;
  int64_t c, h, w, k, s;
};

// The 17 depthwise convs of MobileNetV2 collapse to these distinct shapes (the
// count is how often each occurs), plus two 5x5 ones (MnasNet / EfficientNet-B0).
const Layer kLayers[] = {
    {"mnv2_112x112_c32_s1", 32, 112, 112, 3, 1},   // x1
    {"mnv2_112x112_c96_s2", 96, 112, 112, 3, 2},   // x1
    {"mnv2_56x56_c144_s1", 144, 56, 56, 3, 1},     // x1
    {"mnv2_56x56_c144_s2", 144, 56, 56, 3, 2},     // x1
    {"mnv2_28x28_c192_s1", 192, 28, 28, 3, 1},     // x2
    {"mnv2_28x28_c192_s2", 192, 28, 28, 3, 2},     // x1
    {"mnv2_14x14_c384_s1", 384, 14, 14, 3, 1},     // x4
    {"mnv2_14x14_c576_s1", 576, 14, 14, 3, 1},     // x2
    {"mnv2_14x14_c576_s2", 576, 14, 14, 3, 2},     // x1
    {"mnv2_7x7_c960_s1", 960, 7, 7, 3, 1},         // x3
    {"k5_28x28_c240_s1", 240, 28, 28, 5, 1},
    {"k5_56x56_c144_s2", 144, 56, 56, 5, 2},
};

struct Problem {
  ConvQ8Params p;
  std::vector<uint8_t> x, y;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
};

Problem Make(const Layer& l) {
  Problem pr;
  ConvQ8Params& p = pr.p;
  p.batch = 1;
  p.in_channels = p.out_channels = p.group = l.c;
  p.geo.in = {l.h, l.w};
  p.geo.kernel = {l.k, l.k};
  p.geo.stride = {l.s, l.s};
  p.geo.dilation = {1, 1};
  const int64_t pad = l.k / 2;
  ComputeWindow(p.geo, {pad, pad, pad, pad}, "NOTSET", false);
  p.x_zero_point = 3;
  p.y_zero_point = 0;
  p.y_min = 0;
  p.y_max = 200;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> u8(0, 255), s8(-127, 127);
  for (int64_t m = 0; m < l.c; ++m) p.multiplier.push_back(QuantizeMultiplier(0.0005 + 0.0001 * (m % 7)));
  pr.x.resize(l.c * l.h * l.w);
  for (auto& v : pr.x) v = static_cast<uint8_t>(u8(rng));
  pr.w.resize(l.c * l.k * l.k);
  for (auto& v : pr.w) v = static_cast<int8_t>(s8(rng));
  pr.bias.resize(l.c);
  for (auto& v : pr.bias) v = s8(rng) * 100;
  pr.y.resize(l.c * p.geo.spatial_size_out());
  return pr;
}

// This thread's CPU time: the machine may be shared, and every counter below
// is per CPU second so that the ratios hold under load.
double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// CPU seconds per reference call, measured once per layer (best of 3).
double ReferenceSeconds(int idx) {
  static std::map<int, double> cache;
  auto it = cache.find(idx);
  if (it != cache.end()) return it->second;
  Problem pr = Make(kLayers[idx]);
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = CpuNow();
    ConvQ8Reference(pr.p, pr.x.data(), pr.w.data(), pr.bias.data(), pr.y.data());
    best = std::min(best, CpuNow() - t0);
  }
  return cache[idx] = best;
}

void SetCounters(benchmark::State& state, const Problem& pr, double seconds, int idx) {
  const double px = static_cast<double>(pr.p.out_channels * pr.p.geo.spatial_size_out());
  const double per_call = seconds / static_cast<double>(state.iterations());
  state.counters["out_px/s"] = benchmark::Counter(px / per_call);
  state.counters["speedup"] = ReferenceSeconds(idx) / per_call;
}

void BM_Reference(benchmark::State& state, int idx) {
  Problem pr = Make(kLayers[idx]);
  const double t0 = CpuNow();
  for (auto _ : state) {
    ConvQ8Reference(pr.p, pr.x.data(), pr.w.data(), pr.bias.data(), pr.y.data());
    benchmark::DoNotOptimize(pr.y.data());
  }
  SetCounters(state, pr, CpuNow() - t0, idx);
}

void BM_DwConv(benchmark::State& state, int idx, Isa isa) {
  Problem pr = Make(kLayers[idx]);
  const DwConvQ8Packed pk = PackDwConvQ8<uint8_t>(pr.p, pr.w.data(), pr.bias.data(), isa);
  const int64_t planes = pr.p.batch * pr.p.out_channels;
  const double t0 = CpuNow();
  for (auto _ : state) {
    DwConvQ8Run(pk, pr.p, pr.x.data(), pr.y.data(), 0, planes);
    benchmark::DoNotOptimize(pr.y.data());
  }
  SetCounters(state, pr, CpuNow() - t0, idx);
}

void RegisterAll() {
  for (int i = 0; i < static_cast<int>(std::size(kLayers)); ++i) {
    const std::string name = kLayers[i].name;
    benchmark::RegisterBenchmark(("DwConvQ8/" + name + "/reference").c_str(), BM_Reference, i)
        ->Unit(benchmark::kMicrosecond);
    for (Isa isa : SupportedIsas())
      benchmark::RegisterBenchmark(("DwConvQ8/" + name + "/" + IsaName(isa)).c_str(), BM_DwConv, i, isa)
          ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace
}  // namespace nibble

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nibble::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
