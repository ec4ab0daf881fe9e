//===- ThreadPool.cpp - the runtime's parallel loop -----------------------===//

#include "runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <thread>
#include <vector>

namespace pce::rt {

namespace {

/// Set on every thread while it runs a part of a parallel call; a compiled
/// loop started there runs serially.
thread_local bool insideParallelCall = false;

struct ScopedInside {
  bool saved = insideParallelCall;
  ScopedInside() { insideParallelCall = true; }
  ~ScopedInside() { insideParallelCall = saved; }
};

void spinPause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// One call of the hook; lives on the caller's stack until every worker that
/// joined it has left.
struct Job {
  int64_t n;
  void (*body)(void *, int64_t, int64_t);
  void *ctx;
  int helpers;                 // workers allowed to join
  int64_t chunk;               // consecutive indices handed out at once
  int joined = 0;              // guarded by Workers::mutex
  std::atomic<int64_t> next{0};
  std::atomic<int> active{0};  // joined workers still running

  void run() {
    for (int64_t begin = next.fetch_add(chunk, std::memory_order_relaxed); begin < n;
         begin = next.fetch_add(chunk, std::memory_order_relaxed))
      body(ctx, begin, std::min(n, begin + chunk));
  }
};

/// Persistent workers. A worker spins briefly after each job (compiled loops
/// come in quick succession), then sleeps; the pool is never destroyed, so
/// no worker outlives it at exit.
class Workers {
public:
  static Workers &get() {
    static Workers *pool = new Workers;
    return *pool;
  }

  /// Runs `job` with up to job.helpers workers; false when another thread
  /// has the workers (the caller then runs it alone).
  bool run(Job &job) {
    std::unique_lock<std::mutex> owner(dispatch_, std::try_to_lock);
    if (!owner.owns_lock())
      return false;
    grow(job.helpers);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    {
      ScopedInside inside;
      job.run();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = nullptr;
    }
    while (job.active.load(std::memory_order_acquire) != 0)
      spinPause();
    return true;
  }

private:
  void grow(int helpers) {
    while (static_cast<int>(threads_.size()) < helpers)
      threads_.emplace_back([this] { loop(); });
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      // ~50 us of spinning before sleeping.
      for (int spin = 0; spin < 2000 && generation_.load(std::memory_order_acquire) == seen; ++spin)
        spinPause();
      Job *job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        seen = generation_.load(std::memory_order_relaxed);
        if (current_ && current_->joined < current_->helpers) {
          job = current_;
          ++job->joined;
          job->active.fetch_add(1, std::memory_order_relaxed);
        }
      }
      if (!job)
        continue;
      {
        ScopedInside inside;
        job->run();
      }
      job->active.fetch_sub(1, std::memory_order_release);
    }
  }

  std::mutex dispatch_;             // held by the thread whose job runs
  std::mutex mutex_;                // guards current_ and Job::joined
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  Job *current_ = nullptr;
  std::vector<std::thread> threads_;  // only grown, under dispatch_
};

std::atomic<int> loopThreads{0};  // 0: defaultThreadCount()

} // namespace

void setCompiledLoopThreads(int threads) { loopThreads = std::max(threads, 1); }

int compiledLoopThreads() {
  int t = loopThreads.load();
  return t > 0 ? t : defaultThreadCount();
}

void installCompiledLoopHook(void *handle) {
  using Hook = void (*)(int64_t, void (*)(void *, int64_t, int64_t), void *);
  if (auto *slot = static_cast<Hook *>(::dlsym(handle, "pce_parallel_for_hook")))
    *slot = &pceCompiledParallelFor;
}

int defaultThreadCount() {
  if (const char *env = std::getenv("PCE_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0)
      return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallelFor(int64_t n, int threads, const std::function<void(int64_t)> &body) {
  int64_t workers = std::min<int64_t>(std::max(threads, 1), n);
  if (workers <= 1) {
    for (int64_t i = 0; i < n; ++i)
      body(i);
    return;
  }
  // Work is handed out one index at a time: chunks cost the same, and this
  // keeps every thread busy until the end.
  std::atomic<int64_t> next{0};
  auto work = [&] {
    ScopedInside inside;
    for (int64_t i = next++; i < n; i = next++)
      body(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (int64_t t = 1; t < workers; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &t : pool)
    t.join();
}

extern "C" void pceCompiledParallelFor(int64_t n, void (*body)(void *, int64_t, int64_t),
                                       void *ctx) {
  int helpers = static_cast<int>(std::min<int64_t>(compiledLoopThreads(), n)) - 1;
  if (helpers > 0 && !insideParallelCall) {
    // Chunks of consecutive indices (a loop over small rows would otherwise
    // spend its time on the shared counter); several per thread, so a thread
    // that starts late still gets a share.
    int64_t chunk = std::max<int64_t>(1, n / (4 * (helpers + 1)));
    Job job{n, body, ctx, helpers, chunk};
    if (Workers::get().run(job))
      return;
  }
  if (n > 0)
    body(ctx, 0, n);
}

} // namespace pce::rt
