//===- CpuFeatures.cpp - the instruction-set features an artifact needs ---===//

#include "runtime/CpuFeatures.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PCE_X86 1
#endif

namespace pce::rt {

namespace {

enum Reg { EAX, EBX, ECX, EDX };
// Register state the operating system must save for the instructions to work
// (XCR0 bits): none, SSE+AVX (1, 2), and AVX-512's opmask and upper registers
// (5, 6, 7) on top.
enum State : uint64_t { kNoState = 0, kAvxState = 0x6, kAvx512State = 0xE6 };

struct Feature {
  const char *name; // LLVM's name
  uint32_t leaf, subleaf;
  Reg reg;
  int bit;
  State state;
};

// CPUID bits: Intel SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E. The names
// are LLVM's X86 subtarget features (llc -mattr=help).
constexpr Feature kFeatures[] = {
    {"cx8", 1, 0, EDX, 8, kNoState},
    {"cmov", 1, 0, EDX, 15, kNoState},
    {"sse", 1, 0, EDX, 25, kNoState},
    {"sse2", 1, 0, EDX, 26, kNoState},
    {"sse3", 1, 0, ECX, 0, kNoState},
    {"pclmul", 1, 0, ECX, 1, kNoState},
    {"ssse3", 1, 0, ECX, 9, kNoState},
    {"fma", 1, 0, ECX, 12, kAvxState},
    {"cx16", 1, 0, ECX, 13, kNoState},
    {"sse4.1", 1, 0, ECX, 19, kNoState},
    {"sse4.2", 1, 0, ECX, 20, kNoState},
    {"movbe", 1, 0, ECX, 22, kNoState},
    {"popcnt", 1, 0, ECX, 23, kNoState},
    {"avx", 1, 0, ECX, 28, kAvxState},
    {"f16c", 1, 0, ECX, 29, kAvxState},
    {"bmi", 7, 0, EBX, 3, kNoState},
    {"avx2", 7, 0, EBX, 5, kAvxState},
    {"bmi2", 7, 0, EBX, 8, kNoState},
    {"avx512f", 7, 0, EBX, 16, kAvx512State},
    {"avx512dq", 7, 0, EBX, 17, kAvx512State},
    {"adx", 7, 0, EBX, 19, kNoState},
    {"avx512ifma", 7, 0, EBX, 21, kAvx512State},
    {"avx512cd", 7, 0, EBX, 28, kAvx512State},
    {"avx512bw", 7, 0, EBX, 30, kAvx512State},
    {"avx512vl", 7, 0, EBX, 31, kAvx512State},
    {"avx512vbmi", 7, 0, ECX, 1, kAvx512State},
    {"avx512vbmi2", 7, 0, ECX, 6, kAvx512State},
    {"gfni", 7, 0, ECX, 8, kNoState},
    {"vaes", 7, 0, ECX, 9, kAvxState},
    {"vpclmulqdq", 7, 0, ECX, 10, kAvxState},
    {"avx512vnni", 7, 0, ECX, 11, kAvx512State},
    {"avx512bitalg", 7, 0, ECX, 12, kAvx512State},
    {"avx512vpopcntdq", 7, 0, ECX, 14, kAvx512State},
    {"avx512vp2intersect", 7, 0, EDX, 8, kAvx512State},
    {"avx512fp16", 7, 0, EDX, 23, kAvx512State},
    {"avxvnni", 7, 1, EAX, 4, kAvxState},
    {"avx512bf16", 7, 1, EAX, 5, kAvx512State},
    {"sahf", 0x80000001, 0, ECX, 0, kNoState},
    {"lzcnt", 0x80000001, 0, ECX, 5, kNoState},
    {"sse4a", 0x80000001, 0, ECX, 6, kNoState},
    {"prfchw", 0x80000001, 0, ECX, 8, kNoState},
    {"xop", 0x80000001, 0, ECX, 11, kAvxState},
    {"fma4", 0x80000001, 0, ECX, 16, kAvxState},
    {"tbm", 0x80000001, 0, ECX, 21, kNoState},
    {"64bit", 0x80000001, 0, EDX, 29, kNoState},
};

const Feature *find(std::string_view name) {
  for (const Feature &f : kFeatures)
    if (name == f.name)
      return &f;
  return nullptr;
}

#ifdef PCE_X86
bool cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
  // The highest leaf of the leaf's range (basic or extended).
  if (__get_cpuid_max(leaf & 0x80000000u, nullptr) < leaf)
    return false;
  __cpuid_count(leaf, subleaf, regs[EAX], regs[EBX], regs[ECX], regs[EDX]);
  return true;
}

// XCR0: the register state the OS saves; 0 without OSXSAVE (no AVX at all).
uint64_t enabledState() {
  uint32_t regs[4];
  if (!cpuid(1, 0, regs) || !((regs[ECX] >> 27) & 1))
    return 0;
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

} // namespace

const std::vector<std::string> &knownCpuFeatures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Feature &f : kFeatures)
      v.push_back(f.name);
    return v;
  }();
  return names;
}

bool isKnownCpuFeature(std::string_view name) { return find(name) != nullptr; }

bool hostHasCpuFeature(std::string_view name) {
  const Feature *f = find(name);
  if (!f)
    return false;
#ifdef PCE_X86
  uint32_t regs[4];
  if (!cpuid(f->leaf, f->subleaf, regs) || !((regs[f->reg] >> f->bit) & 1))
    return false;
  return (enabledState() & f->state) == f->state;
#else
  return false;
#endif
}

std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &needed,
                                            const std::function<bool(std::string_view)> &has) {
  std::vector<std::string> missing;
  for (const std::string &n : needed)
    if (!has(n))
      missing.push_back(n);
  return missing;
}

std::string cpuFeatureRefusal(const std::string &dir, const std::string &cpu, const std::vector<std::string> &features,
                              const std::function<bool(std::string_view)> &has) {
  std::vector<std::string> missing = missingCpuFeatures(features, has);
  if (missing.empty())
    return "";
  std::string list;
  for (size_t i = 0; i < missing.size(); ++i)
    list += (i == 0 ? "" : i + 1 == missing.size() ? " and " : ", ") + missing[i];
  return "artifact " + dir + " was compiled for " + cpu + " and needs " + list + ", which this CPU lacks " +
         "(rebuild it with pce-compile on this machine, or for an older CPU with --mcpu, e.g. "
         "--mcpu=x86-64-v2; docs/Artifact.md)";
}

} // namespace pce::rt
