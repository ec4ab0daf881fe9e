//===- ImageDataTest.cpp - image data sets through pce-train and pce-run --===//
//
// A Tiny-ImageNet tree in its published layout (64x64 JPEGs, one grayscale)
// trains a non-square RGB model (3x24x32: every image resized and cropped)
// through compiled PCE layers for an epoch, and pce-run on the same tree
// agrees with pce-train's test accuracy without being told how to normalise.
// PatchCamelyon (HDF5) trains streamed, batches decoded ahead. Streamed
// and cached splits give the same batches; the resamplers agree
// with PyTorch's interpolate.
//
//===----------------------------------------------------------------------===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"
#include "runtime/TrainingPlan.h"
#include "runtime/datasets/ImageCodec.h"
#include "runtime/datasets/Transform.h"
#include "runtime/train/Data.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <random>

using namespace pce;
using namespace pce::traintest;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kWnids = {"n01443537", "n01629819", "n02085620", "n02123045"};

void writeJpeg(const std::string &path, const rt::Image &img) {
  fs::create_directories(fs::path(path).parent_path());
  auto bytes = rt::encodeJpeg(img, 95);
  ASSERT_TRUE(bytes) << bytes.error();
  writeFile(path, *bytes);
}

// Class c's images: a square of colour c on a darker textured background,
// at a random place, so the class is visible at any crop.
rt::Image classImage(int64_t c, std::mt19937 &rng, int64_t channels = 3) {
  std::uniform_int_distribution<int> noise(0, 30), pos(0, 24);
  rt::Image img(64, 64, channels);
  for (uint8_t &p : img.pixels)
    p = uint8_t(20 + noise(rng));
  const int y0 = pos(rng) + 8, x0 = pos(rng) + 8;
  for (int y = y0; y < y0 + 24; ++y)
    for (int x = x0; x < x0 + 24; ++x)
      for (int64_t ch = 0; ch < channels; ++ch)
        img.at(y, x, ch) = uint8_t(channels == 1 ? 60 * c + 40 : (ch == c % 3 ? 220 : 60 * (c / 3) + 40));
  return img;
}

void writeTinyImageNet(const std::string &root, int perClass, int val, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string wnids, words = "n00001740\tentity\n";
  for (size_t c = 0; c < kWnids.size(); ++c) {
    wnids += kWnids[c] + "\n";
    words += kWnids[c] + "\tclass " + std::to_string(c) + ", other name\n";
    std::string boxes;
    for (int k = 0; k < perClass; ++k) {
      std::string name = kWnids[c] + "_" + std::to_string(k) + ".JPEG";
      writeJpeg(root + "/train/" + kWnids[c] + "/images/" + name, classImage(int64_t(c), rng, k == 0 ? 1 : 3));
      boxes += name + "\t0\t0\t63\t63\n";
    }
    writeFile(root + "/train/" + kWnids[c] + "/" + kWnids[c] + "_boxes.txt", boxes);
  }
  writeFile(root + "/wnids.txt", wnids);
  writeFile(root + "/words.txt", words);
  std::string annotations;
  for (int k = 0; k < val; ++k) {
    const size_t c = size_t(k) % kWnids.size();
    std::string name = "val_" + std::to_string(k) + ".JPEG";
    writeJpeg(root + "/val/images/" + name, classImage(int64_t(c), rng));
    annotations += name + "\t" + kWnids[c] + "\t0\t0\t63\t63\n";
  }
  writeFile(root + "/val/val_annotations.txt", annotations);
}

// PatchCamelyon's two files of a split, as published: x u8 [n,96,96,3]
// (chunked by patch, deflated), y u8 [n,1,1,1]; a tumour patch has a bright
// red centre.
void writePCamSplit(const std::string &dir, const std::string &split, hsize_t n, std::mt19937 &rng) {
  fs::create_directories(dir);
  std::vector<uint8_t> x(n * 96 * 96 * 3), y(n);
  std::uniform_int_distribution<int> noise(0, 40), label(0, 1);
  for (hsize_t i = 0; i < n; ++i) {
    y[i] = uint8_t(label(rng));
    for (int p = 0; p < 96 * 96; ++p) {
      const bool centre = (p / 96) >= 32 && (p / 96) < 64 && (p % 96) >= 32 && (p % 96) < 64;
      for (int c = 0; c < 3; ++c)
        x[(i * 96 * 96 + p) * 3 + c] = uint8_t((centre && y[i] && c == 0 ? 200 : 90) + noise(rng));
    }
  }
  auto write = [&](const char *which, std::vector<hsize_t> dims, const std::vector<uint8_t> &values) {
    std::string path = dir + "/camelyonpatch_level_2_split_" + split + "_" + which + ".h5";
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    H5Pset_chunk(plist, int(chunk.size()), chunk.data());
    H5Pset_deflate(plist, 4);
    hid_t set = H5Dcreate2(file, which, H5T_STD_U8LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    ASSERT_GE(H5Dwrite(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Dclose(set), H5Pclose(plist), H5Sclose(space), H5Fclose(file);
  };
  write("x", {n, 96, 96, 3}, x);
  write("y", {n, 1, 1, 1}, y);
}

rt::TrainingConfig tinyConfig(const std::string &root) {
  rt::TrainingConfig t;
  t.data = root;
  t.dataFormat = "tiny-imagenet";
  t.validation = 8;
  t.seed = 5;
  return t;
}

} // namespace

TEST(ImageData, TinyImageNetTrainsResizedThroughCompiledLayersAndPceRunAgrees) {
  PCE_SKIP_WITHOUT_COMPILER();
  std::string dir = freshDir("tiny-imagenet");
  writeTinyImageNet(dir + "/tiny-imagenet-200", 10, 16, 11);
  writeFile(dir + "/m.yaml", compiledRgbModel("tiny_rgb", 24, 32, 4, "tiny-imagenet", dir + "/tiny-imagenet-200", 8));
  ProcessResult r = runTrain({dir + "/m.yaml", "-o", dir + "/run"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("32 training, 8 validation, 16 test images"), std::string::npos) << r.output;
  auto summary = rt::parseJson(readFile(dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  const rt::JsonValue *data = summary->find("data");
  EXPECT_EQ(*data->find("format")->getString(), "tiny-imagenet");
  EXPECT_EQ(*(*data->find("classes")->getArray())[2].getString(), "class 2");
  EXPECT_EQ(data->find("mean")->getArray()->size(), 3u);
  ASSERT_NE(summary->find("artifact"), nullptr) << "the PCE layer ran compiled";
  expectPceRunAgrees(dir + "/run", dir + "/tiny-imagenet-200");
  // Its test split has no labels: said, not guessed.
  ProcessResult run = runCommand({PCE_RUN_BIN, *summary->find("artifact")->getString(), "--weights",
                    dir + "/run/weights.safetensors", "--data", dir + "/tiny-imagenet-200", "--split", "test"});
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("test images have no labels"), std::string::npos) << run.output;
  fs::remove_all(dir);
}

// PCam through pce-train streamed (nothing cached: batches decoded ahead
// from HDF5 on two threads) with its own validation split, resized from
// 96x96 to the model's 32x32; pce-run agrees on the test split.
TEST(ImageData, PCamStreamsThroughCompiledLayersAndPceRunAgrees) {
  PCE_SKIP_WITHOUT_COMPILER();
  std::string dir = freshDir("pcam");
  std::mt19937 rng(21);
  writePCamSplit(dir + "/pcam", "train", 40, rng);
  writePCamSplit(dir + "/pcam", "valid", 12, rng);
  writePCamSplit(dir + "/pcam", "test", 20, rng);
  writeFile(dir + "/m.yaml", compiledRgbModel("pcam_tiny", 32, 32, 2, "pcam", dir + "/pcam", 8));
  ProcessResult r = runTrain({dir + "/m.yaml", "-o", dir + "/run", "--data-cache-mb", "0", "--data-threads", "2"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("40 training, 8 validation, 20 test images"), std::string::npos) << r.output;
  auto summary = rt::parseJson(readFile(dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(*summary->find("data")->find("format")->getString(), "pcam");
  EXPECT_EQ(*(*summary->find("data")->find("classes")->getArray())[1].getString(), "tumour");
  ASSERT_NE(summary->find("artifact"), nullptr);
  expectPceRunAgrees(dir + "/run", dir + "/pcam");
  fs::remove_all(dir);
}

TEST(ImageData, StreamedAndCachedSplitsGiveTheSameBatches) {
  std::string dir = freshDir("tiny-stream");
  writeTinyImageNet(dir, 6, 8, 12);
  const std::vector<int64_t> item = {3, 20, 28};
  train::ImageDataOptions cached, streamed;
  streamed.cacheBytes = 0;
  streamed.threads = 2;
  train::DataSplit a = train::loadData(tinyConfig(dir), 0, item, cached);
  train::DataSplit b = train::loadData(tinyConfig(dir), 0, item, streamed);
  ASSERT_FALSE(a.train.stream);
  ASSERT_TRUE(b.train.stream);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.train.size(), 16);
  EXPECT_EQ(a.validation.size(), 8);
  EXPECT_EQ(a.test.size(), 8);
  EXPECT_EQ(b.train.itemShape(), item);
  for (auto [x, y] : {std::pair{&a.train, &b.train}, {&a.validation, &b.validation}, {&a.test, &b.test}}) {
    ASSERT_TRUE(torch::equal(x->labels, y->labels));
    ASSERT_TRUE(torch::equal(x->imagesIn(0, x->size()), y->imagesIn(0, y->size())));
  }
  std::vector<torch::Tensor> batches = {torch::tensor({3, 1, 4}, torch::kLong), torch::tensor({15, 9}, torch::kLong),
                                        torch::tensor({2}, torch::kLong)};
  train::BatchPrefetcher ahead(b.train, batches);
  for (size_t i = 0; i < batches.size(); ++i)
    ASSERT_TRUE(torch::equal(ahead.take(i), a.train.imagesAt(batches[i])));
  // The statistics are those of the training split's fitted pixels.
  torch::Tensor px = a.train.images.to(torch::kFloat64).div(255.0);
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(a.description.mean[size_t(c)], px.select(1, c).mean().item<double>(), 1e-6);
  fs::remove_all(dir);
}

TEST(ImageData, ErrorsNameTheDataAndWhatIsMissing) {
  std::string dir = freshDir("tiny-errors");
  writeTinyImageNet(dir, 3, 4, 13);
  // a damaged JPEG: loading (which decodes the cached splits) names it
  std::string victim = dir + "/train/" + kWnids[1] + "/images/" + kWnids[1] + "_2.JPEG";
  writeFile(victim, readFile(victim).substr(0, 100));
  train::ImageDataOptions options;
  rt::TrainingConfig t = tinyConfig(dir);
  t.validation = 2;
  try {
    train::loadData(t, 0, {3, 16, 16}, options);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find(victim + ": byte "), std::string::npos) << e.what();
  }
  // a one-channel model cannot take RGB images silently
  writeTinyImageNet(dir, 3, 4, 13);
  try {
    train::loadData(t, 0, {1, 16, 16}, options);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("the image has 3 channels, the model takes 1"), std::string::npos)
        << e.what();
  }
  t.data = dir + "/nowhere";
  try {
    train::loadData(t, 0, {3, 16, 16}, options);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("nowhere/wnids.txt: not found"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// rt::resizeBilinear / resizeNearest against torch.nn.functional.interpolate
// on the same pixels (as float64), several shapes both ways.
TEST(ImageData, ResamplersAgreeWithTorchInterpolate) {
  std::mt19937 rng(std::random_device{}());
  for (auto [h, w, oh, ow] : {std::tuple{64, 64, 32, 32}, {37, 23, 50, 61}, {10, 40, 7, 13}, {5, 5, 24, 24}}) {
    rt::Image img(h, w, 3);
    for (uint8_t &p : img.pixels)
      p = uint8_t(rng() % 256);
    torch::Tensor t = torch::from_blob(img.pixels.data(), {1, h, w, 3}, torch::kUInt8)
                          .permute({0, 3, 1, 2})
                          .to(torch::kFloat64);
    namespace F = torch::nn::functional;
    torch::Tensor bil = F::interpolate(t, F::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{oh, ow})
                                              .mode(torch::kBilinear)
                                              .align_corners(false));
    torch::Tensor near =
        F::interpolate(t, F::InterpolateFuncOptions().size(std::vector<int64_t>{oh, ow}).mode(torch::kNearest));
    rt::Image b = rt::resizeBilinear(img, oh, ow), n = rt::resizeNearest(img, oh, ow);
    torch::Tensor mine = torch::from_blob(b.pixels.data(), {1, oh, ow, 3}, torch::kUInt8).permute({0, 3, 1, 2});
    torch::Tensor mineN = torch::from_blob(n.pixels.data(), {1, oh, ow, 3}, torch::kUInt8).permute({0, 3, 1, 2});
    EXPECT_LE((mine.to(torch::kFloat64) - bil).abs().max().item<double>(), 0.5 + 1e-3) << h << "x" << w;
    EXPECT_TRUE(torch::equal(mineN.to(torch::kFloat64), near)) << h << "x" << w;
  }
}
