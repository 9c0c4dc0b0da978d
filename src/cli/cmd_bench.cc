#include <algorithm>
#include <map>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

#include "base/cpu_features.h"
#include "cli/commands.h"
#include "kernels/x86/isa.h"
#include "nibble/session.h"

namespace nibble::cli {
namespace {

// Peak resident memory of this process (VmHWM), in MiB.
double PeakMemoryMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

Tensor RandomInput(const IoInfo& in, std::mt19937& rng) {
  Shape s = in.shape;
  for (int64_t& d : s)
    if (d < 0) d = 1;  // dynamic dims: batch 1
  Tensor t(in.dtype, s);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  if (in.dtype == DType::kFloat32)
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  // Integer inputs (token ids, indices) stay zero: always in range.
  return t;
}

// `prof` holds the timed runs only (the warm-up runs' times are subtracted).
void PrintProfile(std::vector<NodeProfile> prof, int runs) {
  std::map<std::string, std::pair<double, int>> by_op;
  double total = 0;
  for (const auto& p : prof) {
    by_op[p.op_type].first += p.total_ms / runs;
    by_op[p.op_type].second++;
    total += p.total_ms / runs;
  }
  std::printf("time per run by op type (ms, %% of %.3f ms in kernels):\n", total);
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [op, v] : by_op) ops.push_back({v.first, op});
  std::sort(ops.rbegin(), ops.rend());
  for (const auto& [ms, op] : ops)
    std::printf("  %-24s %9.3f  %5.1f%%  (%d nodes)\n", op.c_str(), ms, 100 * ms / total, by_op[op].second);
  std::sort(prof.begin(), prof.end(), [](const NodeProfile& a, const NodeProfile& b) { return a.total_ms > b.total_ms; });
  std::printf("nodes, slowest first (ms per run):\n");
  for (size_t i = 0; i < prof.size(); ++i)
    std::printf("  %-40s %-16s %9.3f\n", prof[i].name.c_str(), prof[i].op_type.c_str(), prof[i].total_ms / runs);
}

}  // namespace

int Bench(const BenchOptions& o) {
  SessionOptions so;
  so.threads = o.threads;
  so.profile = o.profile;
  so.disabled_passes = o.disabled_passes;
  auto session = Session::Load(o.model, so);
  std::mt19937 rng(42);
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const auto& in : session->inputs()) inputs.emplace_back(in.name, RandomInput(in, rng));
  const auto warm0 = std::chrono::steady_clock::now();
  int warmup_runs = 0;
  for (; warmup_runs < o.warmup ||
         std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - warm0).count() < o.warmup_ms;
       ++warmup_runs)
    session->Run(inputs);
  // Warm-up runs carry one-off costs (first-touch pages, oneDNN's setup): keep them out of the profile.
  const std::vector<NodeProfile> after_warmup = session->profile();
  std::vector<double> ms;
  for (int i = 0; i < o.runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    session->Run(inputs);
    auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  double median = ms[ms.size() / 2];
  double p90 = ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * 0.9))];
  std::printf("model: %s\n", o.model.c_str());
  std::printf("threads: %d  isa: %s  cpu: %s\n", o.threads, IsaName(ActiveIsa()), CpuFeatureSummary().c_str());
  std::printf("runs=%d warmup=%d median_ms=%.4f p90_ms=%.4f min_ms=%.4f arena_mb=%.2f peak_mem_mb=%.1f\n", o.runs,
              warmup_runs, median, p90, ms.front(), session->arena_bytes() / 1048576.0, PeakMemoryMb());
  if (o.profile) {
    std::vector<NodeProfile> prof = session->profile();
    for (size_t i = 0; i < prof.size() && i < after_warmup.size(); ++i) prof[i].total_ms -= after_warmup[i].total_ms;
    PrintProfile(prof, o.runs);
  }
  return 0;
}

}  // namespace nibble::cli
