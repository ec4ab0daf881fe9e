//===- Memory.h - how the process allocates for compiled code --*- C++ -*-===//
//
// Compiled code allocates its temporaries with malloc and frees them before
// it returns, every call, in the same sizes. With glibc's defaults, blocks
// above a threshold (128 KiB, adjusted upwards up to 32 MiB as such blocks
// are freed) come from mmap and go back with munmap, and the top of the heap
// is trimmed when more than 128 KiB is free: each call then faults in and
// zeroes fresh pages for every large temporary. Measured on the default
// pce-bench layer (dense, docs/BENCHMARKS.md): 64.7 ms per call with the
// defaults, 46.3 ms when freed memory stays in the process.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_MEMORY_H
#define PCE_RUNTIME_MEMORY_H

namespace pce::rt {

/// Once per process (later calls do nothing): blocks up to 32 MiB (glibc's
/// largest mmap threshold) come from the heap, and freed heap memory is kept
/// for reuse up to 1 GiB instead of being returned to the system. The
/// process's resident memory then stays at its peak. Setting the
/// environment variable PCE_SYSTEM_MALLOC=1 keeps glibc's defaults (and
/// GLIBC_TUNABLES then applies as usual). Returns whether it changed them.
bool keepFreedMemoryForReuse();

} // namespace pce::rt

#endif // PCE_RUNTIME_MEMORY_H
