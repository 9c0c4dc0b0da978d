#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/dataset_spec.h"
#include "onnx/export.h"
#include "onnx/weight_storage.h"
#include "onnx/import.h"
#include "quant/quantize.h"

namespace nibble::cli {
namespace {

// --bits-config, then --bits, --layer-bits and --no-first-last-8bit over it.
void ReadPrecision(const QuantizeCliOptions& o, QuantizeOptions& q) {
  if (!o.bits_config.empty()) {
    std::ifstream f(o.bits_config);
    NIBBLE_CHECK(f, o.bits_config, ": cannot open");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      Fail(o.bits_config, ": not valid JSON: ", e.what());
    }
    NIBBLE_CHECK(j.is_object(), o.bits_config, ": expected an object with \"default\", \"layers\", \"first_last_8bit\"");
    for (const auto& [key, val] : j.items()) {
      if (key == "default") {
        NIBBLE_CHECK(val.is_string(), o.bits_config, ": \"default\" must be a string like \"w4a8\"");
        q.bits = ParseLayerBits(val.get<std::string>(), o.bits_config + ": default");
      } else if (key == "layers") {
        NIBBLE_CHECK(val.is_object(), o.bits_config, ": \"layers\" must map node names to \"wNaM\"");
        for (const auto& [node, b] : val.items()) {
          NIBBLE_CHECK(b.is_string(), o.bits_config, ": layer '", node, "' must be a string like \"w8a8\"");
          q.layer_bits[node] = ParseLayerBits(b.get<std::string>(), o.bits_config + ": layer '" + node + "'");
        }
      } else if (key == "first_last_8bit") {
        NIBBLE_CHECK(val.is_boolean(), o.bits_config, ": \"first_last_8bit\" must be true or false");
        q.first_last_8bit = val.get<bool>();
      } else {
        Fail(o.bits_config, ": unknown key \"", key, "\" (expected default, layers, first_last_8bit)");
      }
    }
  }
  if (!o.bits.empty()) q.bits = ParseLayerBits(o.bits, "--bits");
  for (const std::string& spec : o.layer_bits) {
    const size_t eq = spec.rfind('=');
    NIBBLE_CHECK(eq != std::string::npos && eq > 0, "--layer-bits '", spec, "': expected NODE=W,A (e.g. conv1=8,8)");
    const std::string node = spec.substr(0, eq), b = spec.substr(eq + 1);
    LayerBits lb;
    if (b.size() == 3 && b[1] == ',' && b[0] >= '1' && b[0] <= '8' && b[2] >= '1' && b[2] <= '8')
      lb = LayerBits{b[0] - '0', b[2] - '0'};
    else
      lb = ParseLayerBits(b, "--layer-bits '" + spec + "'");
    q.layer_bits[node] = lb;
  }
  if (o.no_first_last_8bit) q.first_last_8bit = false;
}

}  // namespace

int Quantize(const QuantizeCliOptions& o) {
  Graph g = ImportOnnxFile(o.model);
  auto data = OpenDataset(o.calib, o.data.ToPreprocess());
  QuantizeOptions q;
  q.method = ParseCalibMethod(o.method.empty() ? "minmax" : o.method);
  if (o.method.empty()) q.mse_at_or_below_bits = 3;
  q.per_channel = !o.per_tensor;
  q.symmetric_activations = o.symmetric;
  q.signed_activations = o.int8_activations;
  q.calib_size = o.calib_size;
  q.exclude = o.exclude;
  q.threads = o.threads;
  ReadPrecision(o, q);
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
  eo.metadata_props.push_back({"nibble.quantize", Cat("method=", o.method.empty() ? "minmax (mse at <= 3-bit activations)" : o.method, " per_channel=", q.per_channel,
                                                " activations=", q.signed_activations ? "int8" : "uint8",
                                                " calib_size=", q.calib_size, " bits=", LayerBitsName(q.bits),
                                                " first_last_8bit=", q.first_last_8bit)});
  const WeightStorageReport ws = StoreWeightsCompactly(r.graph, ParseWeightStorage(o.weights), eo);
  ExportOnnxFile(r.graph, o.out, eo);
  std::printf("wrote %s (%lld bytes; float model %lld bytes)\n", o.out.c_str(),
              static_cast<long long>(std::filesystem::file_size(o.out)),
              static_cast<long long>(std::filesystem::file_size(o.model)));
  if (ws.int4) std::printf("%d weight tensors of 4 bits or fewer stored as INT4 (opset %lld)\n", ws.int4,
                          static_cast<long long>(r.graph.opset));
  if (ws.packed) std::printf("%d weight tensors stored bit-packed (ai.nibble.UnpackBits; only nibble reads it)\n", ws.packed);
  if (!ws.note.empty()) std::printf("note: %s\n", ws.note.c_str());
  std::printf("%zu nodes: %zu integer, %d float\n", r.decisions.size(), r.decisions.size() - floats, floats);
  for (const auto& d : r.decisions)
    if (!d.integer) std::printf("  float: %-32s %-16s %s\n", d.node.c_str(), d.op.c_str(), d.reason.c_str());
  for (const auto& d : r.decisions)
    if (!d.precision.empty()) std::printf("  %-6s %-32s %s\n", d.precision.c_str(), d.node.c_str(), d.op.c_str());
  return 0;
}

}  // namespace nibble::cli
