// A/B of one graph pass inside one process: the same model in two
// sessions, one with the pass disabled, run in alternating rounds so
// that both see the same machine state. This host's AMX unit switches between
// a fast and a slow phase within seconds (docs/benchmarks.md), so timings
// from separate processes differ by more than most changes do; a round pair
// here shares its phase.
//
//   nibble_session_ab MODEL DISABLED_PASS [threads] [rounds] [runs per round]
//
// The model's inputs must be float32 (filled with random normal values).
//
// Prints per round the median run time of each session and their ratio, then
// the median of the ratios and each session's best round median.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "nibble/session.h"

namespace {

double MedianMs(nibble::Session& s, const std::vector<std::pair<std::string, nibble::Tensor>>& in, int runs) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    s.Run(in);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL DISABLED_PASS [threads] [rounds] [runs]\n", argv[0]);
    return 2;
  }
  const int threads = std::max(1, argc > 3 ? std::atoi(argv[3]) : 1);
  const int rounds = std::max(1, argc > 4 ? std::atoi(argv[4]) : 20);
  const int runs = std::max(1, argc > 5 ? std::atoi(argv[5]) : 20);
  nibble::SessionOptions a, b;
  a.threads = b.threads = threads;
  b.disabled_passes = {argv[2]};
  auto sa = nibble::Session::Load(argv[1], a);
  auto sb = nibble::Session::Load(argv[1], b);
  std::vector<std::pair<std::string, nibble::Tensor>> in;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (const nibble::IoInfo& io : sa->inputs()) {
    if (io.dtype != nibble::DType::kFloat32) {
      std::fprintf(stderr, "%s: input '%s' is not float32: only float inputs are filled with random values\n",
                   argv[1], io.name.c_str());
      return 2;
    }
    nibble::Shape shape = io.shape;
    for (auto& d : shape) d = d < 0 ? 1 : d;
    nibble::Tensor t(io.dtype, shape);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = nd(rng);
    in.emplace_back(io.name, std::move(t));
  }
  for (int i = 0; i < 5; ++i) sa->Run(in), sb->Run(in);
  std::printf("model %s, threads %d, B: without %s\n", argv[1], threads, argv[2]);
  std::vector<double> ratio, ta_all, tb_all;
  double best_a = 1e30, best_b = 1e30;
  for (int r = 0; r < rounds; ++r) {
    // Alternate which goes first.
    double ta, tb;
    if (r % 2 == 0) ta = MedianMs(*sa, in, runs), tb = MedianMs(*sb, in, runs);
    else tb = MedianMs(*sb, in, runs), ta = MedianMs(*sa, in, runs);
    ratio.push_back(tb / ta);
    ta_all.push_back(ta), tb_all.push_back(tb);
    best_a = std::min(best_a, ta), best_b = std::min(best_b, tb);
    std::printf("round %2d  A %.3f ms  B %.3f ms  B/A %.3f\n", r, ta, tb, tb / ta);
  }
  // Rounds where both sessions ran within 25% of their best: the machine's
  // fast phase, where a change to the vector work around the tile products
  // shows (in the slow phase the tile unit bounds both).
  std::vector<double> fast;
  for (size_t r = 0; r < ratio.size(); ++r)
    if (ta_all[r] < 1.25 * best_a && tb_all[r] < 1.25 * best_b) fast.push_back(ratio[r]);
  std::sort(ratio.begin(), ratio.end());
  std::sort(fast.begin(), fast.end());
  std::printf("median B/A %.3f  best round A %.3f ms  B %.3f ms", ratio[ratio.size() / 2], best_a, best_b);
  if (!fast.empty()) std::printf("  fast rounds: %zu, median B/A %.3f", fast.size(), fast[fast.size() / 2]);
  std::printf("\n");
  return 0;
}

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
