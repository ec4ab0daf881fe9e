//===- ThreadPool.cpp - the runtime's parallel loop -----------------------===//

#include "runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

namespace pce::rt {

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

} // namespace pce::rt
