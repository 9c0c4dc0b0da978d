// The `nibble` subcommands. Each takes parsed options and returns an exit code;
// errors are thrown as nibble::Error and printed by main as one line.
#pragma once
#include <string>
#include <vector>

#include "cli/data_options.h"

namespace nibble::cli {

struct InspectOptions {
  std::string model;
  bool optimize = true;
};
int Inspect(const InspectOptions& o);

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;  // FILE.npy or NAME=FILE.npy
  std::string out_dir;
  int threads = 1;
  std::vector<std::string> disabled_passes;  // e.g. fold-qdq: run a QDQ model as fake quantization in float
};
int Run(const RunOptions& o);

struct BenchOptions {
  std::string model;
  int threads = 1;
  int runs = 50;
  int warmup = 5;
  double warmup_ms = 0;  // and keep warming up until this much time has passed
  bool profile = false;
  std::vector<std::string> disabled_passes;
};
int Bench(const BenchOptions& o);

struct ConvertOptions {
  std::string model;
  std::string out;
  bool optimize = false;
  std::string to = "onnx";  // onnx, or qonnx: Quant/BipolarQuant nodes instead of Q/DQ
  long long external_data_above = -1;  // initializers over this many bytes go to OUT.data; -1: only if over 1.9 GiB
  std::string weights = "int4";        // weight codes at rest (onnx/weight_storage.h): int8, int4, packed
};
int Convert(const ConvertOptions& o);

struct QuantizeCliOptions {
  std::string model, out, method;  // "" = minmax, and mse for activations of 3 bits or fewer
  std::vector<std::string> calib;
  DataFlags data;
  bool per_tensor = false, symmetric = false, int8_activations = false;
  int64_t calib_size = 256;
  std::vector<std::string> exclude;
  int threads = 1;
  std::string bits;                     // "w4a8"; "" = the config file's default, else w8a8
  std::vector<std::string> layer_bits;  // NODE=W,A (or NODE=wNaM)
  std::string bits_config;              // JSON: {"default": "w4a8", "layers": {...}, "first_last_8bit": true}
  bool no_first_last_8bit = false;
  std::string weights = "int4";  // weight codes at rest (onnx/weight_storage.h): int8, int4, packed
};
int Quantize(const QuantizeCliOptions& o);

struct EvalOptions {
  std::string model, reference;
  std::vector<std::string> data;
  DataFlags flags;
  int64_t limit = -1, sqnr_samples = 64;
  int threads = 1;
};
int Eval(const EvalOptions& o);

}  // namespace nibble::cli
