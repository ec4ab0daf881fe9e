//===- TestSupport.h - Shared helpers for the runtime GoogleTests ---------===//
//
// Temporary directories, fresh random tensors (seeded from std::random_device
// and printed, so a failure can be reproduced with PCE_TEST_SEED), file
// helpers and a way to run a command capturing its output and exit status.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TEST_RUNTIME_TESTSUPPORT_H
#define PCE_TEST_RUNTIME_TESTSUPPORT_H

#include "runtime/HostTensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

// EXPECT that string `text` contains `part` (shows the whole text if not).
#define EXPECT_CONTAINS(text, part)                                                   \
  EXPECT_NE(std::string(text).find(part), std::string::npos)                         \
      << "expected to find [" << (part) << "] in:\n" << (text)

namespace pce::rt::test {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

// The process-wide generator (seed printed once on first use).
std::mt19937_64 &rng();
// Uniform in [-2, -0.1] U [0.1, 2]: never zero, never constant.
double randomNonZero();
// A tensor of the given dtype and shape filled with fresh random values
// (floats as above; integers in [-1000, 1000] or [1, 255] for u8).
HostTensor randomTensor(DType dtype, const std::vector<int64_t> &shape);

void writeBytes(const std::string &path, const std::string &bytes);
std::string readBytes(const std::string &path);

// Runs `command` through /bin/sh with stderr merged into stdout; returns the
// exit status (or -1 if it did not exit normally) and stores the output.
int runCommand(const std::string &command, std::string *output = nullptr);
// Single-quotes s for /bin/sh.
std::string shellQuote(const std::string &s);

// True when /usr/bin/python3 can import numpy.
bool haveNumpy();

// Bytewise equality of two tensors (dtype, shape, data).
::testing::AssertionResult sameTensor(const HostTensor &a, const HostTensor &b);

} // namespace pce::rt::test

#endif // PCE_TEST_RUNTIME_TESTSUPPORT_H
