//===- IdxFiles.h - IDX files as the published data sets are written ------===//
//
// Big-endian headers, random u8 contents, gzip as gzip(1) writes it: shared
// by IdxTest.cpp and PceRunIdxTest.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TEST_RUNTIME_IDXFILES_H
#define PCE_TEST_RUNTIME_IDXFILES_H

#include "TestSupport.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace pce::rt::test {

inline void appendBigEndian(std::string &out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    out += static_cast<char>((value >> (8 * (bytes - 1 - i))) & 0xFF);
}

// The header of an IDX file: 0 0 TYPE RANK, then RANK big-endian uint32.
inline std::string idxHeader(uint8_t type, const std::vector<uint32_t> &dims) {
  std::string h{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    appendBigEndian(h, d, 4);
  return h;
}

inline std::vector<uint32_t> dims32(const std::vector<int64_t> &shape) {
  return std::vector<uint32_t>(shape.begin(), shape.end());
}

inline int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

inline std::string randomBytes(size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(n, '\0');
  for (char &c : s)
    c = static_cast<char>(byte(rng()));
  return s;
}

// A u8 IDX file of random contents with the given shape.
inline std::string randomU8File(const std::vector<int64_t> &shape) {
  return idxHeader(0x08, dims32(shape)) + randomBytes(static_cast<size_t>(product(shape)));
}

// One gzip member of `plain`, as gzip(1) writes it (deflate, gzip wrapper).
inline std::string gzipBytes(const std::string &plain) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, plain.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef *>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Writes `plain` to path through zlib's gzip file API.
inline void writeGzipFile(const std::string &path, const std::string &plain) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, plain.data(), static_cast<unsigned>(plain.size())), static_cast<int>(plain.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

} // namespace pce::rt::test

#endif // PCE_TEST_RUNTIME_IDXFILES_H
