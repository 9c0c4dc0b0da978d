#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "data/dataset_spec.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "quant/quantize.h"

namespace nibble::cli {

int Quantize(const QuantizeCliOptions& o) {
  Graph g = ImportOnnxFile(o.model);
  auto data = OpenDataset(o.calib, o.data.ToPreprocess());
  QuantizeOptions q;
  q.method = ParseCalibMethod(o.method);
  q.per_channel = !o.per_tensor;
  q.symmetric_activations = o.symmetric;
  q.signed_activations = o.int8_activations;
  q.calib_size = o.calib_size;
  q.exclude = o.exclude;
  q.threads = o.threads;
  std::fprintf(stderr, "calibrating on %lld of %s\n", static_cast<long long>(std::min<int64_t>(o.calib_size, data->size())),
               data->Summary().c_str());
  QuantizeResult r = QuantizeGraph(std::move(g), *data, q);
  ExportOptions eo;
  int floats = 0;
  for (const auto& d : r.decisions) {
    if (d.integer) continue;
    ++floats;
    eo.metadata_props.push_back({"nibble.float." + d.node, d.reason});
  }
  eo.metadata_props.push_back({"nibble.quantize", Cat("method=", o.method, " per_channel=", q.per_channel,
                                                " activations=", q.signed_activations ? "int8" : "uint8",
                                                " calib_size=", q.calib_size)});
  ExportOnnxFile(r.graph, o.out, eo);
  std::printf("wrote %s (%lld bytes; float model %lld bytes)\n", o.out.c_str(),
              static_cast<long long>(std::filesystem::file_size(o.out)),
              static_cast<long long>(std::filesystem::file_size(o.model)));
  std::printf("%zu nodes: %zu integer, %d float\n", r.decisions.size(), r.decisions.size() - floats, floats);
  for (const auto& d : r.decisions)
    if (!d.integer) std::printf("  float: %-32s %-16s %s\n", d.node.c_str(), d.op.c_str(), d.reason.c_str());
  return 0;
}

}  // namespace nibble::cli
