#include "quant/calibrate.h"

#include "data/progress.h"
#include "nibble/session.h"

namespace nibble {

std::vector<std::pair<std::string, Tensor>> SampleInputs(const Graph& g, const Sample& s) {
  std::vector<std::pair<std::string, Tensor>> r;
  for (const auto& [name, t] : s.inputs) {
    if (!name.empty()) {
      r.emplace_back(name, t);
      continue;
    }
    NIBBLE_CHECK(g.inputs.size() == 1, g.path, ": the data gives one unnamed input but the model has ",
                 g.inputs.size(), " inputs; name them NAME=DIR");
    r.emplace_back(g.values[g.inputs[0]].name, t);
  }
  return r;
}

std::vector<ValueObserver> Calibrate(const Graph& g, const Dataset& data, const std::vector<int64_t>& indices,
                                     CalibMethod method, int threads) {
  NIBBLE_CHECK(!indices.empty(), "calibration needs at least one sample");
  SessionOptions so;
  so.threads = threads;
  so.optimize = false;
  auto session = Session::FromGraph(Graph(g), so);
  std::vector<ValueObserver> obs(g.values.size());
  const bool histograms = method != CalibMethod::kMinMax;
  for (int pass = 0; pass < (histograms ? 2 : 1); ++pass) {
    session->SetValueObserver([&](int v, const Tensor& t) {
      if (t.dtype() != DType::kFloat32) return;
      if (pass == 0) obs[v].ObserveMinMax(t.data<float>(), t.numel());
      else obs[v].ObserveHistogram(t.data<float>(), t.numel());
    });
    Progress progress(pass == 0 ? "calibrating (ranges)" : "calibrating (histograms)",
                      static_cast<int64_t>(indices.size()));
    for (size_t k = 0; k < indices.size(); ++k) {
      session->Run(SampleInputs(g, data.Get(indices[k])));
      progress.Update(static_cast<int64_t>(k + 1));
    }
    if (pass == 0 && histograms)
      for (auto& o : obs) o.StartHistogram();
  }
  return obs;
}

}  // namespace nibble
