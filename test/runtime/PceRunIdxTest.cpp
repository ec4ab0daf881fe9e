//===- PceRunIdxTest.cpp - pce-run --idx-images, end to end ---------------===//
//
// pce-run on fake_model.c's classifier and IDX files written as the real data
// sets are: accuracy, top-k, every item written, and its errors.
//
//===----------------------------------------------------------------------===//

#include "runtime/Idx.h"
#include "runtime/Npy.h"
#include "runtime/Safetensors.h"

#include "FakeArtifact.h"
#include "IdxFiles.h"
#include "TestSupport.h"

#include <algorithm>
#include <filesystem>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// ---------------------------------------------------------------------------
// pce-run --idx-images on fake_model.c's classifier


// Weights make logit c a copy of pixel c of row 0, so predictions follow the
// u8 values: class order by pixel value, lower index first on ties.
class PceRunIdxTest : public ::testing::Test {
protected:
  static constexpr int64_t kClasses = 10;
  TempDir dir;
  std::string art, weights;

  void SetUp() override {
    art = dir.file("art");
    std::filesystem::create_directory(art);
    writeArtifact(art, fakeClassifierManifest());
    auto w = HostTensor::create(DType::F32, {kClasses, 784});
    auto b = HostTensor::create(DType::F32, {kClasses});
    ASSERT_TRUE(w && b);
    for (int64_t c = 0; c < kClasses; ++c)
      w->f32()[c * 784 + c] = 1.0f;
    std::map<std::string, HostTensor> params;
    params["fc.weight"] = std::move(*w);
    params["fc.bias"] = std::move(*b);
    weights = dir.file("w.safetensors");
    ASSERT_TRUE(writeSafetensors(weights, params));
  }

  int run(const std::string &args, std::string *out) {
    return runCommand(shellQuote(PCE_RUN_EXE) + " " + shellQuote(art) + " --weights " + shellQuote(weights) + " " +
                      args, out);
  }

  // Whether `label` is among the k best classes of image i (pixels 0..9).
  static bool inTopK(const std::string &pixels, int64_t label, int64_t k) {
    auto v = [&](int64_t c) { return static_cast<unsigned char>(pixels[c]); };
    int64_t ahead = 0;
    for (int64_t c = 0; c < kClasses; ++c)
      ahead += c != label && (v(c) > v(label) || (v(c) == v(label) && c < label));
    return ahead < k;
  }

  static std::string percent(int64_t hits, int64_t total) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * double(hits) / double(total));
    return buf;
  }
};

TEST_F(PceRunIdxTest, PrintsAccuracyAndWritesAllItems) {
  std::uniform_int_distribution<int64_t> count(20, 60), cls(0, kClasses - 1);
  std::bernoulli_distribution coin(0.5);
  const int64_t n = count(rng());
  std::string images = idxHeader(0x08, {uint32_t(n), 28, 28}), labels = idxHeader(0x08, {uint32_t(n)});
  int64_t top1 = 0, top5 = 0;
  std::vector<std::string> rows;
  for (int64_t i = 0; i < n; ++i) {
    std::string img = randomBytes(784);
    if (i == 0)
      std::fill(img.begin(), img.begin() + kClasses, '\x07'); // a ten-way tie
    int64_t label = cls(rng());
    if (i == 0)
      label = 4; // ranks fifth: top-5, not top-1
    else if (coin(rng()))
      label = std::max_element(img.begin(), img.begin() + kClasses,
                               [](char a, char b) { return (unsigned char)a < (unsigned char)b; }) -
              img.begin();
    images += img;
    labels += static_cast<char>(label);
    top1 += inTopK(img, label, 1);
    top5 += inTopK(img, label, 5);
    rows.push_back(img);
  }
  writeGzipFile(dir.file("images.gz"), images);
  writeBytes(dir.file("labels"), labels);

  std::string out;
  ASSERT_EQ(run("--idx-images " + shellQuote(dir.file("images.gz")) + " --idx-labels " +
                    shellQuote(dir.file("labels")) + " --threads 2 --output " + shellQuote(dir.file("y.npy")) +
                    " --routing " + shellQuote(dir.file("r")),
                &out),
            0)
      << out;
  EXPECT_CONTAINS(out, "accuracy: top-1 " + percent(top1, n) + "  top-5 " + percent(top5, n) + "  (" +
                           std::to_string(n) + " images, ");
  EXPECT_CONTAINS(out, " images/s, 2 threads)\n");
  // Every item written, padding dropped: logits are pixels 0..9 of row 0.
  auto y = readNpy(dir.file("y.npy"));
  ASSERT_TRUE(y) << y.error();
  ASSERT_EQ(y->typeString(), "f32[" + std::to_string(n) + ",10]");
  auto r = readNpy(dir.file("r/layer0.routing.npy"));
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->typeString(), "f32[" + std::to_string(n) + ",4,2]");
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < kClasses; ++c)
      ASSERT_EQ(y->f32()[i * kClasses + c], static_cast<unsigned char>(rows[i][c]) / 255.0f) << i << "," << c;
    for (int64_t p = 0; p < 4; ++p) {
      float x = static_cast<unsigned char>(rows[i][p]) / 255.0f;
      ASSERT_EQ(r->f32()[i * 8 + 2 * p], x);
      ASSERT_EQ(r->f32()[i * 8 + 2 * p + 1], 1.0f - x);
    }
  }

  // --limit and --normalize: fewer items, same order of the logits.
  const int64_t limit = 9; // one batch of 8 and a padded one
  int64_t top1Limited = 0, top5Limited = 0;
  for (int64_t i = 0; i < limit; ++i) {
    top1Limited += inTopK(rows[i], static_cast<unsigned char>(labels[8 + i]), 1);
    top5Limited += inTopK(rows[i], static_cast<unsigned char>(labels[8 + i]), 5);
  }
  ASSERT_EQ(run("--idx-images=" + shellQuote(dir.file("images.gz")) + " --idx-labels " +
                    shellQuote(dir.file("labels")) + " --limit 9 --normalize 0.2860,0.3530 --threads 1",
                &out),
            0)
      << out;
  EXPECT_EQ(out.rfind("accuracy: top-1 " + percent(top1Limited, limit) + "  top-5 " +
                          percent(top5Limited, limit) + "  (9 images, ",
                      0),
            0u)
      << out;
  EXPECT_CONTAINS(out, " images/s, 1 thread)\n");
  // No labels: only the throughput.
  ASSERT_EQ(run("--idx-images " + shellQuote(dir.file("images.gz")), &out), 0) << out;
  EXPECT_CONTAINS(out, "ran " + std::to_string(n) + " images, ");
}

TEST_F(PceRunIdxTest, Errors) {
  std::string out;
  std::string images = dir.file("images"), labels = dir.file("labels");
  writeBytes(images, randomU8File({3, 28, 28}));
  writeBytes(labels, idxHeader(0x08, {3}) + std::string("\x01\x0A\x02", 3));
  // Usage errors (exit 2).
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --input x.npy", &out), 2);
  EXPECT_CONTAINS(out, "--input and --idx-images are alternatives");
  EXPECT_EQ(run("--idx-labels " + shellQuote(labels) + " --input x.npy --output y.npy", &out), 2);
  EXPECT_CONTAINS(out, "option '--idx-labels' needs --idx-images");
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --limit -3", &out), 2);
  EXPECT_CONTAINS(out, "option '--limit' needs a positive count, found '-3'");
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --normalize 0.5", &out), 2);
  EXPECT_CONTAINS(out, "option '--normalize' needs MEAN,STD (two numbers, STD > 0), found '0.5'");
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --normalize 0.5,-1", &out), 2);
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --idx-images " + shellQuote(images), &out), 2);
  EXPECT_CONTAINS(out, "option '--idx-images' given twice");
  EXPECT_EQ(run("--data " + shellQuote(dir.path()) + " --idx-images " + shellQuote(images), &out), 2);
  EXPECT_CONTAINS(out, "--data, --idx-images and --input are alternatives: give one of them");
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --split train", &out), 2);
  EXPECT_CONTAINS(out, "option '--split' needs --data");
  EXPECT_EQ(run("--data " + shellQuote(dir.path()) + " --data-format mnist", &out), 2);
  EXPECT_EQ(run("--data " + shellQuote(dir.path()) + " --idx-labels " + shellQuote(labels), &out), 2);
  EXPECT_CONTAINS(out, "option '--idx-labels' needs --idx-images (--data reads the labels of its split)");
  // --data without a format, from weights that name none.
  EXPECT_EQ(run("--data " + shellQuote(dir.path()), &out), 1);
  EXPECT_CONTAINS(out, "--data: say --data-format (the weights do not name the format of their data)");
  // IDX files of a directory: t10k-* for the test split.
  EXPECT_EQ(run("--data " + shellQuote(dir.path()) + " --data-format idx", &out), 1);
  EXPECT_CONTAINS(out, "data file not found: neither " + dir.file("t10k-images-idx3-ubyte.gz") + " nor " +
                           dir.file("t10k-images-idx3-ubyte") + " exists");
  // Runtime errors (exit 1): a label outside the classes, a count mismatch,
  // a corrupt file, an entry point that does not take images.
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --idx-labels " + shellQuote(labels), &out), 1);
  EXPECT_CONTAINS(out, "pce-run: error: " + labels + ": label 10 of item 1 is not one of the 10 classes of "
                                                     "output 'logits'");
  writeBytes(labels, randomU8File({4}));
  EXPECT_EQ(run("--idx-images " + shellQuote(images) + " --idx-labels " + shellQuote(labels), &out), 1);
  EXPECT_CONTAINS(out, "images file " + images + " holds 3 items but labels file " + labels + " holds 4");
  writeBytes(images, readBytes(images) + "!");
  EXPECT_EQ(run("--idx-images " + shellQuote(images), &out), 1);
  EXPECT_CONTAINS(out, images + ": byte " + std::to_string(16 + 3 * 784) + ": 1 trailing byte after");
  writeBytes(images, randomU8File({3, 14, 14}));
  EXPECT_EQ(run("--idx-images " + shellQuote(images), &out), 1);
  EXPECT_CONTAINS(out, "input 'x' expects f32[8,1,28,28], which does not take the images of " + images +
                           " (f32 [1,14,14] each)");
  EXPECT_FALSE(std::filesystem::exists(dir.file("y.npy")));
}


} // namespace
