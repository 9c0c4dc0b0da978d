#include "quant/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "data/progress.h"
#include "graph/graph.h"
#include "quant/calibrate.h"

namespace nibble {
namespace {

std::string BaseName(std::string n) {
  for (const char* suffix : {"_quantized", "_prequant", "_dequantized"}) {
    const std::string s = suffix;
    if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) n.resize(n.size() - s.size());
  }
  return n;
}

double AsReal(const Tensor& t, const Value& v, int64_t i) {
  if (!v.quant) return t.AsDouble(i);
  const QuantParams& q = *v.quant;
  return q.scale[0] * (t.AsDouble(i) - (q.zero_point.empty() ? 0 : q.zero_point[0]));
}

}  // namespace

Accuracy EvaluateClassifier(Session& s, const Dataset& data, const std::vector<int64_t>& indices,
                            const std::string& label) {
  Accuracy a;
  Progress progress(label, static_cast<int64_t>(indices.size()));
  double total_ms = 0;
  for (size_t k = 0; k < indices.size(); ++k) {
    Sample smp = data.Get(indices[k]);
    auto inputs = SampleInputs(s.graph(), smp);
    auto t0 = std::chrono::steady_clock::now();
    auto out = s.Run(inputs);
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    progress.Update(static_cast<int64_t>(k + 1));
    if (smp.label < 0) continue;
    const Tensor& scores = out[0];
    std::vector<std::pair<double, int64_t>> ranked;
    for (int64_t i = 0; i < scores.numel(); ++i) ranked.push_back({-scores.AsDouble(i), i});
    std::partial_sort(ranked.begin(), ranked.begin() + std::min<size_t>(5, ranked.size()), ranked.end());
    ++a.samples;
    a.top1 += ranked[0].second == smp.label;
    for (size_t r = 0; r < std::min<size_t>(5, ranked.size()); ++r) a.top5 += ranked[r].second == smp.label;
  }
  a.ms_per_sample = indices.empty() ? 0 : total_ms / indices.size();
  return a;
}

std::vector<LayerError> CompareLayers(Session& fp, Session& quant, const Dataset& data,
                                      const std::vector<int64_t>& indices) {
  const Graph& fg = fp.graph();
  const Graph& qg = quant.graph();
  // quantized value id -> float value id, for values that hold codes.
  std::map<int, int> pair;
  for (size_t v = 0; v < qg.values.size(); ++v) {
    if (!qg.values[v].quant || qg.values[v].is_constant() || qg.values[v].quant->bits > 8) continue;
    int f = fg.FindValue(BaseName(qg.values[v].name));
    if (f >= 0 && !fg.values[f].is_constant()) pair[static_cast<int>(v)] = f;
  }
  std::map<int, Tensor> captured;  // float value id -> this sample's tensor
  std::map<int, std::pair<double, double>> acc;  // quantized value id -> (signal, noise)
  fp.SetValueObserver([&](int v, const Tensor& t) {
    for (const auto& [q, f] : pair)
      if (f == v && t.dtype() == DType::kFloat32) captured[v] = t.Clone();
  });
  quant.SetValueObserver([&](int v, const Tensor& t) {
    auto it = pair.find(v);
    if (it == pair.end()) return;
    auto c = captured.find(it->second);
    if (c == captured.end() || c->second.numel() != t.numel()) return;
    auto& [sig, noise] = acc[v];
    for (int64_t i = 0; i < t.numel(); ++i) {
      double x = c->second.data<float>()[i], xh = AsReal(t, qg.values[v], i);
      sig += x * x;
      noise += (x - xh) * (x - xh);
    }
  });
  Progress progress("comparing layers", static_cast<int64_t>(indices.size()));
  for (size_t k = 0; k < indices.size(); ++k) {
    Sample smp = data.Get(indices[k]);
    captured.clear();
    fp.Run(SampleInputs(fg, smp));
    quant.Run(SampleInputs(qg, smp));
    progress.Update(static_cast<int64_t>(k + 1));
  }
  fp.SetValueObserver(nullptr);
  quant.SetValueObserver(nullptr);
  std::vector<LayerError> r;
  for (const auto& [v, sn] : acc) {
    LayerError e;
    e.value = BaseName(qg.values[v].name);
    int p = qg.values[v].producer;
    e.op = p >= 0 ? qg.nodes[p].op_type : "input";
    e.sqnr_db = sn.second > 0 ? 10 * std::log10(sn.first / sn.second) : INFINITY;
    r.push_back(e);
  }
  std::sort(r.begin(), r.end(), [](const LayerError& a, const LayerError& b) { return a.sqnr_db < b.sqnr_db; });
  return r;
}

}  // namespace nibble
