//===- NpyPairsTest.cpp - a data set as images.npy / labels.npy -----------===//

#include "runtime/NpyPairs.h"
#include "runtime/Npy.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {
void writePair(const TempDir &dir, const std::string &split, const HostTensor &images, const HostTensor &labels) {
  std::filesystem::create_directories(dir.file(split));
  ASSERT_TRUE(writeNpy(dir.file(split + "/images.npy"), images));
  ASSERT_TRUE(writeNpy(dir.file(split + "/labels.npy"), labels));
}

HostTensor labelsOf(std::vector<int64_t> values) {
  HostTensor t = *HostTensor::create(DType::I64, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i)
    t.i64()[i] = values[i];
  return t;
}
} // namespace

TEST(NpyPairs, ChannelsFirstU8AndChannelsLastFloat) {
  TempDir dir;
  HostTensor nchw = randomTensor(DType::U8, {2, 3, 5, 6});
  writePair(dir, "train", nchw, labelsOf({4, 0}));
  auto a = readNpyPair(dir.path(), "train");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->images.shape, (std::vector<int64_t>{2, 3, 5, 6}));
  EXPECT_EQ(a->images.f32()[((1 * 3 + 2) * 5 + 4) * 6 + 5], nchw.u8()[((1 * 3 + 2) * 5 + 4) * 6 + 5] / 255.0f);
  EXPECT_EQ(a->labels.i64()[0], 4);
  EXPECT_EQ(a->source, dir.file("train/images.npy"));

  HostTensor nhwc = *HostTensor::create(DType::F32, {2, 5, 6, 3});
  for (int64_t i = 0; i < nhwc.numel(); ++i)
    nhwc.f32()[i] = static_cast<float>(i % 97) / 96.0f;
  writePair(dir, "test", nhwc, labelsOf({1, 2}));
  auto b = readNpyPair(dir.path(), "test");
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(b->images.shape, (std::vector<int64_t>{2, 3, 5, 6}));
  // Item 1, channel 2, row 4, column 5 comes from [1, 4, 5, 2] of the file.
  EXPECT_EQ(b->images.f32()[((1 * 3 + 2) * 5 + 4) * 6 + 5], nhwc.f32()[((1 * 5 + 4) * 6 + 5) * 3 + 2]);

  std::vector<float> mean = {0.5f, 0.25f, 0.0f}, std = {0.5f, 2.0f, 1.0f};
  float before = b->images.f32()[1 * 5 * 6]; // item 0, channel 1, first pixel
  ASSERT_TRUE(normalizeChannels(b->images, mean, std));
  EXPECT_EQ(b->images.f32()[1 * 5 * 6], (before - 0.25f) / 2.0f);
  EXPECT_FALSE(normalizeChannels(b->images, {0.5f}, {0.5f}));
}

TEST(NpyPairs, BadFilesAreErrors) {
  TempDir dir;
  auto error = [&](const HostTensor &images, const HostTensor &labels) {
    writePair(dir, "train", images, labels);
    auto p = readNpyPair(dir.path(), "train");
    EXPECT_FALSE(p.ok());
    return p.ok() ? std::string() : p.error();
  };
  std::string images = dir.file("train/images.npy"), labels = dir.file("train/labels.npy");
  EXPECT_EQ(error(randomTensor(DType::U8, {2, 3, 8, 3}), labelsOf({0, 1})),
            images + ": cannot tell the channels of u8[2,3,8,3] (expected 1, 3 or 4 of them in dimension 1 or 3, "
                     "not both)");
  EXPECT_EQ(error(randomTensor(DType::U8, {2, 8, 8}), labelsOf({0, 1})),
            images + ": images must be [N,C,H,W] or [N,H,W,C], found u8[2,8,8]");
  HostTensor big = *HostTensor::create(DType::F32, {1, 1, 2, 2});
  big.f32()[3] = 2.0f;
  EXPECT_NE(error(big, labelsOf({0})).find("image 0 holds 2.000000: float images must be in [0, 1]"),
            std::string::npos);
  EXPECT_EQ(error(randomTensor(DType::U8, {2, 1, 5, 5}), labelsOf({0, 1, 2})),
            labels + ": 3 labels for 2 images");
  EXPECT_EQ(error(randomTensor(DType::U8, {2, 1, 5, 5}), labelsOf({0, -1})),
            labels + ": label -1 of item 1 is negative");
  EXPECT_NE(error(randomTensor(DType::U8, {2, 1, 5, 5}), randomTensor(DType::F32, {2}))
                .find("labels must be an integer [N] (u8, i32 or i64), found f32[2]"),
            std::string::npos);
  auto missing = readNpyPair(dir.path(), "test");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find(dir.file("test/images.npy")), std::string::npos) << missing.error();
}
