//===- TestSupport.cpp - Shared helpers for the runtime GoogleTests -------===//

#include "TestSupport.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

namespace pce::rt::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "pce-rt-test-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::mt19937_64 &rng() {
  static std::mt19937_64 gen = [] {
    uint64_t seed;
    if (const char *s = std::getenv("PCE_TEST_SEED"))
      seed = std::strtoull(s, nullptr, 10);
    else
      seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    std::printf("[pce-runtime-tests] random seed %llu (set PCE_TEST_SEED to repeat)\n",
                static_cast<unsigned long long>(seed));
    return std::mt19937_64(seed);
  }();
  return gen;
}

double randomNonZero() {
  std::uniform_real_distribution<double> mag(0.1, 2.0);
  std::bernoulli_distribution sign(0.5);
  double v = mag(rng());
  return sign(rng()) ? v : -v;
}

HostTensor randomTensor(DType dtype, const std::vector<int64_t> &shape) {
  auto t = HostTensor::create(dtype, shape);
  EXPECT_TRUE(t.ok()) << t.error();
  HostTensor out = std::move(*t);
  std::uniform_int_distribution<int64_t> ints(-1000, 1000);
  std::uniform_int_distribution<int> bytes(1, 255);
  int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
    case DType::F32: out.f32()[i] = static_cast<float>(randomNonZero()); break;
    case DType::F64: out.f64()[i] = randomNonZero(); break;
    case DType::I64: out.i64()[i] = ints(rng()); break;
    case DType::I32: out.i32()[i] = static_cast<int32_t>(ints(rng())); break;
    case DType::U8: out.u8()[i] = static_cast<uint8_t>(bytes(rng())); break;
    }
  }
  return out;
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

std::string readBytes(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int runCommand(const std::string &command, std::string *output) {
  FILE *p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p)
    return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  int status = ::pclose(p);
  if (output)
    *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string shellQuote(const std::string &s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool haveNumpy() {
  static const bool have = runCommand("/usr/bin/python3 -c 'import numpy' >/dev/null") == 0;
  return have;
}

::testing::AssertionResult sameTensor(const HostTensor &a, const HostTensor &b) {
  if (a.dtype != b.dtype || a.shape != b.shape)
    return ::testing::AssertionFailure() << a.typeString() << " vs " << b.typeString();
  if (a.nbytes() != b.nbytes() || std::memcmp(a.data.data(), b.data.data(), a.nbytes()) != 0)
    return ::testing::AssertionFailure() << "data differs for " << a.typeString();
  return ::testing::AssertionSuccess();
}

} // namespace pce::rt::test
