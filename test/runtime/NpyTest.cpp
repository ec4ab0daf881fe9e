//===- NpyTest.cpp - .npy round trips and strict validation ---------------===//

#include "runtime/Npy.h"

#include "TestSupport.h"

#include <cstring>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

TEST(Npy, RoundTripsFloatShapes) {
  TempDir dir;
  for (DType dtype : {DType::F32, DType::F64})
    for (const std::vector<int64_t> &shape :
         {std::vector<int64_t>{}, {5}, {2, 3, 4}, {0, 3}, {1, 1, 7, 2}}) {
      HostTensor t = randomTensor(dtype, shape);
      std::string path = dir.file("t.npy");
      ASSERT_TRUE(writeNpy(path, t));
      auto back = readNpy(path);
      ASSERT_TRUE(back) << back.error();
      EXPECT_TRUE(sameTensor(*back, t)) << t.typeString();
      // Data starts 64-byte aligned in the file, as NumPy does it.
      std::string bytes = readBytes(path);
      EXPECT_EQ((bytes.size() - t.nbytes()) % 64, 0u);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(back->data.data()) % 64, 0u);
    }
}

TEST(Npy, RoundTripsIntegerDtypes) {
  TempDir dir;
  for (DType dtype : {DType::I64, DType::I32, DType::U8}) {
    HostTensor t = randomTensor(dtype, {3, 4});
    ASSERT_TRUE(writeNpy(dir.file("i.npy"), t));
    auto back = readNpy(dir.file("i.npy"));
    ASSERT_TRUE(back) << back.error();
    EXPECT_TRUE(sameTensor(*back, t));
  }
}

TEST(Npy, HeaderTextMatchesNumpy) {
  HostTensor t = randomTensor(DType::F32, {5});
  auto bytes = encodeNpy(t);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(bytes->substr(10, 58), "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), } ");
  // 10 + 57 + newline, padded with spaces to the next multiple of 64.
  EXPECT_EQ(bytes->substr(67, 61), std::string(60, ' ') + "\n");
  EXPECT_EQ(bytes->size(), 128u + 20u);
}

TEST(Npy, LongHeaderUsesVersion2) {
  // 25000 dims of size 1 make a header longer than 65535 bytes.
  HostTensor t = randomTensor(DType::F64, std::vector<int64_t>(25000, 1));
  TempDir dir;
  ASSERT_TRUE(writeNpy(dir.file("v2.npy"), t));
  std::string bytes = readBytes(dir.file("v2.npy"));
  EXPECT_EQ(bytes[6], '\x02');
  auto back = readNpy(dir.file("v2.npy"));
  ASSERT_TRUE(back) << back.error();
  EXPECT_TRUE(sameTensor(*back, t));
}

TEST(Npy, RefusesInconsistentTensor) {
  HostTensor t = randomTensor(DType::F32, {2, 3});
  t.shape = {2, 4}; // data no longer matches the shape
  TempDir dir;
  Status s = writeNpy(dir.file("bad.npy"), t);
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), dir.file("bad.npy"));
}

TEST(Npy, MissingFileNamesThePath) {
  auto t = readNpy("/nonexistent/dir/x.npy");
  ASSERT_FALSE(t);
  EXPECT_CONTAINS(t.error(), "/nonexistent/dir/x.npy: cannot open");
}

// A valid file for a random f32 [2,3,4] tensor, and its header end offset.
struct ValidNpy {
  std::string bytes;
  size_t dataStart;
};
ValidNpy validFile() {
  HostTensor t = randomTensor(DType::F32, {2, 3, 4});
  std::string bytes = *encodeNpy(t);
  return {bytes, bytes.size() - t.nbytes()};
}

// Writes bytes to a file, reads it back and returns the error message.
std::string readError(const TempDir &dir, const std::string &bytes) {
  std::string path = dir.file("c.npy");
  writeBytes(path, bytes);
  auto t = readNpy(path);
  EXPECT_FALSE(t) << "corrupt file was accepted";
  return t ? "" : t.error();
}

// Replaces `from` by `to` (same length) in the header.
std::string patch(std::string bytes, const std::string &from, const std::string &to) {
  size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(from.size(), to.size());
  if (at != std::string::npos)
    bytes.replace(at, from.size(), to);
  return bytes;
}

// A file with a hand-written header dict (padded like NumPy) and data.
std::string handMade(const std::string &dict, const std::string &data) {
  std::string header = dict;
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST(NpyCorrupt, TruncatedData) {
  TempDir dir;
  ValidNpy v = validFile();
  std::string cut = v.bytes.substr(0, v.bytes.size() - 5);
  std::string e = readError(dir, cut);
  EXPECT_CONTAINS(e, dir.file("c.npy") + ": byte " + std::to_string(cut.size()) + ":");
  EXPECT_CONTAINS(e, "unexpected end of file: shape [2,3,4] '<f4' needs 96 data bytes from byte " +
                         std::to_string(v.dataStart) + ", file has 91");
}

TEST(NpyCorrupt, TrailingData) {
  TempDir dir;
  ValidNpy v = validFile();
  std::string e = readError(dir, v.bytes + "xyz");
  EXPECT_CONTAINS(e, ": byte " + std::to_string(v.dataStart + 96) + ": expected end of file");
  EXPECT_CONTAINS(e, "3 extra bytes");
}

TEST(NpyCorrupt, TruncatedHeader) {
  TempDir dir;
  std::string e = readError(dir, validFile().bytes.substr(0, 40));
  EXPECT_CONTAINS(e, dir.file("c.npy") + ": byte 8: header length 118 runs past the end of the file");
  EXPECT_CONTAINS(readError(dir, std::string("\x93NUMPY\x01\x00\x05", 9)),
                  ": byte 9: expected the header length field, found end of file");
  EXPECT_CONTAINS(readError(dir, std::string("\x93NUMPY\x01", 7)),
                  ": byte 7: expected the format version");
}

TEST(NpyCorrupt, BadMagic) {
  TempDir dir;
  std::string bytes = validFile().bytes;
  bytes[1] = 'M';
  EXPECT_CONTAINS(readError(dir, bytes), dir.file("c.npy") + ": byte 0: expected the NumPy magic");
  EXPECT_CONTAINS(readError(dir, ""), ": byte 0: expected the NumPy magic");
}

TEST(NpyCorrupt, BadVersion) {
  TempDir dir;
  std::string bytes = validFile().bytes;
  bytes[6] = '\x03';
  EXPECT_CONTAINS(readError(dir, bytes), ": byte 6: expected format version 1.0 or 2.0, found 3.0");
}

TEST(NpyCorrupt, HeaderLengthBeyondFile) {
  TempDir dir;
  std::string bytes = validFile().bytes;
  bytes[8] = '\x60';
  bytes[9] = '\xea'; // 60000
  EXPECT_CONTAINS(readError(dir, bytes), ": byte 8: header length 60000 runs past the end of the file");
}

TEST(NpyCorrupt, ShapeLiesAboutSize) {
  TempDir dir;
  ValidNpy v = validFile();
  // Header claims more elements than the data holds ...
  std::string bigger = patch(v.bytes, "(2, 3, 4)", "(2, 3, 5)");
  EXPECT_CONTAINS(readError(dir, bigger), ": byte " + std::to_string(bigger.size()) +
                                              ": unexpected end of file: shape [2,3,5]");
  // ... or fewer.
  std::string smaller = patch(v.bytes, "(2, 3, 4)", "(2, 3, 3)");
  EXPECT_CONTAINS(readError(dir, smaller),
                  ": byte " + std::to_string(v.dataStart + 72) + ": expected end of file");
}

TEST(NpyCorrupt, FortranOrder) {
  TempDir dir;
  std::string bytes = patch(validFile().bytes, "False", "True ");
  size_t at = bytes.find("True");
  EXPECT_CONTAINS(readError(dir, bytes),
                  ": byte " + std::to_string(at) + ": expected fortran_order False");
}

TEST(NpyCorrupt, UnsupportedDtype) {
  TempDir dir;
  std::string bytes = patch(validFile().bytes, "'<f4'", "'>f4'");
  size_t at = bytes.find("'>f4'");
  EXPECT_CONTAINS(readError(dir, bytes),
                  ": byte " + std::to_string(at) + ": expected a supported dtype");
  EXPECT_CONTAINS(readError(dir, bytes), "found '>f4'");
}

TEST(NpyCorrupt, HeaderDictProblems) {
  TempDir dir;
  std::string data(4, '\x01');
  const std::string base = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
  EXPECT_CONTAINS(readError(dir, handMade("{'descr': '<f4', 'shape': (1,), }", data)),
                  ": byte 10: expected header keys 'descr', 'fortran_order' and 'shape' (missing "
                  "'fortran_order')");
  EXPECT_CONTAINS(readError(dir, handMade(base.substr(0, base.size() - 1) + "'extra': 1, }", data)),
                  ": byte 66: expected only the keys 'descr', 'fortran_order', 'shape' (unknown key "
                  "'extra')");
  EXPECT_CONTAINS(readError(dir, handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", data)),
                  ": byte 62: expected a 1-tuple written with a trailing comma");
  EXPECT_CONTAINS(readError(dir, handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", data)),
                  ": byte 61: expected a non-negative integer dimension");
  EXPECT_CONTAINS(readError(dir, handMade(base + " x", data)),
                  ": byte 68: expected only space padding after the header dict");
  std::string noNewline = handMade(base, data);
  size_t newlineAt = noNewline.size() - data.size() - 1;
  noNewline[newlineAt] = ' ';
  EXPECT_CONTAINS(readError(dir, noNewline),
                  ": byte " + std::to_string(newlineAt) + ": expected the header to end with a newline");
  // A well-formed hand-made file does load (the checks above are not blanket).
  auto ok = parseNpy(handMade(base, data), "mem");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->shape, std::vector<int64_t>{1});
}

} // namespace
