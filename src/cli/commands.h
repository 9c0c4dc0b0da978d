// The `nibble` subcommands. Each takes parsed options and returns an exit code;
// errors are thrown as nibble::Error and printed by main as one line.
#pragma once
#include <string>
#include <vector>

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
};
int Run(const RunOptions& o);

struct BenchOptions {
  std::string model;
  int threads = 1;
  int runs = 50;
  int warmup = 5;
  bool profile = false;
};
int Bench(const BenchOptions& o);

}  // namespace nibble::cli
