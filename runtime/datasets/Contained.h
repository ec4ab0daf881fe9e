//===- Contained.h - a library's first look at a file, in a child process -===//
//
// libhdf5 1.10.8 crashes (SIGSEGV in its local-heap lookup) on some files
// whose metadata is damaged, and a caller of the library cannot check for
// that first. Such a file must be an error, not a dead pce-train. So a
// reader first runs its metadata checks in a forked child: if the child
// dies (a signal, a sanitizer's report) or hangs past the deadline, the file
// is reported as damaged; if the checks throw, their message is the error;
// only if they return are the same deterministic checks repeated in process.
// The child may grow its address space by `memoryGrowth` bytes at most, and
// its resident memory too: libhdf5 asks for and fills 4 GiB for some damaged
// local heaps, and may keep it, which in process would stay with the
// reader's caller. Pixel reads after that go through the already-validated
// structures. A failed fork skips the probe (the checks then run in process
// only).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_CONTAINED_H
#define PCE_RUNTIME_DATASETS_CONTAINED_H

#include "runtime/Status.h"

#include <cstddef>
#include <functional>
#include <string>

namespace pce::rt {

// Runs `check` in a child process. Returns success when it returned; its
// exception's message when it threw; an error naming `what` when the child
// crashed, ran past `seconds` or needed more than `memoryGrowth` bytes.
constexpr size_t kContainedMemoryGrowth = size_t(1) << 30;
Status runContained(const std::function<void()> &check, const std::string &what, double seconds = 60,
                    size_t memoryGrowth = kContainedMemoryGrowth);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_CONTAINED_H
