// Sub-8-bit kernels against the int8 kernels on the same shapes, one thread:
//   conv/<kind>/<C>x<H>x<W>   ResNet-18 3x3 layers (C -> C, stride 1, pad 1):
//                             int8 (conv_q8_fast, W8A8), binary (W1A1 XNOR),
//                             bitserial W2A2 / W3A3 / W4A4
//   gemv/<kind>/<K>x<N>       batch-1 fully connected: int8 (gemm_q8_fast),
//                             w4a8 and w2a8 (lowbit_gemv)
// Counter GOPS = 2 * M * N * K / time (the int8-equivalent work). After the
// run, a table of speed-ups over int8 per shape.
//
//   bench_lowbit [--benchmark_filter=conv/] [--benchmark_min_time=0.2]
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/reference/conv_q8.h"
#include "kernels/reference/gemm_q8.h"
#include "kernels/x86/bitserial_gemm.h"
#include "kernels/x86/conv_q8_fast.h"
#include "kernels/x86/gemm_q8_fast.h"
#include "kernels/x86/isa.h"
#include "kernels/x86/lowbit_gemv.h"

namespace nibble {
namespace {

template <class T>
std::vector<T> Random(size_t n, int lo, int hi, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

ConvQ8Params ResNetConv(int64_t c, int64_t hw) {
  ConvQ8Params p;
  p.in_channels = c, p.out_channels = c;
  p.geo.in = {hw, hw};
  p.geo.kernel = {3, 3};
  ComputeWindow(p.geo, {1, 1, 1, 1}, "NOTSET", false);
  p.multiplier = {QuantizeMultiplier(1.0 / 2048)};
  p.y_min = 0, p.y_max = 255;
  return p;
}

void SetConvCounters(benchmark::State& st, const ConvQ8Params& p) {
  const double ops = 2.0 * p.out_channels * p.geo.spatial_size_out() * p.in_channels * p.geo.kernel_size();
  st.counters["GOPS"] = benchmark::Counter(ops * 1e-9 * st.iterations(), benchmark::Counter::kIsRate);
}

void BM_ConvInt8(benchmark::State& st, int64_t c, int64_t hw) {
  ConvQ8Params p = ResNetConv(c, hw);
  p.x_zero_point = 3;
  const auto x = Random<uint8_t>(p.in_channels * p.geo.spatial_size_in(), 0, 255, 1);
  const auto w = Random<int8_t>(p.out_channels * p.in_channels * 9, -127, 127, 2);
  std::vector<uint8_t> y(p.out_channels * p.geo.spatial_size_out());
  const ConvQ8Packed pk = PackConvQ8(p, w.data(), nullptr, ActiveIsa());
  const int64_t tasks = ConvQ8FastTaskCount(pk, p);
  for (auto _ : st) {
    ConvQ8FastRun(pk, p, x.data(), y.data(), 0, tasks);
    benchmark::DoNotOptimize(y.data());
  }
  SetConvCounters(st, p);
}

// bits == 1: binary W1A1; else bit-serial W<bits>A<bits> (signed weights, unsigned activations).
void BM_ConvLowBit(benchmark::State& st, int64_t c, int64_t hw, int bits) {
  ConvQ8Params p = ResNetConv(c, hw);
  LowBitPacked pk;
  std::vector<uint8_t> x;
  if (bits == 1) {
    p.x_zero_point = 128;
    x = Random<uint8_t>(p.in_channels * p.geo.spatial_size_in(), 0, 255, 1);
    auto w = Random<int8_t>(p.out_channels * p.in_channels * 9, 0, 1, 2);
    for (auto& v : w) v = v ? 1 : -1;
    pk = PackBinaryConv(p, w.data(), nullptr);
  } else {
    p.x_zero_point = 0;
    x = Random<uint8_t>(p.in_channels * p.geo.spatial_size_in(), 0, (1 << bits) - 1, 1);
    const auto w = Random<int8_t>(p.out_channels * p.in_channels * 9, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, 2);
    pk = PackBitSerialConv(p, w.data(), nullptr, BitSerialSpec{bits, bits, false, true});
  }
  std::vector<uint8_t> y(p.out_channels * p.geo.spatial_size_out());
  LowBitConvInput in;
  for (auto _ : st) {
    LowBitConv(pk, p, x.data(), y.data(), in, nullptr);  // input packing included
    benchmark::DoNotOptimize(y.data());
  }
  SetConvCounters(st, p);
}

void SetGemvCounters(benchmark::State& st, int64_t k, int64_t n) {
  st.counters["GOPS"] = benchmark::Counter(2.0 * k * n * 1e-9 * st.iterations(), benchmark::Counter::kIsRate);
}

GemmQ8Params Fc(int64_t k, int64_t n) {
  GemmQ8Params p;
  p.m = 1, p.n = n, p.k = k;
  p.transpose_b = true;  // ONNX Gemm weights [N, K]
  p.a_zero_point = {128};
  p.multiplier = {QuantizeMultiplier(1.0 / 65536)};
  p.c_zero_point = 128;
  p.c_min = 0, p.c_max = 255;
  return p;
}

void BM_GemvInt8(benchmark::State& st, int64_t k, int64_t n) {
  const GemmQ8Params p = Fc(k, n);
  const auto a = Random<uint8_t>(p.k, 0, 255, 3);
  const auto b = Random<int8_t>(p.k * p.n, -127, 127, 4);
  std::vector<uint8_t> c(p.n);
  const GemmQ8Packed pk = PackGemmQ8(p, b.data(), nullptr, ActiveIsa());
  const int64_t tasks = GemmQ8FastTaskCount(pk, 1);
  for (auto _ : st) {
    GemmQ8FastRun(pk, 1, a.data(), c.data(), 0, tasks);
    benchmark::DoNotOptimize(c.data());
  }
  SetGemvCounters(st, p.k, p.n);
}

// A plain int8 VNNI GEMV in the same style as lowbit_gemv (64-column
// superblocks, 16 columns x 4 depth values per 64-byte load, vpdpbusd), as a
// second baseline next to gemm_q8_fast (a general GEMM run at M = 1). Its
// epilogue only adds the bias and requantizes in scalar (the zero-point
// correction is left out, so it is, if anything, flattered).
struct Int8Gemv {
  int64_t n = 0, k4 = 0, sb = 0;
  std::vector<int8_t> w;  // [sb][k4][4][64]
  std::vector<int32_t> bias;
};

Int8Gemv PackInt8Gemv(const std::vector<int8_t>& b_nk, int64_t n, int64_t k) {
  Int8Gemv g;
  g.n = n;
  g.k4 = (k + 3) / 4;
  g.sb = (n + 63) / 64;
  g.w.assign(g.sb * g.k4 * 256, 0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t l = 0; l < k; ++l)
      g.w[((j / 64) * g.k4 + l / 4) * 256 + ((j % 64) / 16) * 64 + (j % 16) * 4 + l % 4] = b_nk[j * k + l];
  g.bias.assign(n, 0);
  return g;
}

__attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni"))) void Int8GemvRun(
    const Int8Gemv& g, const uint8_t* a_padded, FixedPointMultiplier m, uint8_t* c) {
  alignas(64) int32_t dot[64];
  for (int64_t sb = 0; sb < g.sb; ++sb) {
    const int8_t* w = g.w.data() + sb * g.k4 * 256;
    __m512i acc[2][4];
    for (int h = 0; h < 2; ++h)
      for (int cb = 0; cb < 4; ++cb) acc[h][cb] = _mm512_setzero_si512();
    for (int64_t q = 0; q < g.k4; ++q, w += 256) {
      int32_t a4;
      std::memcpy(&a4, a_padded + 4 * q, 4);
      const __m512i av = _mm512_set1_epi32(a4);
      for (int cb = 0; cb < 4; ++cb)
        acc[q & 1][cb] = _mm512_dpbusd_epi32(acc[q & 1][cb], av, _mm512_loadu_si512(w + 64 * cb));
    }
    for (int cb = 0; cb < 4; ++cb) _mm512_store_si512(dot + 16 * cb, _mm512_add_epi32(acc[0][cb], acc[1][cb]));
    const int64_t j1 = std::min<int64_t>(64, g.n - sb * 64);
    for (int64_t jj = 0; jj < j1; ++jj)
      c[sb * 64 + jj] = static_cast<uint8_t>(Requantize(dot[jj] + g.bias[sb * 64 + jj], m, 128, 0, 255));
  }
}

void BM_GemvInt8Vnni(benchmark::State& st, int64_t k, int64_t n) {
  if (!IsaSupported(Isa::kAvx512Vnni)) {
    st.SkipWithError("no AVX-512 VNNI");
    return;
  }
  const GemmQ8Params p = Fc(k, n);
  auto a = Random<uint8_t>(p.k, 0, 255, 3);
  a.resize(p.k + 4, 0);
  const auto b = Random<int8_t>(p.k * p.n, -127, 127, 4);
  std::vector<uint8_t> c(p.n);
  const Int8Gemv g = PackInt8Gemv(b, p.n, p.k);
  for (auto _ : st) {
    Int8GemvRun(g, a.data(), p.multiplier[0], c.data());
    benchmark::DoNotOptimize(c.data());
  }
  SetGemvCounters(st, p.k, p.n);
}

void BM_GemvLowBit(benchmark::State& st, int64_t k, int64_t n, int bits) {
  const GemmQ8Params p = Fc(k, n);
  const auto a = Random<uint8_t>(p.k, 0, 255, 3);
  const auto b = Random<int8_t>(p.k * p.n, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, 4);
  std::vector<uint8_t> c(p.n);
  const LowBitGemvPacked pk = PackLowBitGemv(p, b.data(), nullptr, bits, true, ActiveIsa());
  const int64_t tasks = LowBitGemvTaskCount(pk);
  for (auto _ : st) {
    LowBitGemvRun(pk, 1, a.data(), c.data(), 0, tasks);
    benchmark::DoNotOptimize(c.data());
  }
  SetGemvCounters(st, p.k, p.n);
}

const std::vector<std::pair<int64_t, int64_t>> kConvShapes = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};
const std::vector<std::pair<int64_t, int64_t>> kFcShapes = {{4096, 4096}, {4096, 1024}, {1024, 4096}, {512, 1000}};

std::string Name(const char* fmt, const char* kind, int64_t x, int64_t y) {
  char buf[96];
  std::snprintf(buf, sizeof buf, fmt, kind, static_cast<long long>(x), static_cast<long long>(y));
  return buf;
}

// Arguments are bound in lambdas (not Args()) so the names stay "family/kind/shape".
void Register() {
  using Fn = void (*)(benchmark::State&, int64_t, int64_t, int);
  auto reg = [](const std::string& name, Fn fn, int64_t x, int64_t y, int bits) {
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { fn(st, x, y, bits); })
        ->Unit(benchmark::kMicrosecond);
  };
  for (auto [c, hw] : kConvShapes) {
    const std::string shape = std::to_string(c) + "x" + std::to_string(hw) + "x" + std::to_string(hw);
    reg("conv/int8/" + shape, [](benchmark::State& st, int64_t x, int64_t y, int) { BM_ConvInt8(st, x, y); }, c, hw, 8);
    reg("conv/binary/" + shape, BM_ConvLowBit, c, hw, 1);
    for (const char* kind : {"w2a2", "w3a3", "w4a4"}) reg("conv/" + std::string(kind) + "/" + shape, BM_ConvLowBit, c, hw, kind[1] - '0');
  }
  for (auto [k, n] : kFcShapes) {
    reg(Name("gemv/%s/%lldx%lld", "int8", k, n), [](benchmark::State& st, int64_t x, int64_t y, int) { BM_GemvInt8(st, x, y); }, k, n, 8);
    reg(Name("gemv/%s/%lldx%lld", "int8vnni", k, n), [](benchmark::State& st, int64_t x, int64_t y, int) { BM_GemvInt8Vnni(st, x, y); }, k, n, 8);
    reg(Name("gemv/%s/%lldx%lld", "w4a8", k, n), BM_GemvLowBit, k, n, 4);
    reg(Name("gemv/%s/%lldx%lld", "w2a8", k, n), BM_GemvLowBit, k, n, 2);
  }
}

// Console output as usual, plus the per-iteration time of every run for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> time_us;  // CPU time per iteration (robust on a shared machine)
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.run_type == Run::RT_Iteration) {
        std::string name = r.benchmark_name();
        name = name.substr(0, name.find("/min_time"));
        time_us[name] = r.GetAdjustedCPUTime();
      }
    ConsoleReporter::ReportRuns(runs);
  }
};

// "conv/binary/64x56x56" -> "conv/<base>/64x56x56"
std::string Twin(const std::string& name, const char* base) {
  const size_t a = name.find('/'), b = name.find('/', a + 1);
  return name.substr(0, a + 1) + base + name.substr(b);
}

}  // namespace
}  // namespace nibble

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nibble::Register();
  nibble::RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  std::printf("\nisa=%s   speed-up = baseline CPU time / kernel CPU time, same shape:\n",
              nibble::IsaName(nibble::ActiveIsa()));
  for (const auto& [name, t] : rep.time_us) {
    if (name.find("/int8") != std::string::npos) continue;
    std::printf("  %-26s %9.1f us", name.c_str(), t);
    for (const char* base : {"int8", "int8vnni"}) {
      const auto it = rep.time_us.find(nibble::Twin(name, base));
      if (it != rep.time_us.end()) std::printf("   vs %-8s %8.1f us x%5.2f", base, it->second, it->second / t);
    }
    std::printf("\n");
  }
  benchmark::Shutdown();
  return 0;
}
