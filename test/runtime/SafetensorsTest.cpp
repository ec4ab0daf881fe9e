//===- SafetensorsTest.cpp - safetensors round trips and validation -------===//

#include "runtime/Safetensors.h"

#include "runtime/Json.h"
#include "runtime/Npy.h"

#include "TestSupport.h"

#include <algorithm>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

std::map<std::string, HostTensor> randomSet() {
  std::map<std::string, HostTensor> m;
  m["layer0.experts.kernel"] = randomTensor(DType::F32, {4, 2, 3, 3});
  m["layer0.keys"] = randomTensor(DType::F32, {4, 5});
  m["bn.running_var"] = randomTensor(DType::F64, {7});
  m["scalar"] = randomTensor(DType::F32, {});
  m["empty"] = randomTensor(DType::F32, {0, 3});
  m["labels"] = randomTensor(DType::I64, {6});
  m["mask"] = randomTensor(DType::U8, {2, 2});
  return m;
}

TEST(Safetensors, RoundTripsWithMetadata) {
  TempDir dir;
  auto tensors = randomSet();
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"step", "12"}};
  ASSERT_TRUE(writeSafetensors(dir.file("w.safetensors"), tensors, meta));
  auto back = readSafetensors(dir.file("w.safetensors"));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->path, dir.file("w.safetensors"));
  EXPECT_EQ(back->metadata, meta);
  ASSERT_EQ(back->tensors.size(), tensors.size());
  for (const auto &[name, t] : tensors) {
    ASSERT_TRUE(back->find(name)) << name;
    EXPECT_TRUE(sameTensor(*back->find(name), t)) << name;
  }
  EXPECT_EQ(back->find("nope"), nullptr);
}

TEST(Safetensors, WriterIsDeterministicSortedAndAligned) {
  TempDir dir;
  auto tensors = randomSet();
  ASSERT_TRUE(writeSafetensors(dir.file("a.safetensors"), tensors));
  ASSERT_TRUE(writeSafetensors(dir.file("b.safetensors"), tensors));
  std::string a = readBytes(dir.file("a.safetensors"));
  EXPECT_EQ(a, readBytes(dir.file("b.safetensors")));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(a[i])) << (8 * i);
  EXPECT_EQ((8 + n) % 8, 0u);
  auto header = parseJson(std::string_view(a).substr(8, n));
  ASSERT_TRUE(header) << header.error();
  // Names sorted, data packed back to back in that order.
  std::vector<std::string> names;
  int64_t expect = 0;
  for (const auto &[name, info] : *header->getObject()) {
    names.push_back(name);
    const auto &offs = *info.find("data_offsets")->getArray();
    EXPECT_EQ(offs[0].intValue(), expect) << name;
    expect = offs[1].intValue();
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(static_cast<uint64_t>(expect), a.size() - 8 - n);
}

// Independent reader: Python's json + numpy decode the file the runtime wrote
// and compare each tensor with a .npy the runtime also wrote.
const char *kCheckScript = R"PY(
import json, struct, sys, numpy as np
path, d = sys.argv[1], sys.argv[2]
raw = open(path, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
kinds = {'F32': '<f4', 'F64': '<f8', 'I64': '<i8', 'I32': '<i4', 'U8': '|u1'}
for name, info in header.items():
    if name == '__metadata__':
        continue
    b, e = info['data_offsets']
    a = np.frombuffer(data[b:e], dtype=kinds[info['dtype']]).reshape(info['shape'])
    ref = np.load(f'{d}/{name}.npy')
    assert a.dtype == ref.dtype and a.shape == ref.shape and np.array_equal(a, ref), name
)PY";

TEST(Safetensors, PythonDecodesRuntimeFiles) {
  if (!haveNumpy())
    GTEST_SKIP() << "/usr/bin/python3 cannot import numpy";
  TempDir dir;
  auto tensors = randomSet();
  ASSERT_TRUE(writeSafetensors(dir.file("w.safetensors"), tensors, {{"k", "v"}}));
  for (const auto &[name, t] : tensors)
    ASSERT_TRUE(writeNpy(dir.file(name + ".npy"), t));
  writeBytes(dir.file("check.py"), kCheckScript);
  std::string out;
  EXPECT_EQ(runCommand("/usr/bin/python3 " + shellQuote(dir.file("check.py")) + " " +
                           shellQuote(dir.file("w.safetensors")) + " " + shellQuote(dir.path()),
                       &out),
            0)
      << out;
}

// A file from a header text and a data section.
std::string makeFile(const std::string &header, const std::string &data) {
  std::string out;
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * i)) & 0xFF);
  return out + header + data;
}

std::string readError(const TempDir &dir, const std::string &bytes) {
  std::string path = dir.file("c.safetensors");
  writeBytes(path, bytes);
  auto f = readSafetensors(path);
  EXPECT_FALSE(f) << "corrupt file was accepted";
  return f ? "" : f.error();
}

// File offset of the first occurrence of `needle` in the header (+8).
std::string at(const std::string &header, const std::string &needle) {
  size_t pos = header.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  return ": byte " + std::to_string(8 + pos) + ":";
}

TEST(SafetensorsCorrupt, TooShortForLength) {
  TempDir dir;
  std::string e = readError(dir, "abc");
  EXPECT_CONTAINS(e, dir.file("c.safetensors") + ": byte 0: expected an 8-byte little-endian header length");
}

TEST(SafetensorsCorrupt, HeaderLengthBeyondFile) {
  TempDir dir;
  std::string bytes = makeFile("{}", "");
  bytes[0] = '\x40';
  std::string e = readError(dir, bytes);
  EXPECT_CONTAINS(e, dir.file("c.safetensors") + ": byte 0: header length 64 runs past the end of the file");
  EXPECT_CONTAINS(e, "file has 10 bytes");
}

TEST(SafetensorsCorrupt, TruncatedData) {
  TempDir dir;
  ASSERT_TRUE(writeSafetensors(dir.file("ok.safetensors"), randomSet()));
  std::string bytes = readBytes(dir.file("ok.safetensors"));
  std::string cut = bytes.substr(0, bytes.size() - 4);
  // The last tensor in the data section ("scalar") now lies outside it.
  uint64_t n = static_cast<unsigned char>(bytes[0]) | (static_cast<unsigned char>(bytes[1]) << 8);
  std::string header = bytes.substr(8, n);
  size_t tensorAt = header.find("\"scalar\"");
  std::string e = readError(dir, cut);
  EXPECT_CONTAINS(e, "tensor 'scalar': data_offsets");
  EXPECT_CONTAINS(e, "lies outside the data section");
  size_t offsAt = header.find("data_offsets", tensorAt) + 14;
  EXPECT_CONTAINS(e, dir.file("c.safetensors") + ": byte " + std::to_string(8 + offsAt) + ":");
}

TEST(SafetensorsCorrupt, TruncatedHeaderJson) {
  TempDir dir;
  std::string header = R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4])";
  std::string e = readError(dir, makeFile(header, "abcd"));
  EXPECT_CONTAINS(e, dir.file("c.safetensors") + ": byte " + std::to_string(8 + header.size()) +
                         ": expected ',' or '}' in object, found end of input");
}

TEST(SafetensorsCorrupt, HeaderNotAnObject) {
  TempDir dir;
  EXPECT_CONTAINS(readError(dir, makeFile("  [1, 2]", "")),
                  ": byte 10: expected the header to be a JSON object, found an array");
}

TEST(SafetensorsCorrupt, OverlappingOffsets) {
  TempDir dir;
  std::string header = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, )"
                       R"("b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})";
  std::string e = readError(dir, makeFile(header, std::string(12, '\x01')));
  std::string bAt = at(header, "[4, 12]");
  EXPECT_CONTAINS(e, dir.file("c.safetensors") + bAt);
  EXPECT_CONTAINS(e, "tensor 'b': data_offsets [4,12] overlap tensor 'a' [0,8]");
}

TEST(SafetensorsCorrupt, UnknownAndUnsupportedDtype) {
  TempDir dir;
  std::string header = R"({"w": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}})";
  std::string e = readError(dir, makeFile(header, "abcd"));
  EXPECT_CONTAINS(e, dir.file("c.safetensors") + at(header, "\"F33\""));
  EXPECT_CONTAINS(e, "tensor 'w': unknown dtype 'F33'");
  std::string half = R"({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})";
  e = readError(dir, makeFile(half, "abcd"));
  EXPECT_CONTAINS(e, at(half, "\"F16\""));
  EXPECT_CONTAINS(e, "tensor 'w': dtype 'F16' is not supported by the PCE runtime");
}

TEST(SafetensorsCorrupt, SizeDoesNotMatchShape) {
  TempDir dir;
  std::string header = R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})";
  std::string e = readError(dir, makeFile(header, std::string(24, '\x02')));
  EXPECT_CONTAINS(e, dir.file("c.safetensors") + at(header, "[0, 20]"));
  EXPECT_CONTAINS(e, "tensor 'w': data_offsets [0,20] holds 20 bytes but F32 [2,3] needs 24");
}

TEST(SafetensorsCorrupt, MalformedEntries) {
  TempDir dir;
  struct Case {
    std::string header, needle, message;
  };
  const Case cases[] = {
      {R"({"w": {"dtype": "F32", "shape": [1]}})", "{\"dtype\"", "tensor 'w': expected keys dtype, shape and data_offsets (missing 'data_offsets')"},
      {R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "-1", "tensor 'w': expected a non-negative integer dimension"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", "[4, 0]", "tensor 'w': data_offsets [4,0] has begin > end"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", "[0]", "tensor 'w': expected data_offsets to be [begin, end]"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}})", "1}}", "tensor 'w': expected only dtype, shape, data_offsets, found key 'x'"},
      {R"({"w": 3})", "3", "tensor 'w': expected an object"},
      {R"({"__metadata__": {"a": 1}})", "1}", "expected __metadata__ value 'a' to be a string"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {}})", "\"w\": {}", "expected unique object keys"},
  };
  for (const Case &c : cases) {
    std::string e = readError(dir, makeFile(c.header, "abcd"));
    EXPECT_CONTAINS(e, at(c.header, c.needle));
    EXPECT_CONTAINS(e, c.message);
  }
}

TEST(SafetensorsCorrupt, WriterRefusesBadInput) {
  TempDir dir;
  std::map<std::string, HostTensor> m;
  m["__metadata__"] = randomTensor(DType::F32, {1});
  EXPECT_FALSE(writeSafetensors(dir.file("x.safetensors"), m));
  m.clear();
  m["w"] = randomTensor(DType::F32, {2});
  m["w"].shape = {3};
  Status s = writeSafetensors(dir.file("x.safetensors"), m);
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), "tensor 'w' f32[3] holds 8 bytes");
}

} // namespace
