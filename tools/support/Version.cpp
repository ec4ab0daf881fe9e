//===- Version.cpp - the PCE version and the git commit of the build ------===//

#include "tools/support/Version.h"

#include "runtime/Version.h"

namespace pce::tool {

std::string versionLine(const std::string &tool) {
  return tool + " " + rt::pceVersion() + " (git " + rt::pceGitCommit() + ")";
}

} // namespace pce::tool
