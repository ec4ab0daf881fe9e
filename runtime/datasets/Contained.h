//===- Contained.h - a library's first look at a file, in a child process -===//
//
// libhdf5 1.10.8 crashes (SIGSEGV in its local-heap lookup) on some files
// whose metadata is damaged, and a caller of the library cannot check for
// that first. Such a file must be an error, not a dead pce-train. So a
// reader first runs its metadata checks in a forked child: if the child
// dies (a signal, a sanitizer's report) or hangs past the deadline, the file
// is reported as damaged; if it returns, the same deterministic checks are
// safe to repeat in process (and give their own messages). Pixel reads
// after that go through the already-validated structures. A failed fork
// skips the probe (the checks then run in process only).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_CONTAINED_H
#define PCE_RUNTIME_DATASETS_CONTAINED_H

#include "runtime/Status.h"

#include <functional>
#include <string>

namespace pce::rt {

// Runs `check` in a child process. Returns an error naming `what` when the
// child crashed or ran past `seconds`; success when it returned or threw
// (the caller's own run of the checks reports that error).
Status runContained(const std::function<void()> &check, const std::string &what, double seconds = 60);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_CONTAINED_H
