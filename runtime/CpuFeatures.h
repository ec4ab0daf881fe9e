//===- CpuFeatures.h - the instruction-set features an artifact needs -----===//
//
// pce-compile records in the manifest the x86 instruction-set features that
// the code it generated may use (docs/Artifact.md, "cpu"); Artifact::open
// refuses an artifact that needs a feature this CPU lacks, rather than let the
// first call die with SIGILL. This table is the one list of those features:
// the compiler records an enabled feature only if it is here, the manifest
// reader rejects a name that is not, and each entry says how to test for it.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_CPUFEATURES_H
#define PCE_RUNTIME_CPUFEATURES_H

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

/// Every feature name the runtime knows, in LLVM's spelling ("avx2",
/// "avx512f", "sse4.2", ...): the extensions LLVM's code generator may use for
/// ordinary IR (vector, bit-manipulation and atomic instructions). Extensions
/// reached only through their own intrinsics (AES, SHA, AMX, ...) are not
/// listed: PCE's generated code never calls those.
const std::vector<std::string> &knownCpuFeatures();
bool isKnownCpuFeature(std::string_view name);

/// Whether this CPU (and the operating system, for the AVX and AVX-512
/// register state) supports the feature; false for unknown names and on
/// machines other than x86-64.
bool hostHasCpuFeature(std::string_view name);

/// The features of `needed` for which `has` is false, in order.
std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &needed,
                                            const std::function<bool(std::string_view)> &has = hostHasCpuFeature);

/// Artifact::open's refusal when `has` lacks some of `features`, else "":
/// "artifact DIR was compiled for CPU and needs avx512f and avx512bw, which
/// this CPU lacks (...how to rebuild...)".
std::string cpuFeatureRefusal(const std::string &dir, const std::string &cpu, const std::vector<std::string> &features,
                              const std::function<bool(std::string_view)> &has = hostHasCpuFeature);

} // namespace pce::rt

#endif // PCE_RUNTIME_CPUFEATURES_H
