//===- ThreadPoolTest.cpp - the hook of compiled parallel loops -----------===//

#include "runtime/ThreadPool.h"

#include <atomic>
#include <chrono>
#include <dlfcn.h>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

using namespace pce::rt;

namespace {

struct Record {
  std::vector<std::atomic<int>> hits;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::vector<int64_t> order;
  int sleepMicros = 0;
  explicit Record(int64_t n) : hits(n) {}
};

void recordBody(void *ctx, int64_t begin, int64_t end) {
  auto *r = static_cast<Record *>(ctx);
  for (int64_t i = begin; i < end; ++i) {
    if (r->sleepMicros)
      std::this_thread::sleep_for(std::chrono::microseconds(r->sleepMicros));
    r->hits[i].fetch_add(1);
    std::lock_guard<std::mutex> lock(r->mutex);
    r->threads.insert(std::this_thread::get_id());
    r->order.push_back(i);
  }
}

struct ThreadsGuard {
  ~ThreadsGuard() { setCompiledLoopThreads(defaultThreadCount()); }
};

} // namespace

TEST(CompiledLoops, EveryIndexRunsOnceAndWorkersHelp) {
  ThreadsGuard guard;
  for (int threads : {2, 3, 5}) {
    setCompiledLoopThreads(threads);
    Record r(40);
    r.sleepMicros = 500; // long enough for every worker to join
    pceCompiledParallelFor(40, recordBody, &r);
    for (int64_t i = 0; i < 40; ++i)
      EXPECT_EQ(r.hits[i].load(), 1) << "index " << i << ", " << threads << " threads";
    EXPECT_GE(r.threads.size(), 2u) << threads << " threads";
    EXPECT_LE(r.threads.size(), static_cast<size_t>(threads));
  }
}

TEST(CompiledLoops, OneThreadRunsInOrderOnTheCaller) {
  ThreadsGuard guard;
  setCompiledLoopThreads(1);
  Record r(17);
  pceCompiledParallelFor(17, recordBody, &r);
  ASSERT_EQ(r.order.size(), 17u);
  for (int64_t i = 0; i < 17; ++i)
    EXPECT_EQ(r.order[i], i);
  EXPECT_EQ(r.threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

namespace {
struct Nested {
  std::atomic<int> inner{0};
  std::atomic<int> innerOnOtherThread{0};
};
struct InnerCtx {
  Nested *nested;
  std::thread::id outer;
};
void innerBody(void *ctx, int64_t begin, int64_t end) {
  auto *c = static_cast<InnerCtx *>(ctx);
  c->nested->inner.fetch_add(static_cast<int>(end - begin));
  if (std::this_thread::get_id() != c->outer)
    c->nested->innerOnOtherThread.fetch_add(1);
}
void outerBody(void *ctx, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    InnerCtx inner{static_cast<Nested *>(ctx), std::this_thread::get_id()};
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    pceCompiledParallelFor(8, innerBody, &inner);
  }
}
} // namespace

TEST(CompiledLoops, NestedCallsRunSeriallyOnTheirThread) {
  ThreadsGuard guard;
  setCompiledLoopThreads(2);
  Nested nested;
  pceCompiledParallelFor(10, outerBody, &nested);
  EXPECT_EQ(nested.inner.load(), 80);
  EXPECT_EQ(nested.innerOnOtherThread.load(), 0);
}

TEST(CompiledLoops, ConcurrentCallersEachGetEveryIndex) {
  ThreadsGuard guard;
  setCompiledLoopThreads(2);
  auto caller = [](std::atomic<int> *failures) {
    for (int call = 0; call < 200; ++call) {
      Record r(33);
      pceCompiledParallelFor(33, recordBody, &r);
      for (int64_t i = 0; i < 33; ++i)
        if (r.hits[i].load() != 1)
          failures->fetch_add(1);
    }
  };
  std::atomic<int> failures{0};
  std::thread a(caller, &failures), b(caller, &failures);
  caller(&failures);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(CompiledLoops, BatchChunksRunTheirLoopsSerially) {
  ThreadsGuard guard;
  setCompiledLoopThreads(2);
  std::atomic<int> total{0}, otherThread{0};
  parallelFor(4, 2, [&](int64_t) {
    InnerCtx inner{nullptr, std::this_thread::get_id()};
    Nested nested;
    inner.nested = &nested;
    pceCompiledParallelFor(16, innerBody, &inner);
    total += nested.inner.load();
    otherThread += nested.innerOnOtherThread.load();
  });
  EXPECT_EQ(total.load(), 64);
  EXPECT_EQ(otherThread.load(), 0);
}

TEST(CompiledLoops, LoadingALibraryInstallsTheHook) {
  void *handle = ::dlopen(PCE_FAKE_MODEL_SO, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << ::dlerror();
  using Hook = void (*)(int64_t, void (*)(void *, int64_t, int64_t), void *);
  auto *slot = static_cast<Hook *>(::dlsym(handle, "pce_parallel_for_hook"));
  ASSERT_NE(slot, nullptr);
  *slot = nullptr; // another test may have loaded the library already
  installCompiledLoopHook(handle);
  EXPECT_EQ(*slot, &pceCompiledParallelFor);
  ::dlclose(handle);
}
