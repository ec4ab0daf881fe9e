//===- DataTest.cpp - IDX data for training: split, loading, errors -------===//

#include "TrainTestSupport.h"

#include "runtime/train/Data.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

using namespace pce;
using namespace pce::train;
using namespace pce::traintest;
namespace fs = std::filesystem;

TEST(Data, SplitIsDeterministicAndDisjoint) {
  auto [train1, val1] = splitIndices(1000, 100, 42);
  auto [train2, val2] = splitIndices(1000, 100, 42);
  EXPECT_TRUE(torch::equal(train1, train2));
  EXPECT_TRUE(torch::equal(val1, val2));
  EXPECT_EQ(train1.size(0), 900);
  EXPECT_EQ(val1.size(0), 100);
  std::set<int64_t> all;
  for (const torch::Tensor &t : {train1, val1})
    for (int64_t i = 0; i < t.size(0); ++i)
      all.insert(t[i].item<int64_t>());
  EXPECT_EQ(all.size(), 1000u); // a permutation: every index once
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 999);
  auto [train3, val3] = splitIndices(1000, 100, 43);
  EXPECT_FALSE(torch::equal(val1, val3)) << "another seed holds out other images";
}

TEST(Data, SplitNeedsMoreImagesThanValidation) {
  EXPECT_THROW(splitIndices(10, 10, 1), std::runtime_error);
}

TEST(Data, LoadsRealFormatFilesAndNormalises) {
  std::string dir = freshDir("data-load");
  writeDataset(dir, 40, 12);
  DataSplit s = loadFashionMnist(dir, 10, 5, 0);
  EXPECT_EQ(s.train.size(), 30);
  EXPECT_EQ(s.validation.size(), 10);
  EXPECT_EQ(s.test.size(), 12);
  EXPECT_EQ(s.train.images.sizes(), (std::vector<int64_t>{30, 1, 8, 8}));
  EXPECT_EQ(s.train.labels.scalar_type(), torch::kInt64);
  // Same split, same images: the loader is deterministic.
  DataSplit again = loadFashionMnist(dir, 10, 5, 0);
  EXPECT_TRUE(torch::equal(s.validation.images, again.validation.images));
  // --limit-train keeps the first images of the same split.
  DataSplit limited = loadFashionMnist(dir, 10, 5, 7);
  EXPECT_EQ(limited.train.size(), 7);
  EXPECT_TRUE(torch::equal(limited.train.images, s.train.images.slice(0, 0, 7)));
  EXPECT_TRUE(torch::equal(limited.validation.labels, s.validation.labels));
  // (x/255 - 0.2860) / 0.3530 of a known pixel.
  std::string raw = readFile(dir + "/t10k-images-idx3-ubyte.gz");
  ASSERT_FALSE(raw.empty());
  float lo = s.test.images.min().item<float>();
  EXPECT_GE(lo, (0.0f - kPixelMean) / kPixelStd - 1e-6f);
}

// Another IDX data set (MNIST, say) gives its own statistics; they
// normalise every split and travel with the description.
TEST(Data, IdxTakesGivenStatistics) {
  std::string dir = freshDir("data-idx-stats");
  writeDataset(dir, 40, 12);
  rt::TrainingConfig t;
  t.data = dir;
  t.dataFormat = "idx";
  t.validation = 10;
  t.seed = 5;
  t.dataMean = {0.1307};
  t.dataStd = {0.3081};
  DataSplit mnist = loadData(t, 0);
  DataSplit fashion = loadFashionMnist(dir, 10, 5, 0);
  EXPECT_EQ(mnist.description.mean, std::vector<float>{0.1307f});
  EXPECT_EQ(mnist.description.std, std::vector<float>{0.3081f});
  // the same pixels under the other statistics: x' = (x * 0.3530 + 0.2860 - 0.1307) / 0.3081
  torch::Tensor expected = (fashion.test.images * kPixelStd + kPixelMean - 0.1307f) / 0.3081f;
  EXPECT_TRUE(torch::allclose(mnist.test.images, expected, 1e-5, 1e-5));
  t.dataMean = {0.1, 0.2};
  t.dataStd = {0.3, 0.3};
  try {
    loadData(t, 0);
    FAIL() << "no exception";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("2 means for one-channel IDX images"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Data, MissingFileNamesThePaths) {
  std::string dir = freshDir("data-missing");
  try {
    findIdxFile(dir, "train-images-idx3-ubyte");
    FAIL() << "no exception";
  } catch (const std::runtime_error &e) {
    std::string m = e.what();
    EXPECT_NE(m.find(dir + "/train-images-idx3-ubyte.gz"), std::string::npos) << m;
    EXPECT_NE(m.find(dir + "/train-images-idx3-ubyte "), std::string::npos) << m;
  }
}

TEST(Data, CorruptFileNamesPathAndOffset) {
  std::string dir = freshDir("data-corrupt");
  // Header says 5 images of 4x4 but only 3 are there (plain, not gzip).
  std::vector<uint8_t> items(3 * 16, 9);
  writeFile(dir + "/images", idxBytes({5, 4, 4}, items));
  writeFile(dir + "/labels", idxBytes({5}, {1, 2, 3, 4, 5}));
  try {
    loadIdxPair(dir + "/images", dir + "/labels");
    FAIL() << "no exception";
  } catch (const std::runtime_error &e) {
    std::string m = e.what();
    EXPECT_NE(m.find(dir + "/images: byte "), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected end of file"), std::string::npos) << m;
  }
  // An unknown element type.
  std::string bad = idxBytes({5}, {1, 2, 3, 4, 5});
  bad[2] = 0x07;
  writeFile(dir + "/labels", bad);
  writeFile(dir + "/images", idxBytes({5, 4, 4}, std::vector<uint8_t>(80, 1)));
  try {
    loadIdxPair(dir + "/images", dir + "/labels");
    FAIL() << "no exception";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/labels: byte 2: unknown IDX element type 0x07"), std::string::npos)
        << e.what();
  }
}

TEST(Data, PceTrainReportsBadDataAndExits1) {
  std::string dir = freshDir("data-cli");
  std::string data = dir + "/data";
  writeDataset(data, 40, 16);
  // A truncated gzip member for the test labels.
  std::string gz = readFile(data + "/t10k-labels-idx1-ubyte.gz");
  writeFile(data + "/t10k-labels-idx1-ubyte.gz", gz.substr(0, gz.size() - 9));
  PlanOptions po;
  po.data = data;
  writePlan(dir + "/compiled", po);
  ProcessResult r = runTrain({"unused.yaml", "-o", dir + "/run", "--dense", "--compiled", dir + "/compiled"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("pce-train: error: " + data + "/t10k-labels-idx1-ubyte.gz"), std::string::npos) << r.output;
  // A missing directory.
  r = runTrain({"unused.yaml", "-o", dir + "/run2", "--dense", "--compiled", dir + "/compiled", "--data",
                dir + "/nowhere"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(dir + "/nowhere/train-images-idx3-ubyte.gz"), std::string::npos) << r.output;
}

TEST(Data, AugmentKeepsShapeAndIsSeeded) {
  torch::Tensor x = torch::arange(2 * 16, torch::kFloat32).reshape({2, 1, 4, 4});
  at::Generator g1 = at::detail::createCPUGenerator(9), g2 = at::detail::createCPUGenerator(9);
  torch::Tensor a = augment(x, 2, true, g1), b = augment(x, 2, true, g2);
  EXPECT_EQ(a.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(a, b));
  torch::Tensor same = augment(x, 0, false, g1);
  EXPECT_TRUE(torch::equal(same, x));
}

TEST(Data, EpochBatchesDropTheIncompleteOne) {
  at::Generator g = at::detail::createCPUGenerator(1);
  auto batches = epochBatches(29, 8, g);
  ASSERT_EQ(batches.size(), 3u);
  std::set<int64_t> seen;
  for (const auto &b : batches) {
    EXPECT_EQ(b.size(0), 8);
    for (int64_t i = 0; i < 8; ++i)
      seen.insert(b[i].item<int64_t>());
  }
  EXPECT_EQ(seen.size(), 24u);
}
