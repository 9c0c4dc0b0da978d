// The one place that turns the CPU's feature bits (from cpuinfo) into the
// named capabilities kernels are chosen by.
#pragma once
#include <string>

namespace nibble {

struct CpuFeatures {
  bool avx2 = false, fma = false, avx512f = false, avx512bw = false, avx512vl = false;
  bool avx512vnni = false, avxvnni = false, avx512vpopcntdq = false;
  // AMX-TILE and AMX-INT8 in CPUID, and the kernel granted this process the
  // tile data state (Linux arch_prctl ARCH_REQ_XCOMP_PERM): without that
  // grant the first tile instruction faults, so both are needed.
  bool amx_int8 = false;
};

const CpuFeatures& DetectCpuFeatures();
// e.g. "Intel Xeon ... [avx2 fma avx512f avx512bw avx512vnni avx512vpopcntdq]"
std::string CpuFeatureSummary();

}  // namespace nibble
