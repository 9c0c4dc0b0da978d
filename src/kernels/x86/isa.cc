#include "kernels/x86/isa.h"

#include <atomic>
#include <cstdlib>

#include "base/cpu_features.h"
#include "nibble/error.h"

namespace nibble {
namespace {

// -1: no override; otherwise the Isa value.
std::atomic<int> g_override{-1};

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvxVnni: return "avxvnni";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kAmx: return "amx";
  }
  return "?";
}

std::optional<Isa> ParseIsa(const std::string& name) {
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512Vnni, Isa::kAmx})
    if (name == IsaName(i)) return i;
  return std::nullopt;
}

bool IsaSupported(Isa isa) {
#if defined(__x86_64__)
  const CpuFeatures& f = DetectCpuFeatures();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.avx2 && f.fma;
    case Isa::kAvxVnni: return f.avx2 && f.fma && (f.avxvnni || (f.avx512vnni && f.avx512vl && f.avx512f));
    case Isa::kAvx512Vnni: return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
    case Isa::kAmx: return IsaSupported(Isa::kAvx512Vnni) && f.amx_int8;
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> r;
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512Vnni, Isa::kAmx})
    if (IsaSupported(i)) r.push_back(i);
  return r;
}

Isa BestIsa() {
  static const Isa best = SupportedIsas().back();
  return best;
}

bool HasVexVnni() { return DetectCpuFeatures().avxvnni; }

Isa ActiveIsa() {
  const int o = g_override.load(std::memory_order_relaxed);
  if (o >= 0) return static_cast<Isa>(o);
  static const Isa from_env = [] {
    const char* env = std::getenv("NIBBLE_ISA");
    if (!env || !*env) return BestIsa();
    const std::optional<Isa> isa = ParseIsa(env);
    NIBBLE_CHECK(isa.has_value(), "NIBBLE_ISA='", env, "' is not one of scalar, avx2, avxvnni, avx512vnni, amx");
    return static_cast<int>(*isa) > static_cast<int>(BestIsa()) ? BestIsa() : *isa;
  }();
  return from_env;
}

void SetIsaOverride(std::optional<Isa> isa) {
  if (isa && static_cast<int>(*isa) > static_cast<int>(BestIsa())) isa = BestIsa();
  g_override.store(isa ? static_cast<int>(*isa) : -1, std::memory_order_relaxed);
}

}  // namespace nibble
