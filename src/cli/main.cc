// `nibble` command line: inspect, run, bench. Every failure is one line on
// stderr, "nibble: error: <file>: <node>: <reason>", and exit code 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>

#include "cli/commands.h"
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

  BenchOptions bo;
  auto* bench = app.add_subcommand("bench", "latency median and p90, and peak memory");
  bench->add_option("model", bo.model, "ONNX model")->required();
  bench->add_option("--threads", bo.threads, "worker threads")->check(CLI::Range(0, 256));
  bench->add_option("--runs", bo.runs, "timed runs")->check(CLI::Range(1, 1000000));
  bench->add_option("--warmup", bo.warmup, "untimed runs first")->check(CLI::Range(0, 1000000));
  bench->add_flag("--profile", bo.profile, "also print time per op type and the slowest nodes");

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
