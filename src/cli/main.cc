// `nibble` command line: inspect, run, bench. Every failure is one line on
// stderr, "nibble: error: <file>: <node>: <reason>", and exit code 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>

#include "cli/commands.h"
#include "kernels/x86/isa.h"
#include "nibble/error.h"

int main(int argc, char** argv) {
  using namespace nibble::cli;
  CLI::App app{"nibble: quantize neural networks to 8..1 bits and run them with integer arithmetic"};
  app.require_subcommand(1);

  InspectOptions io;
  auto* inspect = app.add_subcommand("inspect", "inputs, outputs, op histogram, parameters, MACs and memory per layer");
  inspect->add_option("model", io.model, "ONNX model")->required();
  bool no_opt = false;
  inspect->add_flag("--no-optimize", no_opt, "show the graph as imported, before passes");

  RunOptions ro;
  auto* run = app.add_subcommand("run", "run once; write each output as OUTDIR/<output name>.npy");
  run->add_option("model", ro.model, "ONNX model")->required();
  run->add_option("-i,--input", ro.inputs, "FILE.npy, or NAME=FILE.npy for a named input")->required();
  run->add_option("-o,--out", ro.out_dir, "output folder")->required();
  run->add_option("--threads", ro.threads, "worker threads")->check(CLI::Range(0, 256));
  run->add_option("--disable-pass", ro.disabled_passes,
                  "skip a graph pass by name (e.g. fold-qdq runs a QDQ model as float fake quantization)")
      ->delimiter(',');

  // --isa: run the integer kernels at a lower x86 level (as NIBBLE_ISA does), to compare paths.
  auto isa_option = [](CLI::App* cmd) {
    cmd->add_option_function<std::string>(
           "--isa",
           [](const std::string& name) {
             const auto isa = nibble::ParseIsa(name);
             if (!isa) throw CLI::ValidationError("--isa", "'" + name + "' is not scalar, avx2, avxvnni, avx512vnni or amx");
             nibble::SetIsaOverride(*isa);
           },
           "kernel level: scalar, avx2, avxvnni, avx512vnni or amx (default: the best this CPU runs)");
  };
  isa_option(run);

  BenchOptions bo;
  auto* bench = app.add_subcommand("bench", "latency median and p90, and peak memory");
  bench->add_option("model", bo.model, "ONNX model")->required();
  bench->add_option("--threads", bo.threads, "worker threads")->check(CLI::Range(0, 256));
  bench->add_option("--runs", bo.runs, "timed runs")->check(CLI::Range(1, 1000000));
  bench->add_option("--warmup", bo.warmup, "untimed runs first")->check(CLI::Range(0, 1000000));
  bench->add_option("--warmup-ms", bo.warmup_ms,
                    "keep running untimed until at least this many milliseconds have passed (a short process's "
                    "first milliseconds: threads still being placed on CPUs)")
      ->check(CLI::Range(0.0, 600000.0));
  bench->add_flag("--profile", bo.profile, "also print time per op type and per node (warm-up runs excluded)");
  bench->add_option("--disable-pass", bo.disabled_passes,
                    "skip a graph pass by name (fold-qdq: time a quantized model as float fake quantization)")
      ->delimiter(',');
  isa_option(bench);

  ConvertOptions co;
  auto* convert = app.add_subcommand("convert", "import a model and write it back as ONNX (optionally optimized)");
  convert->add_option("model", co.model, "ONNX model")->required();
  convert->add_option("-o,--out", co.out, "output .onnx file")->required();
  convert->add_flag("--optimize", co.optimize, "run the graph passes first (folding, fusion, ...)");
  convert->add_option("--to", co.to, "onnx (default), or qonnx: a QDQ model written with QONNX Quant/BipolarQuant nodes")
      ->check(CLI::IsMember({"onnx", "qonnx"}));
  convert->add_option("--external-data-above", co.external_data_above,
                      "write initializers over this many bytes to OUT.data")->check(CLI::Range(0LL, 1LL << 40));
  convert->add_option("--weights", co.weights,
                      "how weight codes of 4 bits or fewer are stored: int4 (default; ONNX INT4, opset 21), "
                       "int8 (one per byte, QCDQ), packed (at their exact width; nibble only)")
      ->check(CLI::IsMember({"int8", "int4", "packed"}));

  QuantizeCliOptions qo;
  auto* quantize = app.add_subcommand("quantize", "post-training quantization to 8..1 bits; writes a QDQ ONNX model");
  quantize->add_option("model", qo.model, "float ONNX model")->required();
  quantize->add_option("--calib", qo.calib, "calibration data (idx:IMAGES[,LABELS], a folder of .npy, NAME=DIR, images:DIR)")
      ->required();
  quantize->add_option("-o,--out", qo.out, "output .onnx (QDQ)")->required();
  quantize->add_option("--method", qo.method,
                       "minmax, percentile, entropy or mse (default: minmax, and mse for activations of 3 bits or "
                       "fewer)");
  quantize->add_flag("--per-tensor", qo.per_tensor, "one weight scale per tensor (default: per output channel)");
  quantize->add_flag("--per-channel", [&](int64_t) { qo.per_tensor = false; }, "one weight scale per output channel (default)");
  quantize->add_flag("--symmetric", qo.symmetric, "symmetric activations");
  quantize->add_flag("--int8-activations", qo.int8_activations, "int8 activations (default uint8)");
  quantize->add_option("--calib-size", qo.calib_size, "calibration samples (the first N)")->check(CLI::Range(1, 1 << 30));
  quantize->add_option("--exclude", qo.exclude, "node names to keep in float")->delimiter(',');
  quantize->add_option("--threads", qo.threads, "worker threads")->check(CLI::Range(0, 256));
  quantize->add_option("--bits", qo.bits, "precision wNaM: N-bit weights, M-bit activations, 1..8 (default w8a8)");
  quantize->add_option("--layer-bits", qo.layer_bits, "NODE=W,A: the precision of one layer (repeatable)");
  quantize->add_option("--bits-config", qo.bits_config,
                       "JSON file: {\"default\": \"w4a8\", \"layers\": {\"conv1\": \"w8a8\"}, \"first_last_8bit\": true}")
      ->check(CLI::ExistingFile);
  quantize->add_flag("--no-first-last-8bit", qo.no_first_last_8bit,
                     "first and last weight layers at --bits too (default: they stay w8a8)");
  quantize->add_option("--weights", qo.weights,
                       "how weight codes of 4 bits or fewer are stored: int4 (default; ONNX INT4, opset 21), "
                       "int8 (one per byte, QCDQ), packed (at their exact width; nibble only)")
      ->check(CLI::IsMember({"int8", "int4", "packed"}));
  qo.data.Add(quantize);

  EvalOptions eo;
  auto* eval = app.add_subcommand("eval", "accuracy on labelled data; per-layer SQNR against a float model");
  eval->add_option("model", eo.model, "ONNX model (float or quantized)")->required();
  eval->add_option("--data", eo.data, "evaluation data (as --calib of quantize)")->required();
  eval->add_option("--limit", eo.limit, "only the first N samples");
  eval->add_option("--reference", eo.reference, "the float model, for per-layer SQNR");
  eval->add_option("--sqnr-samples", eo.sqnr_samples, "samples for the per-layer SQNR")->check(CLI::Range(1, 1 << 30));
  eval->add_option("--threads", eo.threads, "worker threads")->check(CLI::Range(0, 256));
  eo.flags.Add(eval);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*inspect) {
      io.optimize = !no_opt;
      return Inspect(io);
    }
    if (*run) return Run(ro);
    if (*bench) return Bench(bo);
    if (*quantize) return Quantize(qo);
    if (*eval) return Eval(eo);
    if (*convert) return Convert(co);
  } catch (const nibble::Error& e) {
    std::fprintf(stderr, "nibble: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "nibble: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nibble: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
