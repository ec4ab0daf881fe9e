//===- IdxTest.cpp - IDX data sets: round trips, corruption, pce-run ------===//
//
// Files are written here byte by byte in the real IDX layout (big-endian
// header and items), plain and gzip-compressed with zlib as MNIST ships them,
// with fresh random contents. Corruption tests assert the path and the byte
// offset of each message. The Fashion-MNIST test reads the Debian package's
// files when they are installed, and the pce-run tests drive --idx-images on
// fake_model.c's linear classifier with one-hot weights, whose predictions
// are therefore known exactly.
//
//===----------------------------------------------------------------------===//

#include "runtime/Idx.h"
#include "runtime/Npy.h"
#include "runtime/Safetensors.h"

#include "FakeArtifact.h"
#include "IdxFiles.h"
#include "TestSupport.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// The error message of reading `bytes` as the file `path` (empty if it reads).
std::string readError(const TempDir &dir, const std::string &name, const std::string &bytes) {
  std::string path = dir.file(name);
  writeBytes(path, bytes);
  auto a = readIdx(path);
  return a ? std::string() : a.error();
}

std::vector<int64_t> randomImageShape() {
  std::uniform_int_distribution<int64_t> n(1, 40), side(1, 30);
  return {n(rng()), side(rng()), side(rng())};
}

// ---------------------------------------------------------------------------
// Round trips

TEST(Idx, RoundTripsPlainU8) {
  TempDir dir;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<int64_t> shape = randomImageShape();
    if (rep == 4)
      shape = {shape[0]}; // a labels-like rank-1 file
    std::string file = randomU8File(shape);
    writeBytes(dir.file("x-idx-ubyte"), file);
    auto a = readIdx(dir.file("x-idx-ubyte"));
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(a->type, IdxType::U8);
    EXPECT_EQ(a->shape, shape);
    EXPECT_FALSE(a->gzipped);
    ASSERT_NE(a->u8(), nullptr);
    std::string header = idxHeader(0x08, dims32(shape));
    EXPECT_EQ(std::memcmp(a->u8(), file.data() + header.size(), file.size() - header.size()), 0);
    // The same bytes through parseIdx and as a HostTensor.
    auto p = parseIdx(file, "mem");
    ASSERT_TRUE(p) << p.error();
    auto t = idxToHostTensor(*p);
    ASSERT_TRUE(t) << t.error();
    EXPECT_EQ(t->dtype, DType::U8);
    EXPECT_EQ(t->shape, shape);
    EXPECT_EQ(std::memcmp(t->u8(), a->u8(), t->nbytes()), 0);
  }
}

TEST(Idx, RoundTripsEveryElementType) {
  TempDir dir;
  std::uniform_int_distribution<int64_t> i8(-128, 127), i16(-32768, 32767), i32(INT32_MIN, INT32_MAX);
  for (uint8_t type : {0x09, 0x0B, 0x0C, 0x0D, 0x0E}) {
    std::vector<int64_t> shape = {3, 2, 5};
    std::vector<double> values;
    std::string file = idxHeader(type, dims32(shape));
    for (int64_t i = 0; i < product(shape); ++i) {
      if (type == 0x09) {
        values.push_back(double(i8(rng())));
        appendBigEndian(file, static_cast<uint8_t>(int8_t(values.back())), 1);
      } else if (type == 0x0B) {
        values.push_back(double(i16(rng())));
        appendBigEndian(file, static_cast<uint16_t>(int16_t(values.back())), 2);
      } else if (type == 0x0C) {
        values.push_back(double(i32(rng())));
        appendBigEndian(file, static_cast<uint32_t>(int32_t(values.back())), 4);
      } else if (type == 0x0D) {
        float f = static_cast<float>(randomNonZero());
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        values.push_back(f);
        appendBigEndian(file, bits, 4);
      } else {
        double d = randomNonZero();
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        values.push_back(d);
        appendBigEndian(file, bits, 8);
      }
    }
    writeBytes(dir.file("t.idx"), file);
    auto a = readIdx(dir.file("t.idx"));
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(static_cast<int>(a->type), type);
    EXPECT_EQ(a->shape, shape);
    EXPECT_EQ(a->u8(), nullptr);
    for (size_t i = 0; i < values.size(); ++i)
      ASSERT_EQ(a->at(static_cast<int64_t>(i)), values[i]) << idxTypeName(a->type) << " item " << i;
    auto t = idxToHostTensor(*a);
    ASSERT_TRUE(t) << t.error();
    DType want = type == 0x0D ? DType::F32 : type == 0x0E ? DType::F64 : DType::I32;
    ASSERT_EQ(t->dtype, want);
    for (size_t i = 0; i < values.size(); ++i) {
      double got = want == DType::F32 ? t->f32()[i] : want == DType::F64 ? t->f64()[i] : t->i32()[i];
      ASSERT_EQ(got, values[i]);
    }
  }
}

TEST(Idx, RoundTripsGzip) {
  TempDir dir;
  std::vector<int64_t> shape = randomImageShape();
  std::string file = randomU8File(shape);
  std::string data = file.substr(16);
  // Through gzopen/gzwrite, as the real .gz files are written.
  writeGzipFile(dir.file("x-idx3-ubyte.gz"), file);
  auto a = readIdx(dir.file("x-idx3-ubyte.gz"));
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->gzipped);
  EXPECT_EQ(a->shape, shape);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(a->u8()), data.size()), data);
  // Two concatenated gzip members (`cat a.gz b.gz`) are one file to gzip(1).
  size_t cut = file.size() / 3;
  writeBytes(dir.file("multi.gz"), gzipBytes(file.substr(0, cut)) + gzipBytes(file.substr(cut)));
  auto m = readIdx(dir.file("multi.gz"));
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->shape, shape);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(m->u8()), data.size()), data);
}

// ---------------------------------------------------------------------------
// Corruption: plain files

TEST(Idx, RejectsBadHeaders) {
  TempDir dir;
  std::vector<int64_t> shape = randomImageShape();
  std::string good = randomU8File(shape);
  std::string p = dir.file("bad");
  auto with = [&](size_t at, char c) {
    std::string b = good;
    b[at] = c;
    return b;
  };
  EXPECT_CONTAINS(readError(dir, "bad", with(0, '\x01')),
                  p + ": byte 0: not an IDX file: the magic number must start with two zero bytes, found 0x01 0x00");
  EXPECT_CONTAINS(readError(dir, "bad", with(1, '\x08')), p + ": byte 1: not an IDX file");
  EXPECT_CONTAINS(readError(dir, "bad", with(2, '\x07')), p + ": byte 2: unknown IDX element type 0x07");
  EXPECT_CONTAINS(readError(dir, "bad", with(3, '\x00')), p + ": byte 3: IDX rank 0 out of range");
  EXPECT_CONTAINS(readError(dir, "bad", with(3, '\x09')), p + ": byte 3: IDX rank 9 out of range");
  // An .npy file is not IDX either.
  EXPECT_CONTAINS(readError(dir, "bad", std::string("\x93NUMPY\x01\x00", 8)), p + ": byte 0: not an IDX file");
  EXPECT_CONTAINS(readError(dir, "bad", ""),
                  p + ": byte 0: unexpected end of file: the IDX header needs 4 bytes for the magic number");
  // The header stops inside the dimension sizes.
  EXPECT_CONTAINS(readError(dir, "bad", good.substr(0, 14)),
                  p + ": byte 14: unexpected end of file: the IDX header needs 16 bytes for 3 dimension sizes, "
                      "the file has 14");
  // A dimension of size 0, and sizes whose product overflows.
  EXPECT_CONTAINS(readError(dir, "bad", idxHeader(0x08, {3, 0, 2})),
                  p + ": byte 8: dimension 1 has size 0");
  EXPECT_CONTAINS(readError(dir, "bad", idxHeader(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 2})),
                  p + ": byte 8: dimension sizes too large");
  // Large but representable sizes: the data is simply not there.
  EXPECT_CONTAINS(readError(dir, "bad", idxHeader(0x08, {1000000000, 28, 28}) + "abc"),
                  p + ": byte 19: unexpected end of file: u8 [1000000000,28,28] needs 784000000000 data bytes "
                      "from byte 16, the file has 3");
}

TEST(Idx, RejectsDataOfTheWrongSize) {
  TempDir dir;
  std::vector<int64_t> shape = randomImageShape();
  std::string good = randomU8File(shape);
  std::string p = dir.file("x-idx3-ubyte");
  int64_t data = product(shape);
  std::string type = "u8 " + shapeToString(shape);
  std::uniform_int_distribution<int64_t> cutDist(1, data);
  int64_t cut = cutDist(rng());
  EXPECT_CONTAINS(readError(dir, "x-idx3-ubyte", good.substr(0, good.size() - cut)),
                  p + ": byte " + std::to_string(good.size() - cut) + ": unexpected end of file: " + type +
                      " needs " + std::to_string(data) + " data bytes from byte 16, the file has " +
                      std::to_string(data - cut));
  EXPECT_CONTAINS(readError(dir, "x-idx3-ubyte", good + randomBytes(5)),
                  p + ": byte " + std::to_string(16 + data) + ": 5 trailing bytes after the " +
                      std::to_string(data) + " data bytes of " + type);
  // Wrong dimension count: the same bytes announced as rank 2 leave the last
  // size and most of the data as trailing bytes.
  std::string rank2 = good;
  rank2[3] = 2;
  int64_t rank2Data = shape[0] * shape[1];
  EXPECT_CONTAINS(readError(dir, "x-idx3-ubyte", rank2),
                  p + ": byte " + std::to_string(12 + rank2Data) + ": " + std::to_string(4 + data - rank2Data) +
                      " trailing bytes after the " + std::to_string(rank2Data) + " data bytes of u8 [" +
                      std::to_string(shape[0]) + "," + std::to_string(shape[1]) + "]");
  // ...and as rank 4 the first four data bytes become a fourth size.
  std::string rank4 = idxHeader(0x08, {2, 3, 4}) + std::string("\0\0\0\x01", 4) + randomBytes(20);
  rank4[3] = 4;
  EXPECT_CONTAINS(readError(dir, "x-idx3-ubyte", rank4),
                  p + ": byte 40: unexpected end of file: u8 [2,3,4,1] needs 24 data bytes from byte 20, "
                      "the file has 20");
  // Multi-byte items: a half item at the end.
  std::string i16 = idxHeader(0x0B, {3}) + randomBytes(5);
  EXPECT_CONTAINS(readError(dir, "x-idx3-ubyte", i16),
                  p + ": byte 13: unexpected end of file: i16 [3] needs 6 data bytes from byte 8, the file has 5");
}

// ---------------------------------------------------------------------------
// Corruption: gzip files (IDX offsets refer to the decompressed data)

TEST(Idx, RejectsBadDataInsideGzip) {
  TempDir dir;
  std::vector<int64_t> shape = randomImageShape();
  std::string good = randomU8File(shape);
  std::string p = dir.file("x.gz");
  int64_t data = product(shape);
  EXPECT_CONTAINS(readError(dir, "x.gz", gzipBytes(good + "xyz")),
                  p + ": byte " + std::to_string(16 + data) +
                      " of the decompressed data: trailing bytes after the " + std::to_string(data) +
                      " data bytes of u8 " + shapeToString(shape));
  EXPECT_CONTAINS(readError(dir, "x.gz", gzipBytes(good.substr(0, good.size() - 1))),
                  p + ": byte " + std::to_string(good.size() - 1) +
                      " of the decompressed data: unexpected end of file: u8 " + shapeToString(shape) + " needs " +
                      std::to_string(data) + " data bytes from byte 16, the decompressed data has " +
                      std::to_string(data - 1));
  std::string magic = good;
  magic[2] = '\x0A';
  EXPECT_CONTAINS(readError(dir, "x.gz", gzipBytes(magic)),
                  p + ": byte 2 of the decompressed data: unknown IDX element type 0x0A");
  // A header announcing far more than the stream holds, and a small stream
  // inflating to far more than its header says (stopped early).
  EXPECT_CONTAINS(readError(dir, "x.gz", gzipBytes(idxHeader(0x08, {4000000000u, 100, 100}))),
                  p + ": byte 16 of the decompressed data: unexpected end of file");
  EXPECT_CONTAINS(readError(dir, "x.gz", gzipBytes(idxHeader(0x08, {2}) + std::string(50000000, 'z'))),
                  p + ": byte 10 of the decompressed data: trailing bytes after the 2 data bytes of u8 [2]");
}

TEST(Idx, RejectsCorruptGzipStreams) {
  TempDir dir;
  std::vector<int64_t> shape = randomImageShape();
  std::string good = randomU8File(shape);
  std::string gz = gzipBytes(good);
  std::string p = dir.file("x.gz");
  std::string total = std::to_string(good.size());
  // The gzip trailer: CRC-32 of the data, then its length mod 2^32.
  std::string crc = gz;
  crc[crc.size() - 6] ^= 0x5A;
  EXPECT_CONTAINS(readError(dir, "x.gz", crc),
                  p + ": corrupt gzip stream at compressed byte " + std::to_string(gz.size() - 4) + " (after " +
                      total + " decompressed bytes): incorrect data check");
  std::string len = gz;
  len[len.size() - 2] ^= 0x01;
  EXPECT_CONTAINS(readError(dir, "x.gz", len),
                  p + ": corrupt gzip stream at compressed byte " + std::to_string(gz.size()) + " (after " +
                      total + " decompressed bytes): incorrect length check");
  // Compression method 7 in the gzip header (only 8, deflate, exists).
  std::string method = gz;
  method[2] = 7;
  EXPECT_CONTAINS(readError(dir, "x.gz", method), p + ": corrupt gzip stream at compressed byte ");
  EXPECT_CONTAINS(readError(dir, "x.gz", method), "(after 0 decompressed bytes): unknown compression method");
  // Truncated anywhere past the gzip header.
  std::uniform_int_distribution<size_t> cutDist(11, gz.size() - 1);
  size_t cut = cutDist(rng());
  std::string e = readError(dir, "x.gz", gz.substr(0, cut));
  EXPECT_CONTAINS(e, p + ": truncated gzip stream: it ends at compressed byte " + std::to_string(cut) + " after ");
  // Bytes after the stream that are not another gzip member.
  EXPECT_CONTAINS(readError(dir, "x.gz", gz + "junk"),
                  p + ": compressed byte " + std::to_string(gz.size()) +
                      ": 4 trailing bytes after the end of the gzip stream");
  // A flipped bit inside the deflate data: an error naming the file
  // (deflate error, CRC mismatch or wrong size, depending on the bit), or,
  // when the bit does not matter to deflate (e.g. a padding bit), exactly the
  // original data: never different data without an error.
  auto original = parseIdx(good, "mem");
  ASSERT_TRUE(original) << original.error();
  std::uniform_int_distribution<size_t> at(10, gz.size() - 9);
  for (int rep = 0; rep < 20; ++rep) {
    std::string flipped = gz;
    size_t i = at(rng());
    flipped[i] ^= static_cast<char>(1 << (rep % 8));
    writeBytes(p, flipped);
    auto a = readIdx(p);
    if (a) {
      EXPECT_EQ(a->shape, original->shape) << "flipped byte " << i;
      EXPECT_TRUE(std::equal(a->u8(), a->u8() + product(a->shape), original->u8()))
          << "flipped byte " << i << " changed the data without an error";
    } else {
      EXPECT_CONTAINS(a.error(), p + ": ") << "flipped byte " << i;
    }
  }
}

// ---------------------------------------------------------------------------
// Images and labels as tensors

TEST(Idx, ImagesScaleToUnitRangeAndNormalise) {
  std::vector<int64_t> shape = randomImageShape();
  std::string file = randomU8File(shape);
  file[16] = 0;
  file[17] = static_cast<char>(255);
  auto a = parseIdx(file, "mem");
  ASSERT_TRUE(a) << a.error();
  auto x = idxImagesToTensor(*a, "mem");
  ASSERT_TRUE(x) << x.error();
  ASSERT_EQ(x->typeString(), "f32[" + std::to_string(shape[0]) + ",1," + std::to_string(shape[1]) + "," +
                                 std::to_string(shape[2]) + "]");
  for (int64_t i = 0; i < product(shape); ++i)
    ASSERT_EQ(x->f32()[i], static_cast<float>(a->u8()[i]) / 255.0f);
  EXPECT_EQ(x->f32()[0], 0.0f);
  if (product(shape) > 1) {
    EXPECT_EQ(x->f32()[1], 1.0f);
  }

  // A random mean in [0.025, 0.5] and std in [0.225, 0.7].
  IdxNormalization norm{static_cast<float>(std::abs(randomNonZero()) / 4),
                        static_cast<float>(0.2 + std::abs(randomNonZero()) / 4)};
  int64_t limit = std::max<int64_t>(1, shape[0] / 2);
  auto z = idxImagesToTensor(*a, "mem", norm, limit);
  ASSERT_TRUE(z) << z.error();
  ASSERT_EQ(z->shape[0], limit);
  for (int64_t i = 0; i < limit * shape[1] * shape[2]; ++i)
    ASSERT_EQ(z->f32()[i], (static_cast<float>(a->u8()[i]) / 255.0f - norm.mean) / norm.std);

  EXPECT_CONTAINS(idxImagesToTensor(*a, "mem", IdxNormalization{0.5f, 0.0f}).error(),
                  "image normalisation needs a finite mean and a std > 0");
  auto labels = parseIdx(idxHeader(0x08, {3}) + "abc", "labels.idx");
  ASSERT_TRUE(labels);
  EXPECT_CONTAINS(idxImagesToTensor(*labels, "labels.idx").error(),
                  "labels.idx: expected images as u8 [N,H,W], found u8 [3]");
}

TEST(Idx, LabelsBecomeInt64) {
  std::string file = idxHeader(0x08, {4});
  file += std::string("\x00\x09\x03\xFF", 4);
  auto a = parseIdx(file, "l");
  ASSERT_TRUE(a) << a.error();
  auto y = idxLabelsToTensor(*a, "l");
  ASSERT_TRUE(y) << y.error();
  ASSERT_EQ(y->typeString(), "i64[4]");
  EXPECT_EQ(std::vector<int64_t>(y->i64(), y->i64() + 4), (std::vector<int64_t>{0, 9, 3, 255}));
  // Signed bytes stay signed; the limit keeps the first items.
  std::string s = idxHeader(0x09, {3}) + std::string("\xFE\x05\x80", 3);
  auto sa = parseIdx(s, "s");
  ASSERT_TRUE(sa) << sa.error();
  auto sy = idxLabelsToTensor(*sa, "s", 2);
  ASSERT_TRUE(sy) << sy.error();
  EXPECT_EQ(std::vector<int64_t>(sy->i64(), sy->i64() + 2), (std::vector<int64_t>{-2, 5}));
  std::string f = idxHeader(0x0D, {1}) + std::string(4, '\0');
  auto fa = parseIdx(f, "f.idx");
  ASSERT_TRUE(fa);
  EXPECT_CONTAINS(idxLabelsToTensor(*fa, "f.idx").error(), "f.idx: expected labels as integers [N], found f32 [1]");
}

TEST(Idx, DatasetChecksThatImagesAndLabelsAgree) {
  TempDir dir;
  std::vector<int64_t> shape = randomImageShape();
  writeGzipFile(dir.file("images.gz"), randomU8File(shape));
  writeBytes(dir.file("labels"), randomU8File({shape[0]}));
  writeBytes(dir.file("more-labels"), randomU8File({shape[0] + 1}));
  auto ds = readIdxDataset(dir.file("images.gz"), dir.file("labels"));
  ASSERT_TRUE(ds) << ds.error();
  EXPECT_EQ(ds->count, shape[0]);
  EXPECT_EQ(ds->images.shape, (std::vector<int64_t>{shape[0], 1, shape[1], shape[2]}));
  ASSERT_TRUE(ds->labels);
  EXPECT_EQ(ds->labels->shape, std::vector<int64_t>{shape[0]});
  auto bad = readIdxDataset(dir.file("images.gz"), dir.file("more-labels"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "images file " + dir.file("images.gz") + " holds " + std::to_string(shape[0]) +
                             " items but labels file " + dir.file("more-labels") + " holds " +
                             std::to_string(shape[0] + 1));
  // No labels; a limit larger than the file keeps everything.
  IdxDatasetOptions options;
  options.limit = shape[0] + 100;
  auto nolabels = readIdxDataset(dir.file("images.gz"), "", options);
  ASSERT_TRUE(nolabels) << nolabels.error();
  EXPECT_FALSE(nolabels->labels);
  EXPECT_EQ(nolabels->images.shape[0], shape[0]);
  EXPECT_CONTAINS(readIdxDataset(dir.file("missing"), "").error(), dir.file("missing") + ": cannot open");
}

// The Fashion-MNIST test set from the Debian package dataset-fashion-mnist.
TEST(Idx, ReadsFashionMnistTestSet) {
  const std::string root = "/usr/share/datasets/fashion-mnist/";
  if (!std::filesystem::exists(root + "t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << root << " is absent (apt-get install dataset-fashion-mnist)";
  auto raw = readIdx(root + "t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(raw) << raw.error();
  EXPECT_TRUE(raw->gzipped);
  EXPECT_EQ(raw->type, IdxType::U8);
  EXPECT_EQ(raw->shape, (std::vector<int64_t>{10000, 28, 28}));
  auto rawLabels = readIdx(root + "t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(rawLabels) << rawLabels.error();
  EXPECT_EQ(rawLabels->shape, std::vector<int64_t>{10000});

  auto ds = readIdxDataset(root + "t10k-images-idx3-ubyte.gz", root + "t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(ds) << ds.error();
  EXPECT_EQ(ds->images.typeString(), "f32[10000,1,28,28]");
  ASSERT_EQ(ds->labels->typeString(), "i64[10000]");
  // Fashion-MNIST's test set is balanced: 1000 images of each of 10 classes.
  std::vector<int64_t> perClass(10, 0);
  for (int64_t i = 0; i < 10000; ++i) {
    int64_t l = ds->labels->i64()[i];
    ASSERT_TRUE(l >= 0 && l <= 9) << "label " << l << " of item " << i;
    ++perClass[l];
  }
  EXPECT_EQ(perClass, std::vector<int64_t>(10, 1000));
  // Pixels in [0,1], neither all black nor all white.
  const float *x = ds->images.f32();
  auto [lo, hi] = std::minmax_element(x, x + ds->images.numel());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
}


} // namespace
