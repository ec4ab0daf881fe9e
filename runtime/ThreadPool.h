//===- ThreadPool.h - the runtime's parallel loop ---------------*- C++ -*-===//
//
// Two levels of parallelism: the runtime runs independent calls (one per
// chunk of a batch) on threads of their own, and compiled code runs its
// parallel loops (pce-outline-parallel-loops) on persistent workers through
// a hook the runtime installs in every library it loads. A compiled loop
// inside a batch chunk runs serially, so the two never oversubscribe the
// cores. Neither uses OpenMP: LibTorch,
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

/// The hook of compiled parallel loops: calls `body(ctx, begin, end)` on
/// ranges that cover [0, n) once, on the caller and up to
/// compiledLoopThreads() - 1 persistent workers. Runs serially (one call
/// over [0, n)) when called from inside another parallel call (a worker, a
/// batch chunk) or while another thread is using the workers.
extern "C" void pceCompiledParallelFor(int64_t n, void (*body)(void *, int64_t, int64_t),
                                       void *ctx);

/// Threads (the caller's included) for compiled parallel loops; default
/// defaultThreadCount(). Values below 1 mean 1.
void setCompiledLoopThreads(int threads);
int compiledLoopThreads();

/// Stores pceCompiledParallelFor into the hook of a compiled library loaded
/// with dlopen (`handle`), if the library has parallel loops.
void installCompiledLoopHook(void *handle);

} // namespace pce::rt

#endif // PCE_RUNTIME_THREADPOOL_H
