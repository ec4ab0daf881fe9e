//===- Memory.cpp - how the process allocates for compiled code -----------===//

#include "runtime/Memory.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pce::rt {

bool keepFreedMemoryForReuse() {
  static bool changed = [] {
    const char *keep = std::getenv("PCE_SYSTEM_MALLOC");
    if (keep && std::strcmp(keep, "0") != 0)
      return false;
#if defined(__GLIBC__)
    // mallopt fails (returns 0) for values out of its range; both are in it.
    bool threshold = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
    bool trim = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
    return threshold && trim;
#else
    return false;
#endif
  }();
  return changed;
}

} // namespace pce::rt
