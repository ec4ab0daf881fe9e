//===- Version.cpp - the PCE version and the git commit of the build ------===//

#include "tools/support/Version.h"

// Written at build time by GitVersion.cmake (see CMakeLists.txt).
#include "GitVersion.h"

namespace pce::tool {

const char *pceVersion() { return PCE_VERSION_STRING; }
const char *pceGitCommit() { return PCE_GIT_COMMIT; }

std::string versionLine(const std::string &tool) {
  return tool + " " + pceVersion() + " (git " + pceGitCommit() + ")";
}

} // namespace pce::tool
