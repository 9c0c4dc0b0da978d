// `nibble convert`: import a model, optionally run the optimization passes,
// and write it back as ONNX — the exporter's path from the command line.
#include <cstdio>

#include "cli/commands.h"
#include "graph/graph.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "onnx/qonnx_export.h"
#include "onnx/weight_storage.h"
#include "base/qonnx_quant.h"
#include "runtime/optimize.h"

namespace nibble::cli {

int Convert(const ConvertOptions& o) {
  Graph g = ImportOnnxFile(o.model);
  ExportOptions eo;
  if (o.to == "qonnx") {
    // The Q/DQ nodes are what becomes Quant; fold-qdq would consume them.
    if (o.optimize) OptimizeGraph(g, {"fold-qdq", "lower-qonnx"});
    const int n = ConvertQdqToQonnx(g);
    NIBBLE_CHECK(n > 0, o.model, ": no QuantizeLinear/DequantizeLinear pair to write as QONNX Quant (is the model quantized?)");
    std::printf("%d QONNX quantizer nodes (Quant, BipolarQuant)\n", n);
    eo.domain_versions[qonnx::kDomain] = 1;
  } else {
    if (o.optimize) OptimizeGraph(g);
    const WeightStorageReport r = StoreWeightsCompactly(g, ParseWeightStorage(o.weights), eo);
    if (!r.note.empty()) std::printf("note: %s\n", r.note.c_str());
  }
  eo.external_data_threshold = o.external_data_above;
  ExportOnnxFile(g, o.out, eo);
  int64_t params = 0, fused = 0;
  for (const Value& v : g.values)
    if (v.is_constant()) params += static_cast<int64_t>(v.constant.nbytes());
  for (const Node& n : g.nodes) fused += n.fused.kind != Activation::Kind::kNone;
  std::printf("wrote %s: opset %lld, %zu nodes (%lld with a fused activation, written as a separate node), "
              "%lld bytes of constants\n",
              o.out.c_str(), static_cast<long long>(g.opset), g.nodes.size(), static_cast<long long>(fused),
              static_cast<long long>(params));
  return 0;
}

}  // namespace nibble::cli
