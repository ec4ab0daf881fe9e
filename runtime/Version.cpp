//===- Version.cpp - the PCE version and the git commit of the build ------===//

#include "runtime/Version.h"

// Written at build time by GitVersion.cmake (see CMakeLists.txt).
#include "GitVersion.h"

namespace pce::rt {

const char *pceVersion() { return PCE_VERSION_STRING; }
const char *pceGitCommit() { return PCE_GIT_COMMIT; }

std::map<std::string, std::string> versionMetadata() {
  return {{"pce.version", pceVersion()}, {"pce.git_commit", pceGitCommit()}};
}

} // namespace pce::rt
