#include <cstdio>

#include "cli/commands.h"
#include "data/dataset_spec.h"
#include "quant/evaluate.h"

namespace nibble::cli {

int Eval(const EvalOptions& o) {
  auto data = OpenDataset(o.data, o.flags.ToPreprocess());
  auto indices = FirstIndices(data->size(), o.limit);
  SessionOptions so;
  so.threads = o.threads;
  auto s = Session::Load(o.model, so);
  Accuracy a = EvaluateClassifier(*s, *data, indices, "evaluating");
  std::printf("model: %s\ndata: %s\n", o.model.c_str(), data->Summary().c_str());
  if (a.samples)
    std::printf("samples=%lld top1=%.2f%% top5=%.2f%% ms_per_sample=%.3f\n", static_cast<long long>(a.samples),
                a.top1_pct(), a.top5_pct(), a.ms_per_sample);
  else
    std::printf("samples=%zu (no labels) ms_per_sample=%.3f\n", indices.size(), a.ms_per_sample);
  if (!o.reference.empty()) {
    auto fp = Session::Load(o.reference, so);
    auto sub = FirstIndices(data->size(), std::min<int64_t>(o.sqnr_samples, static_cast<int64_t>(indices.size())));
    auto layers = CompareLayers(*fp, *s, *data, sub);
    std::printf("per-layer SQNR against %s over %zu samples (worst first):\n", o.reference.c_str(), sub.size());
    for (const auto& l : layers) std::printf("  %-40s %-18s %7.2f dB\n", l.value.c_str(), l.op.c_str(), l.sqnr_db);
  }
  return 0;
}

}  // namespace nibble::cli
