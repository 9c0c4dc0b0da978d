// libFuzzer target: any byte string given to the importer must end in a model
// or a nibble::Error, never a crash, a sanitizer report or a huge allocation.
// Models that import are also planned and run once on zeros when small.
// A unit that takes longer than kSlowUnitSeconds aborts, so libFuzzer saves it
// as a crash (its own SIGALRM timeout is off: see run_fuzzer.sh).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "graph/graph.h"
#include "nibble/session.h"
#include "onnx/import.h"

namespace {

constexpr double kSlowUnitSeconds = 10;

// Aborts when the unit it guards ran too long (checked when it returns).
struct SlowUnitGuard {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~SlowUnitGuard() {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s > kSlowUnitSeconds) {
      std::fprintf(stderr, "import_fuzzer: one unit took %.1f s (limit %.0f s)\n", s, kSlowUnitSeconds);
      std::abort();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nibble;
  SlowUnitGuard guard;
  try {
    Graph g = ImportOnnxBytes(data, size, "fuzz.onnx", "");
    auto s = Session::FromGraph(std::move(g));
    std::vector<std::pair<std::string, Tensor>> inputs;
    int64_t total = 0;
    for (const auto& in : s->inputs()) {
      Shape shape = in.shape;
      for (int64_t& d : shape)
        if (d < 0) d = 1;
      total += ShapeNumel(shape);
      if (total > (1 << 16)) return 0;
      inputs.emplace_back(in.name, Tensor(in.dtype, shape));
    }
    s->Run(inputs);
  } catch (const Error&) {
  }
  return 0;
}
