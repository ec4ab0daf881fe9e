//===- Contained.h - a library's first look at a file, in a child process -===//
//
// libhdf5 1.10.8 crashes (SIGSEGV in its local-heap lookup) on some files
// whose metadata is damaged, and a caller of the library cannot check for
// that first. Such a file must be an error, not a dead pce-train. So a
// reader first runs its metadata checks in a forked child: if the child
// dies (a signal, a sanitizer's report) or hangs past the deadline, the file
// is reported as damaged, and so is one whose metadata made the library
// take more than `memoryGrowth` bytes of memory beyond what the process had
// (libhdf5 allocates and fills 4 GiB for some damaged local heaps, and may
// keep it: in process that memory would stay with the reader's caller);
// if it returns, the same deterministic checks are
// safe to repeat in process (and give their own messages). Pixel reads
// after that go through the already-validated structures. A failed fork
// skips the probe (the checks then run in process only).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_CONTAINED_H
#define PCE_RUNTIME_DATASETS_CONTAINED_H

#include "runtime/Status.h"

#include <cstddef>
#include <functional>
#include <string>

namespace pce::rt {

// Runs `check` in a child process. Returns an error naming `what` when the
// child crashed, ran past `seconds` or grew its resident memory by more than
// `memoryGrowth` bytes; success when it returned or threw (the caller's own
// run of the checks reports that error).
constexpr size_t kContainedMemoryGrowth = size_t(1) << 30;
Status runContained(const std::function<void()> &check, const std::string &what, double seconds = 60,
                    size_t memoryGrowth = kContainedMemoryGrowth);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_CONTAINED_H
