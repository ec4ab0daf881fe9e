//===- CifarTest.cpp - CIFAR-10 / CIFAR-100 binary files ------------------===//
//
// Files written here byte for byte in the published layout (label byte(s),
// then the red, green and blue 32x32 planes); truncated, lying and damaged
// variants are errors naming the file and byte offset, never a crash.
//
//===----------------------------------------------------------------------===//

#include "runtime/Cifar.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

struct Record {
  uint8_t coarse = 0, label = 0;
  std::string pixels; // 3072 bytes
};

Record randomRecord(int classes, int coarseClasses = 0) {
  std::uniform_int_distribution<int> label(0, classes - 1), coarse(0, std::max(coarseClasses - 1, 0)),
      byte(0, 255);
  Record r;
  r.label = static_cast<uint8_t>(label(rng()));
  r.coarse = static_cast<uint8_t>(coarse(rng()));
  r.pixels.resize(kCifarPixels);
  for (char &c : r.pixels)
    c = static_cast<char>(byte(rng()));
  return r;
}

std::string bytesOf(const std::vector<Record> &records, CifarVariant variant) {
  std::string out;
  for (const Record &r : records) {
    if (variant == CifarVariant::Cifar100)
      out += static_cast<char>(r.coarse);
    out += static_cast<char>(r.label);
    out += r.pixels;
  }
  return out;
}

std::string parseError(const std::string &bytes, CifarVariant variant) {
  CifarRecords records;
  Status s = parseCifar(bytes, variant, "b.bin", records);
  return s ? std::string() : s.message();
}

} // namespace

TEST(Cifar, ReadsCifar10RecordsChannelMajor) {
  std::vector<Record> records;
  for (int i = 0; i < 7; ++i)
    records.push_back(randomRecord(10));
  TempDir dir;
  writeBytes(dir.file("data_batch_1.bin"), bytesOf(records, CifarVariant::Cifar10));
  CifarRecords out;
  ASSERT_TRUE(readCifarFile(dir.file("data_batch_1.bin"), CifarVariant::Cifar10, out));
  ASSERT_EQ(out.count, 7);
  ASSERT_EQ(out.pixels.size(), 7u * 3072u);
  EXPECT_TRUE(out.coarse.empty());
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(out.labels[i], records[i].label);
    // Record i's green plane, row 5, column 9: byte 1024 + 5*32 + 9 of its pixels.
    EXPECT_EQ(out.pixels[i * 3072 + 1024 + 5 * 32 + 9], static_cast<uint8_t>(records[i].pixels[1024 + 5 * 32 + 9]));
  }
  // A second batch appends.
  ASSERT_TRUE(readCifarFile(dir.file("data_batch_1.bin"), CifarVariant::Cifar10, out));
  EXPECT_EQ(out.count, 14);
  EXPECT_EQ(out.labels[7], records[0].label);
}

TEST(Cifar, ReadsCifar100CoarseAndFineLabels) {
  std::vector<Record> records;
  for (int i = 0; i < 5; ++i)
    records.push_back(randomRecord(100, 20));
  CifarRecords out;
  ASSERT_TRUE(parseCifar(bytesOf(records, CifarVariant::Cifar100), CifarVariant::Cifar100, "train.bin", out));
  ASSERT_EQ(out.count, 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out.labels[i], records[i].label);
    EXPECT_EQ(out.coarse[i], records[i].coarse);
    EXPECT_EQ(out.pixels[i * 3072 + 3071], static_cast<uint8_t>(records[i].pixels[3071]));
  }
  EXPECT_EQ(cifarRecordBytes(CifarVariant::Cifar100), 3074);
  EXPECT_EQ(cifarClasses(CifarVariant::Cifar100), 100);
}

TEST(Cifar, BadFilesNameTheByte) {
  std::string good = bytesOf({randomRecord(10), randomRecord(10), randomRecord(10)}, CifarVariant::Cifar10);
  EXPECT_EQ(parseError("", CifarVariant::Cifar10),
            "b.bin: byte 0: empty file (a CIFAR batch holds records of 3073 bytes)");
  EXPECT_EQ(parseError(good.substr(0, 3073 * 2 + 100), CifarVariant::Cifar10),
            "b.bin: byte 6146: truncated record: 100 bytes left after 2 records of 3073 bytes (is this CIFAR-10's "
            "binary version?)");
  std::string badLabel = good;
  badLabel[3073] = 10;
  EXPECT_EQ(parseError(badLabel, CifarVariant::Cifar10),
            "b.bin: byte 3073: label 10 of record 1 is not one of the 10 classes");
  // CIFAR-10's records read as CIFAR-100's do not fit (3 * 3073 is not a multiple of 3074).
  EXPECT_NE(parseError(good, CifarVariant::Cifar100).find("truncated record"), std::string::npos);
  std::string hundred = bytesOf({randomRecord(100, 20), randomRecord(100, 20)}, CifarVariant::Cifar100);
  hundred[3074] = 20;
  EXPECT_EQ(parseError(hundred, CifarVariant::Cifar100),
            "b.bin: byte 3074: coarse label 20 of record 1 is not one of the 20 classes");
  hundred[3074] = 0;
  hundred[3075] = static_cast<char>(200);
  EXPECT_EQ(parseError(hundred, CifarVariant::Cifar100),
            "b.bin: byte 3075: fine label 200 of record 1 is not one of the 100 classes");
  CifarRecords out;
  Status missing = readCifarFile("/nonexistent/data_batch_1.bin", CifarVariant::Cifar10, out);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("/nonexistent/data_batch_1.bin"), std::string::npos);
}

TEST(Cifar, RandomDamageIsAnErrorOrRecords) {
  std::string good = bytesOf({randomRecord(10), randomRecord(10)}, CifarVariant::Cifar10);
  std::uniform_int_distribution<size_t> pos(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int ok = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = good;
    if (i % 2)
      damaged.resize(pos(rng()));
    else
      damaged[pos(rng()) % 3073 == 0 ? 0 : 3073] = static_cast<char>(byte(rng()));
    CifarRecords out;
    Status s = parseCifar(damaged, CifarVariant::Cifar10, "d.bin", out);
    ok += s ? 1 : 0;
    if (s)
      EXPECT_EQ(out.pixels.size(), static_cast<size_t>(out.count) * 3072u);
  }
  EXPECT_LT(ok, 2000);
}

TEST(Cifar, FindsTheFilesOfEachLayout) {
  TempDir dir;
  auto files = findCifarFiles(dir.path(), CifarVariant::Cifar10);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().find("not a CIFAR-10 (cifar-10-batches-bin) directory: missing data_batch_1.bin, "
                               "data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, "
                               "test_batch.bin, batches.meta.txt"),
            std::string::npos)
      << files.error();
  for (const char *f : {"train.bin", "test.bin", "fine_label_names.txt"})
    writeBytes(dir.file(f), "x");
  auto hundred = findCifarFiles(dir.path(), CifarVariant::Cifar100);
  ASSERT_TRUE(hundred.ok()) << hundred.error();
  EXPECT_EQ(hundred->train, std::vector<std::string>{dir.file("train.bin")});
  EXPECT_EQ(hundred->names, dir.file("fine_label_names.txt"));
}

TEST(Cifar, ClassNames) {
  TempDir dir;
  // batches.meta.txt as published: a name a line, then blank lines.
  writeBytes(dir.file("batches.meta.txt"), "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  auto names = readCifarNames(dir.file("batches.meta.txt"), 10);
  ASSERT_TRUE(names.ok()) << names.error();
  EXPECT_EQ(names->front(), "airplane");
  EXPECT_EQ(names->back(), "truck");
  writeBytes(dir.file("crlf.txt"), "a\r\nb\r\n");
  EXPECT_EQ(*readCifarNames(dir.file("crlf.txt"), 2), (std::vector<std::string>{"a", "b"}));
  writeBytes(dir.file("short.txt"), "a\nb\n");
  EXPECT_EQ(readCifarNames(dir.file("short.txt"), 10).error(),
            dir.file("short.txt") + ": expected 10 class names, one per line, found 2");
  writeBytes(dir.file("gap.txt"), "a\n\nb\n");
  EXPECT_EQ(readCifarNames(dir.file("gap.txt"), 2).error(),
            dir.file("gap.txt") + ": line 3: a class name after a blank line");
}

TEST(Cifar, ASplitAsTheModelTakesIt) {
  TempDir dir;
  std::vector<Record> test;
  for (int i = 0; i < 5; ++i)
    test.push_back(randomRecord(10));
  std::vector<Record> one = {randomRecord(10)};
  for (int b = 1; b <= 5; ++b)
    writeBytes(dir.file("data_batch_" + std::to_string(b) + ".bin"), bytesOf(one, CifarVariant::Cifar10));
  writeBytes(dir.file("test_batch.bin"), bytesOf(test, CifarVariant::Cifar10));
  writeBytes(dir.file("batches.meta.txt"), "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
  std::vector<float> mean = {0.5f, 0.25f, 0.75f}, std = {0.5f, 0.125f, 2.0f};
  auto split = readCifarSplit(dir.path(), CifarVariant::Cifar10, /*train=*/false, mean, std, /*limit=*/3);
  ASSERT_TRUE(split.ok()) << split.error();
  EXPECT_EQ(split->images.shape, (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_EQ(split->labels.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(split->classes[9], "j");
  EXPECT_EQ(split->source, dir.file("test_batch.bin"));
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(split->labels.i64()[i], test[i].label);
    // Blue plane, row 31, column 0.
    int64_t p = 2 * 1024 + 31 * 32;
    float want = (static_cast<uint8_t>(test[i].pixels[p]) / 255.0f - 0.75f) / 2.0f;
    EXPECT_EQ(split->images.f32()[i * 3072 + p], want);
  }
  auto train = readCifarSplit(dir.path(), CifarVariant::Cifar10, /*train=*/true, mean, std);
  ASSERT_TRUE(train.ok()) << train.error();
  EXPECT_EQ(train->images.shape[0], 5) << "one record from each of the five batches";
  EXPECT_NE(readCifarSplit(dir.path(), CifarVariant::Cifar10, false, {0.5f}, {0.5f}).error().find(
                "CIFAR images have 3 channels; the normalisation has 1 means and 1 stds"),
            std::string::npos);
}
