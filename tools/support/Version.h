//===- Version.h - the PCE version and the git commit of the build --------===//
#ifndef PCE_TOOLS_SUPPORT_VERSION_H
#define PCE_TOOLS_SUPPORT_VERSION_H

#include <string>

namespace pce::tool {

/// What every tool's --version prints (runtime/Version.h): "pce-run 0.1.0 (git 64feb93)".
std::string versionLine(const std::string &tool);

} // namespace pce::tool

#endif // PCE_TOOLS_SUPPORT_VERSION_H
