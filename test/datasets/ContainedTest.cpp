//===- ContainedTest.cpp - a library's crash in a child is a damaged file ===//
//
// runContained's verdicts (returned, threw, crashed, hung), and the file the
// PCam fuzzer found that makes libhdf5 1.10.8 itself die with SIGSEGV
// (test/datasets/data/hdf5-crashes-libhdf5.h5): PCam reports it as damaged
// and the test process lives on.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Contained.h"
#include "runtime/datasets/PCam.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

using namespace pce::rt;
using namespace pce::rt::test;

TEST(Contained, ReturnsAreSafeThrowsCrashesAndHangsAreErrors) {
  EXPECT_TRUE(runContained([] {}, "f"));
  Status threw = runContained([] { throw std::runtime_error("f: no dataset 'x'"); }, "f");
  ASSERT_FALSE(threw);
  EXPECT_EQ(threw.message(), "f: no dataset 'x'");
  Status crashed = runContained([] { std::raise(SIGSEGV); }, "a.h5");
  ASSERT_FALSE(crashed);
  EXPECT_CONTAINS(crashed.message(), "a.h5: the library crashed reading its metadata (signal ");
  EXPECT_CONTAINS(crashed.message(), "the file is damaged");
  Status hung = runContained([] { std::this_thread::sleep_for(std::chrono::seconds(30)); }, "b.h5", 0.3);
  ASSERT_FALSE(hung);
  EXPECT_CONTAINS(hung.message(), "b.h5: the library did not finish reading its metadata in 0.3 s");
}

// A child whose check takes far more memory than the process had is a
// damaged file (libhdf5 fills 4 GiB for some damaged heaps); one that takes
// a little is not.
TEST(Contained, AChildThatTakesTooMuchMemoryIsDamage) {
  auto touch = [](size_t bytes) {
    return [bytes] {
      std::vector<char> block(bytes);
      for (size_t i = 0; i < bytes; i += 4096)
        block[i] = char(i);
      volatile char sink = block[bytes / 2];
      (void)sink;
    };
  };
  EXPECT_TRUE(runContained(touch(size_t(8) << 20), "small.h5", 10, size_t(64) << 20));
  // The request fails in the child (its address space is capped): it is
  // neither filled nor repeated in process.
  Status big = runContained(touch(size_t(256) << 20), "big.h5", 10, size_t(64) << 20);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.message(), "big.h5: reading its metadata needs more than 64 MiB of memory: the file is damaged");
  // Memory that is mapped outside malloc is caught by the child's peak
  // resident size instead.
  Status mapped = runContained(
      [] {
        rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
        setrlimit(RLIMIT_AS, &unlimited); // as a library that maps what it likes
        std::vector<char> block(size_t(256) << 20);
        for (size_t i = 0; i < block.size(); i += 4096)
          block[i] = 1;
      },
      "mapped.h5", 10, size_t(64) << 20);
  ASSERT_FALSE(mapped);
  EXPECT_CONTAINS(mapped.message(), "mapped.h5: reading its metadata took ");
  EXPECT_CONTAINS(mapped.message(), "MiB of memory: the file is damaged");
}

// A timer signal that interrupts the wait for a hung child (libFuzzer's
// -timeout alarm did) must not leave the child a zombie.
TEST(Contained, AHungChildIsReapedEvenWhenSignalsInterruptTheWait) {
  struct sigaction quiet {}, old {};
  quiet.sa_handler = [](int) {};
  sigemptyset(&quiet.sa_mask);
  quiet.sa_flags = 0; // no SA_RESTART: waitpid returns EINTR
  ASSERT_EQ(sigaction(SIGALRM, &quiet, &old), 0);
  itimerval every{{0, 2000}, {0, 2000}}, off{};
  ASSERT_EQ(setitimer(ITIMER_REAL, &every, nullptr), 0);
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(runContained([] { std::this_thread::sleep_for(std::chrono::seconds(30)); }, "c.h5", 0.1));
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &old, nullptr);
  // No child is left to reap: not even a zombie.
  errno = 0;
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// The fuzzer's find: libhdf5 1.10.8 never returns from this file's
// metadata; the probe gives up and the file is damaged, in bounded time.
TEST(Contained, AFileOnWhichLibhdf5HangsIsADamagedPCamFile) {
  const std::string path = std::string(PCE_DATASETS_TEST_DATA) + "/hdf5-hangs-libhdf5.h5";
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const auto start = std::chrono::steady_clock::now();
  auto info = inspectPCamFile(bytes, "hang.h5", bytes.size() % 2 == 0 ? 'x' : 'y', 1.0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(info);
  EXPECT_CONTAINS(info.error(), "hang.h5: the library did not finish reading its metadata in 1 s");
  EXPECT_LT(seconds, 10.0);
}

TEST(Contained, AFileThatCrashesLibhdf5IsADamagedPCamFile) {
  const std::string path = std::string(PCE_DATASETS_TEST_DATA) + "/hdf5-crashes-libhdf5.h5";
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (char which : {'x', 'y'}) {
    auto info = inspectPCamFile(bytes, "crash.h5", which);
    ASSERT_FALSE(info);
    EXPECT_CONTAINS(info.error(), "crash.h5");
  }
  auto x = inspectPCamFile(bytes, "crash.h5", 'x');
  EXPECT_CONTAINS(x.error(), "the library crashed reading its metadata");
  // Through openPCam, as pce-train meets it: the split's x file.
  TempDir dir;
  std::filesystem::copy_file(path, dir.file("camelyonpatch_level_2_split_test_x.h5"));
  std::filesystem::copy_file(path, dir.file("camelyonpatch_level_2_split_test_y.h5"));
  auto ds = openPCam(dir.path(), "test");
  ASSERT_FALSE(ds);
  EXPECT_CONTAINS(ds.error(), "camelyonpatch_level_2_split_test_");
  EXPECT_CONTAINS(ds.error(), "the file is damaged");
}
