//===- ThreadPool.h - the runtime's parallel loop ---------------*- C++ -*-===//
//
// Compiled code is single-threaded; the runtime runs independent calls (one
// per chunk of a batch) on its own threads. It does not use OpenMP: LibTorch,
// which shares the process under pce-train, brings libgomp, and a second
// OpenMP runtime (libomp, which MLIR's OpenMP lowering targets) in the same
// process would oversubscribe the cores.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_RUNTIME_THREADPOOL_H
#define PCE_RUNTIME_THREADPOOL_H

#include <cstdint>
#include <functional>

namespace pce::rt {

/// Threads to use by default: $PCE_NUM_THREADS, else the hardware's count.
int defaultThreadCount();

/// Calls `body(i)` for every i in [0, n) on up to `threads` threads (the
/// caller's included); returns when all calls have returned.
void parallelFor(int64_t n, int threads, const std::function<void(int64_t)> &body);

} // namespace pce::rt

#endif // PCE_RUNTIME_THREADPOOL_H
