//===- Version.h - the PCE version and the git commit of the build --------===//
//
// What --version prints (tools/support) and what pce-train records with its
// weights and summary, so a result names the code that produced it.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_VERSION_H
#define PCE_RUNTIME_VERSION_H

#include <map>
#include <string>

namespace pce::rt {

/// The PCE version, project(VERSION) of the top-level CMakeLists.txt.
const char *pceVersion();
/// The abbreviated git commit of the source tree at the last build, with
/// "-dirty" when tracked files differed from it, or "unknown" when it was
/// not a git checkout.
const char *pceGitCommit();

/// {"pce.version": ..., "pce.git_commit": ...}: what a weights file records
/// of the code that wrote it.
std::map<std::string, std::string> versionMetadata();

} // namespace pce::rt

#endif // PCE_RUNTIME_VERSION_H
