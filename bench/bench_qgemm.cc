// Int8 GEMM / convolution kernels of src/kernels/x86, single thread, on every
// ISA level this CPU runs, against the measured peak of the instruction each
// level is built on (vpdpbusd zmm / ymm, vpmaddwd + vpaddd for AVX2).
// Counters: GOPS = 2*M*N*K / time, pct_peak = GOPS / peak GOPS of that ISA.
//
//   build-gemm/bench/nibble_bench_qgemm --benchmark_filter=avx512
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/cpu_features.h"
#include "kernels/x86/conv_q8_amx.h"
#include "kernels/x86/conv_q8_fast.h"
#include "kernels/x86/gemm_q8_fast.h"
#include "kernels/x86/gemm_q8_microkernel.h"
#include "kernels/x86/isa.h"

namespace nibble {
namespace {

// ---- peaks: many independent accumulators, so throughput (not latency) bounds.
constexpr int64_t kPeakIters = 1 << 19;

// Thread CPU time, like Google Benchmark's rates: the machine may be shared.
double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Hand-written loops: the registers are fixed, so the compiler cannot add
// spills; the loop counter is the only other work.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) double PeakZmmDpbusd() {
  int64_t n = kPeakIters;
  const double t0 = CpuSeconds();
  __asm__ volatile(
      "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n\t"
      "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n\t"
      "1:\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm1\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm2\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm3\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm5\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm6\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm7\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm8\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm9\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm10\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm11\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm12\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm13\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm14\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm15\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm16\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm17\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm18\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm19\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm20\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm21\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm22\n\t"
      "vpdpbusd %%zmm30, %%zmm31, %%zmm23\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc");
  return 2.0 * 64 * 24 * kPeakIters / (CpuSeconds() - t0) * 1e-9;  // 64 u8 x s8 MACs per instruction
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) double PeakYmmDpbusd() {
  int64_t n = kPeakIters;
  const double t0 = CpuSeconds();
  __asm__ volatile(
      "vpternlogd $0xff, %%ymm30, %%ymm30, %%ymm30\n\t"
      "vpternlogd $0xff, %%ymm31, %%ymm31, %%ymm31\n\t"
      "1:\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm0\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm1\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm2\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm3\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm4\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm5\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm6\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm7\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm8\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm9\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm10\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm11\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm12\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm13\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm14\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm15\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm16\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm17\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm18\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm19\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm20\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm21\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm22\n\t"
      "vpdpbusd %%ymm30, %%ymm31, %%ymm23\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc");
  return 2.0 * 32 * 24 * kPeakIters / (CpuSeconds() - t0) * 1e-9;
}

// The AVX2 level's inner step: vpmaddwd (16 int16 MACs) plus the vpaddd that accumulates it.
__attribute__((target("avx2"))) double PeakYmmMaddwd() {
  int64_t n = kPeakIters;
  const double t0 = CpuSeconds();
  __asm__ volatile(
      "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\t"
      "vpcmpeqd %%ymm15, %%ymm15, %%ymm15\n\t"
      "1:\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm0, %%ymm0\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm1, %%ymm1\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm2, %%ymm2\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm3, %%ymm3\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm4, %%ymm4\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm5, %%ymm5\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm6, %%ymm6\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm7, %%ymm7\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm8, %%ymm8\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm9, %%ymm9\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n\t"
      "vpaddd %%ymm12, %%ymm11, %%ymm11\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
  return 2.0 * 16 * 12 * kPeakIters / (CpuSeconds() - t0) * 1e-9;
}

// tdpbusd (AMX-INT8, the conv kernel's product): 16x16 int32 tiles += 16x64 u8 by 64x16 s8, 16384
// multiply-accumulates per instruction, on four independent accumulators.
__attribute__((target("amx-tile,amx-int8"))) double PeakTileDpbusd() {
  q8::AmxTileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  _tile_loadconfig(&cfg);
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  const int64_t n = kPeakIters / 16;
  const double t0 = CpuSeconds();
  for (int64_t i = 0; i < n; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  const double s = CpuSeconds() - t0;
  // The conv kernel configures its own tiles: leave none configured behind it.
  _tile_release();
  return 2.0 * 16384 * 4 * n / s * 1e-9;
}

// Best of several short runs: on a shared machine a single run can be slowed.
double BestOf(double (*run)()) {
  double best = 0;
  for (int i = 0; i < 16; ++i) best = std::max(best, run());
  return best;
}

// Peak GOPS of the instruction an ISA level's kernels are built on (0: scalar).
double PeakFor(Isa isa) {
  static const double zmm = IsaSupported(Isa::kAvx512Vnni) ? BestOf(PeakZmmDpbusd) : 0;
  static const double ymm =
      IsaSupported(Isa::kAvxVnni) && IsaSupported(Isa::kAvx512Vnni) ? BestOf(PeakYmmDpbusd) : 0;
  static const double avx2 = IsaSupported(Isa::kAvx2) ? BestOf(PeakYmmMaddwd) : 0;
  static const double amx = IsaSupported(Isa::kAmx) ? BestOf(PeakTileDpbusd) : 0;
  switch (isa) {
    case Isa::kAmx: return amx;
    case Isa::kAvx512Vnni: return zmm;
    case Isa::kAvxVnni: return ymm;
    case Isa::kAvx2: return avx2;
    case Isa::kScalar: break;
  }
  return 0;
}

void BM_Peak(benchmark::State& state, Isa isa) {
  for (auto _ : state) state.counters["GOPS"] = PeakFor(isa);
}

// The peak of two threads running a peak loop at once, their rates (each
// over its own CPU time) summed: two vCPUs need not be two cores' worth (a
// host may give a VM the two hyperthreads of one core, or share the cores
// with other guests), and compare.py's 2-thread compute floor divides by
// this rather than by twice one thread's peak. A spin barrier starts the
// loops together, so their few ms overlap almost wholly. For the zmm
// vpdpbusd loop, and for the AVX2 level's vpmaddwd + vpaddd on machines
// without AVX-512 VNNI (the floor's instruction there).
double TwoThreads(double (*run)()) {
  std::atomic<int> ready{0};
  double rate[2] = {0, 0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&ready, &rate, run, i] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      rate[i] = run();
    });
  for (std::thread& t : threads) t.join();
  return rate[0] + rate[1];
}

double PeakZmmDpbusdTwoThreads() { return TwoThreads(PeakZmmDpbusd); }
double PeakYmmMaddwdTwoThreads() { return TwoThreads(PeakYmmMaddwd); }

void BM_PeakTwoThreads(benchmark::State& state, double (*run)()) {
  for (auto _ : state) state.counters["GOPS"] = BestOf(run);
}

int UsableCpus() {
  cpu_set_t allowed;
  return sched_getaffinity(0, sizeof(allowed), &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
}

void SetCounters(benchmark::State& state, Isa isa, double ops_per_iter) {
  state.counters["GOPS"] = benchmark::Counter(ops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const double peak = PeakFor(isa);
  state.counters["peak_GOPS"] = peak;
  // pct_peak filled in from the measured rate by the reporter is not possible; compute it from the timing here.
  state.counters["pct_peak"] = benchmark::Counter(peak > 0 ? ops_per_iter * 1e-9 * 100 / peak : 0,
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
std::vector<T> RandomCodes(size_t n, int lo, int hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

void BM_Gemm(benchmark::State& state, Isa isa, int64_t m, int64_t n, int64_t k) {
  GemmQ8Params p;
  p.m = m, p.n = n, p.k = k;
  p.a_zero_point = {128};
  for (int64_t j = 0; j < n; ++j) p.multiplier.push_back(QuantizeMultiplier(1e-4 * (1 + j % 7)));
  p.c_zero_point = 3;
  const auto a = RandomCodes<uint8_t>(m * k, 0, 255, 1);
  const auto b = RandomCodes<int8_t>(k * n, -127, 127, 2);
  const auto bias = RandomCodes<int32_t>(n, -1000, 1000, 3);
  std::vector<uint8_t> c(m * n);
  const GemmQ8Packed pk = PackGemmQ8(p, b.data(), bias.data(), isa);
  const int64_t tasks = GemmQ8FastTaskCount(pk, m);
  for (auto _ : state) {
    GemmQ8FastRun(pk, m, a.data(), c.data(), 0, tasks);
    benchmark::ClobberMemory();
  }
  SetCounters(state, isa, 2.0 * m * n * k);
}

struct ConvShape {
  const char* name;
  int64_t c, m, h, w, kh, kw, stride, pad;
};

// layout: channels-last input and output (conv_q8_fast.h), as the session
// keeps the values between AMX convs and between lanes-are-channels convs.
void BM_ConvLayout(benchmark::State& state, Isa isa, ConvShape s, ConvQ8Layout layout) {
  ConvQ8Params p;
  p.in_channels = s.c, p.out_channels = s.m;
  p.geo.in = {s.h, s.w};
  p.geo.kernel = {s.kh, s.kw};
  p.geo.stride = {s.stride, s.stride};
  p.geo.dilation = {1, 1};
  ComputeWindow(p.geo, {s.pad, s.pad, s.pad, s.pad}, "NOTSET", false);
  p.x_zero_point = 0;  // post-Relu activations
  for (int64_t j = 0; j < s.m; ++j) p.multiplier.push_back(QuantizeMultiplier(1e-4 * (1 + j % 7)));
  p.y_min = 0;
  const int64_t k = s.c * s.kh * s.kw, out = p.geo.spatial_size_out();
  const auto x = RandomCodes<uint8_t>(s.c * s.h * s.w, 0, 255, 1);
  const auto w = RandomCodes<int8_t>(s.m * k, -127, 127, 2);
  const auto bias = RandomCodes<int32_t>(s.m, -1000, 1000, 3);
  std::vector<uint8_t> y(s.m * out);
  const ConvQ8Packed pk = PackConvQ8(p, w.data(), bias.data(), isa);
  if ((layout.x_channels_last || layout.y_channels_last) && !ConvQ8FastChannelsLast(pk)) {
    state.SkipWithError("neither AMX tiles nor lanes-are-channels: NCHW only");
    return;
  }
  const int64_t tasks = ConvQ8FastTaskCount(pk, p);
  for (auto _ : state) {
    ConvQ8FastRun(pk, p, x.data(), y.data(), 0, tasks, 0, layout);
    benchmark::ClobberMemory();
  }
  SetCounters(state, isa, 2.0 * s.m * out * k);
  // How evenly two threads would share it (ThreadPool::ParallelFor gives the
  // first ceil(tasks / 2) tasks to one thread): the larger half's share of the
  // summed time, best of a few runs each (1.0: one thread does it all, 0.5: even).
  const int64_t half = (tasks + 1) / 2;
  double t_lo = 1e30, t_hi = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = CpuSeconds();
    ConvQ8FastRun(pk, p, x.data(), y.data(), 0, half, 0, layout);
    t_lo = std::min(t_lo, CpuSeconds() - t0);
    t0 = CpuSeconds();
    ConvQ8FastRun(pk, p, x.data(), y.data(), half, tasks, 0, layout);
    t_hi = std::min(t_hi, CpuSeconds() - t0);
  }
  state.counters["tasks"] = static_cast<double>(tasks);
  state.counters["split2"] = std::max(t_lo, t_hi) / (t_lo + t_hi);
}

void BM_Conv(benchmark::State& state, Isa isa, ConvShape s) { BM_ConvLayout(state, isa, s, {}); }

}  // namespace
}  // namespace nibble

int main(int argc, char** argv) {
  using namespace nibble;
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("cpu", CpuFeatureSummary());
  std::string isas;
  for (Isa i : SupportedIsas()) isas += std::string(IsaName(i)) + " ";
  benchmark::AddCustomContext("isa_levels", isas);
  const ConvShape convs[] = {
      {"resnet18_conv1_7x7s2_3to64_224", 3, 64, 224, 224, 7, 7, 2, 3},
      {"resnet18_l1_3x3_64_56", 64, 64, 56, 56, 3, 3, 1, 1},
      {"resnet18_l2_3x3s2_64to128_56", 64, 128, 56, 56, 3, 3, 2, 1},
      {"resnet18_l2_1x1s2_64to128_56", 64, 128, 56, 56, 1, 1, 2, 0},
      {"resnet18_l2_3x3_128_28", 128, 128, 28, 28, 3, 3, 1, 1},
      {"resnet18_l3_3x3_256_14", 256, 256, 14, 14, 3, 3, 1, 1},
      {"resnet18_l4_3x3_512_7", 512, 512, 7, 7, 3, 3, 1, 1},
      {"mobilenetv2_conv0_3x3s2_3to32_224", 3, 32, 224, 224, 3, 3, 2, 1},
      {"vgg16_conv0_3x3_3to64_224", 3, 64, 224, 224, 3, 3, 1, 1},
      {"mobilenetv2_1x1_24to144_56", 24, 144, 56, 56, 1, 1, 1, 0},
      {"mobilenetv2_1x1_160to960_7", 160, 960, 7, 7, 1, 1, 1, 0},
      {"mobilenetv2_1x1_16to96_112", 16, 96, 112, 112, 1, 1, 1, 0},
      {"mobilenetv2_1x1_96to24_56", 96, 24, 56, 56, 1, 1, 1, 0},
      {"mobilenetv2_1x1_144to24_56", 144, 24, 56, 56, 1, 1, 1, 0},
      {"mobilenetv2_1x1_192to64_14", 192, 64, 14, 14, 1, 1, 1, 0},
      {"mobilenetv2_1x1_64to384_14", 64, 384, 14, 14, 1, 1, 1, 0},
      {"mobilenetv2_1x1_96to576_14", 96, 576, 14, 14, 1, 1, 1, 0},
      {"mobilenetv2_1x1_576to96_14", 576, 96, 14, 14, 1, 1, 1, 0},
      {"mobilenetv2_1x1_576to160_7", 576, 160, 7, 7, 1, 1, 1, 0},
      {"mobilenetv2_1x1_960to320_7", 960, 320, 7, 7, 1, 1, 1, 0},
      {"fashion_cnn_3x3_1to16_28", 1, 16, 28, 28, 3, 3, 1, 1},
      {"fashion_cnn_3x3_16to32_14", 16, 32, 14, 14, 3, 3, 1, 1},
      {"fashion_cnn_3x3_32to32_7", 32, 32, 7, 7, 3, 3, 1, 1},
  };
  for (Isa isa : SupportedIsas()) {
    // The amx level differs from avx512vnni in its conv kernels only.
    const std::string tag = isa == Isa::kAmx ? "amx" : q8::KernelsFor(isa).name;
    if (isa != Isa::kScalar) benchmark::RegisterBenchmark(("peak/" + tag).c_str(), BM_Peak, isa)->Iterations(1);
    if (isa == Isa::kAvx512Vnni && UsableCpus() >= 2)
      benchmark::RegisterBenchmark("peak2/avx512vnni", BM_PeakTwoThreads, PeakZmmDpbusdTwoThreads)
          ->Iterations(1)
          ->UseRealTime();
    if (isa == Isa::kAvx2 && !IsaSupported(Isa::kAvx512Vnni) && UsableCpus() >= 2)
      benchmark::RegisterBenchmark("peak2/avx2", BM_PeakTwoThreads, PeakYmmMaddwdTwoThreads)
          ->Iterations(1)
          ->UseRealTime();
    const bool slow = isa == Isa::kScalar;
    if (isa == Isa::kAmx) {
      for (const ConvShape& s : convs)
        benchmark::RegisterBenchmark(("conv/amx/" + std::string(s.name)).c_str(), BM_Conv, isa, s)->Unit(benchmark::kMillisecond);
      // ResNet-18's 3x3 layers as the session runs most of them: channels-last in and out.
      for (const ConvShape& s : convs)
        if (std::string(s.name).rfind("resnet18_l", 0) == 0 && s.kh == 3)
          benchmark::RegisterBenchmark(("conv/amx_nhwc/" + std::string(s.name)).c_str(), BM_ConvLayout, isa, s,
                                       ConvQ8Layout{true, true})
              ->Unit(benchmark::kMillisecond);
      continue;
    }
    if (!slow) benchmark::RegisterBenchmark(("gemm/" + tag + "/1024x1024x1024").c_str(), BM_Gemm, isa, 1024, 1024, 1024)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("gemm/" + tag + "/fc_1x1000x512").c_str(), BM_Gemm, isa, 1, 1000, 512)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("gemm/" + tag + "/196x768x768").c_str(), BM_Gemm, isa, 196, 768, 768)->Unit(benchmark::kMillisecond);
    for (const ConvShape& s : convs)
      benchmark::RegisterBenchmark(("conv/" + tag + "/" + s.name).c_str(), BM_Conv, isa, s)->Unit(benchmark::kMillisecond);
    // ResNet-18's layers after conv1 as the session runs them at the zmm
    // level: lanes-are-channels convs, channels-last in and out.
    if (isa == Isa::kAvx512Vnni)
      for (const ConvShape& s : convs)
        if (std::string(s.name).rfind("resnet18_l", 0) == 0)
          benchmark::RegisterBenchmark(("conv/" + tag + "_nhwc/" + s.name).c_str(), BM_ConvLayout, isa, s,
                                       ConvQ8Layout{true, true})
              ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
