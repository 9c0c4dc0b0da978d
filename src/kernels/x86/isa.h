// Which instruction set the integer kernels run on: detected once from the
// CPU (cpuinfo, via base/cpu_features), optionally lowered by the environment
// variable NIBBLE_ISA or by SetIsaOverride (the CLI's --isa), so that tests and
// benchmarks can reach every path this machine can execute.
//
// Levels, lowest first. Each kernel family provides every level; a level the
// CPU cannot run is never selected.
//   scalar      portable C++ (the reference twins' arithmetic, no intrinsics)
//   avx2        AVX2 + FMA: vpmaddwd on int16-widened operands
//   avxvnni     vpdpbusd on ymm: AVX-VNNI (VEX) or AVX512-VNNI + VL (EVEX)
//   avx512vnni  vpdpbusd on zmm: AVX512 F, BW, VL and VNNI
//   amx         avx512vnni, plus AMX-INT8 tile products (tdpbsud) for the
//               convolutions that run as GEMMs over position panels; every
//               other kernel runs its avx512vnni path at this level
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace nibble {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvxVnni = 2, kAvx512Vnni = 3, kAmx = 4 };

const char* IsaName(Isa isa);
// "scalar", "avx2", "avxvnni", "avx512vnni", "amx"; nullopt for anything else.
std::optional<Isa> ParseIsa(const std::string& name);

// Can this CPU execute kernels of this level?
bool IsaSupported(Isa isa);
// Every supported level, lowest first (what tests iterate over).
std::vector<Isa> SupportedIsas();
// The best level this CPU supports.
Isa BestIsa();

// The level kernels use: the override if set, else NIBBLE_ISA if set, else
// BestIsa(). A request above what the CPU supports is lowered to BestIsa();
// an unknown NIBBLE_ISA name fails (nibble::Error) on first use.
Isa ActiveIsa();
void SetIsaOverride(std::optional<Isa> isa);

// For the ymm VNNI level: true when the VEX (AVX-VNNI) encoding is available,
// false when the EVEX (AVX512-VNNI + VL) one must be used.
bool HasVexVnni();

}  // namespace nibble
