//===- Version.h - the PCE version and the git commit of the build --------===//
#ifndef PCE_TOOLS_SUPPORT_VERSION_H
#define PCE_TOOLS_SUPPORT_VERSION_H

#include <string>

namespace pce::tool {

/// The PCE version, project(VERSION) of the top-level CMakeLists.txt.
const char *pceVersion();
/// The abbreviated git commit of the source tree at the last build, or
/// "unknown" when it was not a git checkout.
const char *pceGitCommit();
/// What every tool's --version prints: "pce-run 0.1.0 (git 64feb93)".
std::string versionLine(const std::string &tool);

} // namespace pce::tool

#endif // PCE_TOOLS_SUPPORT_VERSION_H
