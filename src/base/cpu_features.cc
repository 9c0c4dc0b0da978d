#include "base/cpu_features.h"

#include <cpuinfo.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace nibble {

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures f = [] {
    CpuFeatures r;
    if (!cpuinfo_initialize()) return r;
#if defined(__x86_64__) || defined(__i386__)
    r.avx2 = cpuinfo_has_x86_avx2();
    r.fma = cpuinfo_has_x86_fma3();
    r.avx512f = cpuinfo_has_x86_avx512f();
    r.avx512bw = cpuinfo_has_x86_avx512bw();
    r.avx512vl = cpuinfo_has_x86_avx512vl();
    r.avx512vnni = cpuinfo_has_x86_avx512vnni();
    // Debian 12's cpuinfo predates AVX-VNNI (VEX-encoded vpdpbusd): CPUID leaf 7, sub-leaf 1, EAX bit 4.
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) r.avxvnni = (a >> 4) & 1;
    r.avx512vpopcntdq = cpuinfo_has_x86_avx512vpopcntdq();
    // Debian 12's cpuinfo predates AMX too: leaf 7 EDX bit 24 (AMX-TILE), bit 25 (AMX-INT8).
    const bool amx_cpuid = __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((d >> 24) & 3) == 3;
#if defined(__linux__) && defined(__x86_64__)
    // Linux hands out the 8 KB tile state only on request (once per process,
    // for every thread); it refuses where the kernel or the hypervisor lacks it.
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    r.amx_int8 = amx_cpuid && syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#endif
#endif
    return r;
  }();
  return f;
}

std::string CpuFeatureSummary() {
  const CpuFeatures& f = DetectCpuFeatures();
  std::string name = "unknown cpu";
  if (cpuinfo_initialize() && cpuinfo_get_packages_count() > 0) name = cpuinfo_get_package(0)->name;
  std::string s = name + " [";
  auto add = [&](bool on, const char* n) {
    if (on) s += std::string(s.back() == '[' ? "" : " ") + n;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vnni, "avx512vnni");
  add(f.avxvnni, "avxvnni");
  add(f.avx512vpopcntdq, "avx512vpopcntdq");
  add(f.amx_int8, "amx-int8");
  return s + "]";
}

}  // namespace nibble
