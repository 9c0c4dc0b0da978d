// Runs the ONNX backend node tests (onnx/backend/test/data/node) through
// nibble and compares every output with the expected one.
//
//   nibble_node_tests DATA_DIR [--filter SUBSTR] [--skips FILE] [--report FILE] [--verbose]
//
// A test is run when every operator of its model is one nibble registers and
// its opset is in nibble's range; every such test must pass unless the skip
// file lists it with a written reason. The exit code is non-zero on any failure.
#include <onnx/onnx_pb.h>

#include <fnmatch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nibble/session.h"
#include "onnx/import.h"
#include "runtime/op_registry.h"

namespace fs = std::filesystem;
using namespace nibble;

namespace {

struct Skip {
  std::string pattern;  // a shell glob: exact name, or with '*'
  std::string reason;
};

std::vector<Skip> LoadSkips(const std::string& path) {
  std::vector<Skip> r;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto bar = line.find('|');
    if (bar == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t") + 1);
      return s;
    };
    r.push_back({trim(line.substr(0, bar)), trim(line.substr(bar + 1))});
  }
  return r;
}

const Skip* FindSkip(const std::vector<Skip>& skips, const std::string& name) {
  for (const Skip& s : skips)
    if (fnmatch(s.pattern.c_str(), name.c_str(), 0) == 0) return &s;
  return nullptr;
}

// Why nibble does not run this model at all, or "" when it should.
std::string Unsupported(const std::string& model_path) {
  onnx::ModelProto m;
  std::ifstream f(model_path, std::ios::binary);
  if (!m.ParseFromIstream(&f)) return "model does not parse";
  int64_t opset = 0;
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  std::set<std::string> missing;
  for (const auto& n : m.graph().node())
    if (n.op_type() != "Constant" && !OpRegistry::Get().Find(n.domain(), n.op_type()))
      missing.insert((n.domain().empty() ? "" : n.domain() + ".") + n.op_type());
  if (!missing.empty()) {
    std::string s = "operator not supported:";
    for (const auto& op : missing) s += " " + op;
    return s;
  }
  if (opset < kMinOpset || opset > kMaxOpset) return "opset " + std::to_string(opset) + " outside 11-22";
  for (const auto* list : {&m.graph().input(), &m.graph().output()})
    for (const auto& v : *list) {
      if (!v.type().has_tensor_type()) return "non-tensor input or output (sequence/optional/map)";
      int t = v.type().tensor_type().elem_type();
      if (t == onnx::TensorProto::STRING || t == onnx::TensorProto::BFLOAT16 || t >= 17 /* float8 and int4 types */ ||
          t == onnx::TensorProto::COMPLEX64 || t == onnx::TensorProto::COMPLEX128)
        return "element type " + std::to_string(t) + " (string, bfloat16, complex, float8 or int4) is not one nibble holds";
    }
  return "";
}

// Compares with the node tests' tolerance (numpy assert_allclose rtol=1e-3, atol=1e-7
// by default; we use atol=1e-6 since float32 kernels are not bit-identical to numpy).
std::string Compare(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype())
    return Cat("dtype ", DTypeName(got.dtype()), " != expected ", DTypeName(want.dtype()));
  if (got.shape() != want.shape()) return Cat("shape ", ShapeStr(got.shape()), " != expected ", ShapeStr(want.shape()));
  bool exact = !(got.dtype() == DType::kFloat32 || got.dtype() == DType::kFloat64);
  for (int64_t i = 0; i < got.numel(); ++i) {
    double a = got.AsDouble(i), b = want.AsDouble(i);
    if (exact) {
      if (got.dtype() == DType::kInt64 || got.dtype() == DType::kUInt64 ? got.AsInt64(i) != want.AsInt64(i) : a != b)
        return Cat("element ", i, ": ", a, " != expected ", b);
      continue;
    }
    if (std::isnan(a) && std::isnan(b)) continue;
    if (std::isinf(a) || std::isinf(b)) {
      if (a != b) return Cat("element ", i, ": ", a, " != expected ", b);
      continue;
    }
    if (!(std::fabs(a - b) <= 1e-6 + 1e-3 * std::fabs(b))) return Cat("element ", i, ": ", a, " != expected ", b);
  }
  return "";
}

std::vector<std::string> SortedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, std::string>> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".pb")
      files.push_back({std::stoi(n.substr(prefix.size())), e.path().string()});
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> r;
  for (auto& f : files) r.push_back(f.second);
  return r;
}

// "" on pass, else the reason it failed.
std::string RunOne(const fs::path& dir) {
  auto session = Session::Load((dir / "model.onnx").string());
  for (const auto& ds : fs::directory_iterator(dir)) {
    if (!ds.is_directory() || ds.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    auto in_files = SortedFiles(ds.path(), "input_");
    auto out_files = SortedFiles(ds.path(), "output_");
    const auto& decl = session->inputs();
    if (in_files.size() != decl.size())
      return Cat("test gives ", in_files.size(), " inputs, model has ", decl.size(), " runtime inputs");
    std::vector<std::pair<std::string, Tensor>> inputs;
    for (size_t i = 0; i < in_files.size(); ++i) inputs.emplace_back(decl[i].name, ImportTensorProtoFile(in_files[i]));
    auto outputs = session->Run(inputs);
    if (outputs.size() != out_files.size())
      return Cat(outputs.size(), " outputs, expected ", out_files.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string why = Compare(outputs[i], ImportTensorProtoFile(out_files[i]));
      if (!why.empty()) return Cat(ds.path().filename().string(), " output ", i, " (", session->outputs()[i].name, "): ", why);
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR [--filter SUBSTR] [--skips FILE] [--report FILE] [--verbose]\n", argv[0]);
    return 2;
  }
  std::string data = argv[1], filter, skips_file, report_file;
  bool verbose = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "--skips" && i + 1 < argc) skips_file = argv[++i];
    else if (a == "--report" && i + 1 < argc) report_file = argv[++i];
    else if (a == "--verbose") verbose = true;
  }
  if (!fs::is_directory(data)) {
    std::fprintf(stderr, "no node test data at %s (pip install onnx into .venv)\n", data.c_str());
    return 2;
  }
  auto skips = skips_file.empty() ? std::vector<Skip>{} : LoadSkips(skips_file);
  std::vector<fs::path> tests;
  for (const auto& e : fs::directory_iterator(data))
    if (e.is_directory() && e.path().filename().string().find(filter) != std::string::npos) tests.push_back(e.path());
  std::sort(tests.begin(), tests.end());

  int passed = 0, failed = 0, skipped_unsupported = 0, skipped_listed = 0;
  std::map<std::string, int> unsupported_reasons;
  std::vector<std::string> listed, failures;
  for (const auto& t : tests) {
    std::string name = t.filename().string();
    std::string why = Unsupported((t / "model.onnx").string());
    if (!why.empty()) {
      ++skipped_unsupported;
      unsupported_reasons[why]++;
      if (verbose) std::printf("SKIP %s: %s\n", name.c_str(), why.c_str());
      continue;
    }
    if (const Skip* s = FindSkip(skips, name)) {
      ++skipped_listed;
      listed.push_back(name + ": " + s->reason);
      if (verbose) std::printf("SKIP %s: %s\n", name.c_str(), s->reason.c_str());
      continue;
    }
    std::string fail;
    try {
      fail = RunOne(t);
    } catch (const std::exception& e) {
      fail = e.what();
    }
    if (fail.empty()) {
      ++passed;
      if (verbose) std::printf("PASS %s\n", name.c_str());
    } else {
      ++failed;
      failures.push_back(name + ": " + fail);
      std::printf("FAIL %s: %s\n", name.c_str(), fail.c_str());
    }
  }
  std::printf("\nskipped, listed with a reason (%d):\n", skipped_listed);
  for (const auto& l : listed) std::printf("  %s\n", l.c_str());
  std::printf("skipped, model uses something nibble does not run (%d tests), by reason:\n", skipped_unsupported);
  for (const auto& [r, c] : unsupported_reasons) std::printf("  %4d  %s\n", c, r.c_str());
  if (!report_file.empty()) {
    std::ofstream rep(report_file);
    rep << "passed " << passed << ", failed " << failed << ", skipped " << skipped_listed + skipped_unsupported << "\n";
    for (const auto& f : failures) rep << "FAIL " << f << "\n";
    for (const auto& l : listed) rep << "SKIP " << l << "\n";
    for (const auto& [r, c] : unsupported_reasons) rep << "SKIP(" << c << ") " << r << "\n";
  }
  std::printf("node tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped_listed + skipped_unsupported);
  return failed ? 1 : 0;
}
