//===- DataFormatsTest.cpp - pce-train and pce-run on CIFAR and .npy data ===//
//
// A CIFAR-10 (and a CIFAR-100) directory written here in the published
// layout trains the dense twin of a 3-channel 32x32 model for an epoch; the
// normalisation statistics are the training split's (checked against the
// fixture's own pixels) and travel with the weights and the summary; the
// class names come from the data set's names file; a model whose input does
// not fit the data, a missing file and a bad label are errors naming them.
// RGB (CIFAR) and non-square one-channel images (.npy pairs) train through
// compiled PCE layers, and pce-run --data agrees with pce-train's accuracy.
//
//===----------------------------------------------------------------------===//

#include "TrainTestSupport.h"

#include "runtime/DataDescription.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/Safetensors.h"
#include "runtime/TrainingPlan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

using namespace pce;
using namespace pce::traintest;
namespace fs = std::filesystem;

namespace {

const char *kNames10 = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

// `n` records whose red plane is brighter for higher classes; returns the
// bytes and adds each channel's pixel values to `sums` (for the statistics).
std::string records(int n, bool hundred, std::mt19937 &rng, std::vector<double> *sums = nullptr,
                    std::vector<double> *squares = nullptr) {
  std::uniform_int_distribution<int> label(0, 9), noise(0, 60);
  std::string out;
  for (int i = 0; i < n; ++i) {
    int c = label(rng);
    if (hundred)
      out += static_cast<char>(c); // coarse
    out += static_cast<char>(c);   // (fine) label
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < 1024; ++p) {
        int v = std::min(255, (ch == 0 ? c * 20 : 40 * ch) + noise(rng));
        out += static_cast<char>(v);
        if (sums) {
          (*sums)[ch] += v / 255.0;
          (*squares)[ch] += (v / 255.0) * (v / 255.0);
        }
      }
  }
  return out;
}

rt::Plan cifarPlan(const std::string &data, const std::string &format, int classes) {
  rt::Plan p;
  p.model = "cifar_tiny";
  p.batch = 8;
  p.channels = 3;
  p.height = p.width = 32;
  rt::PlanLayer stem;
  stem.kind = "conv";
  stem.name = "stem";
  stem.in = {3, 32, 32};
  stem.out = {4, 32, 32};
  stem.kernel = {3, 3};
  stem.stride = {1, 1};
  stem.padding = {1, 1};
  rt::PlanLayer block;
  block.kind = "pce";
  block.name = "block";
  block.in = block.out = {4, 32, 32};
  rt::PlanLayer pool;
  pool.kind = "max_pool";
  pool.name = "pool";
  pool.in = {4, 32, 32};
  pool.out = {4, 8, 8};
  pool.kernel = pool.stride = {4, 4};
  rt::PlanLayer flat;
  flat.kind = "flatten";
  flat.name = "flat";
  flat.in = {4, 8, 8};
  flat.out = {256};
  p.layers = {stem, block, pool, flat};
  p.head = rt::HeadSpec{};
  p.head->classes = classes;
  p.head->in = {256};
  rt::Phase phase;
  phase.epochs = 1;
  phase.artifact = "phase1";
  phase.layers["block"] = rt::PhaseLayer{};
  p.phases = {phase};
  p.training.data = data;
  p.training.dataFormat = format;
  p.training.batch = 8;
  p.training.validation = 16;
  p.training.seed = 3;
  p.training.cropPadding = 2; // the per-channel black of CIFAR pads the crops
  p.training.hflip = true;
  return p;
}

} // namespace

TEST(CifarTraining, DenseTwinTrainsOnCifar10WithItsOwnStatistics) {
  std::string dir = freshDir("cifar10");
  std::mt19937 rng(5);
  fs::create_directories(dir + "/data");
  std::vector<double> sums(3), squares(3);
  std::vector<std::string> batches;
  for (int b = 1; b <= 5; ++b)
    batches.push_back(records(16, false, rng, &sums, &squares));
  for (int b = 1; b <= 5; ++b)
    writeFile(dir + "/data/data_batch_" + std::to_string(b) + ".bin", batches[b - 1]);
  writeFile(dir + "/data/test_batch.bin", records(24, false, rng));
  writeFile(dir + "/data/batches.meta.txt", kNames10);
  fs::create_directories(dir + "/compiled");
  writeFile(dir + "/compiled/training.json", rt::writePlanText(cifarPlan(dir + "/data", "cifar10", 10)));

  ProcessResult r = runTrain({"unused.yaml", "-o", dir + "/run", "--dense", "--compiled", dir + "/compiled"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("64 training, 16 validation, 24 test images"), std::string::npos) << r.output;

  auto weights = rt::readSafetensors(dir + "/run/weights.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.error();
  auto data = rt::readDataMetadata(weights->metadata, "weights");
  ASSERT_TRUE(data.ok() && data->has_value()) << (data.ok() ? "none" : data.error());
  const rt::DataDescription &d = **data;
  EXPECT_EQ(d.format, "cifar10");
  EXPECT_EQ(d.classes.size(), 10u);
  EXPECT_EQ(d.classes[9], "truck");
  ASSERT_EQ(d.mean.size(), 3u);
  // The statistics are the training split's (64 of the 80 images): within
  // the spread of the whole file's.
  for (int c = 0; c < 3; ++c) {
    double mean = sums[c] / (80 * 1024), sd = std::sqrt(squares[c] / (80 * 1024) - mean * mean);
    EXPECT_NEAR(d.mean[c], mean, 0.25 * sd + 1e-3) << "channel " << c;
    EXPECT_NEAR(d.std[c], sd, 0.25 * sd + 1e-3) << "channel " << c;
  }
  auto summary = rt::parseJson(readFile(dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  ASSERT_NE(summary->find("data"), nullptr);
  EXPECT_EQ(*summary->find("data")->find("format")->getString(), "cifar10");
  // Provenance: the code and the files the weights came from.
  EXPECT_EQ(summary->find("data")->find("images")->intValue(), 64 + 16 + 24);
  EXPECT_EQ(*summary->find("data")->find("path")->getString(), dir + "/data");
  EXPECT_EQ(summary->find("data")->find("files_hash")->getString()->size(), 16u);
  EXPECT_EQ(weights->metadata["pce.data.files_hash"], *summary->find("data")->find("files_hash")->getString());
  EXPECT_EQ(weights->metadata["pce.git_commit"], *summary->find("pce")->find("git_commit")->getString());
  EXPECT_FALSE(weights->metadata["pce.version"].empty());

  // The same directory read as CIFAR-100 is refused, naming what is missing.
  r = runTrain({"unused.yaml", "-o", dir + "/run100", "--dense", "--compiled", dir + "/compiled", "--data-format",
                "cifar100"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("not a CIFAR-100 (cifar-100-binary) directory: missing train.bin, test.bin, "
                          "fine_label_names.txt"),
            std::string::npos)
      << r.output;
  // A bad label byte is an error naming the file and byte.
  std::string bad = batches[2];
  bad[3073 * 4] = 10;
  writeFile(dir + "/data/data_batch_3.bin", bad);
  r = runTrain({"unused.yaml", "-o", dir + "/run-bad", "--dense", "--compiled", dir + "/compiled"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("data_batch_3.bin: byte 12292: label 10 of record 4 is not one of the 10 classes"),
            std::string::npos)
      << r.output;
  fs::remove_all(dir);
}

TEST(CifarTraining, Cifar100AndAModelThatDoesNotFit) {
  std::string dir = freshDir("cifar100");
  std::mt19937 rng(6);
  fs::create_directories(dir + "/data");
  writeFile(dir + "/data/train.bin", records(40, true, rng));
  writeFile(dir + "/data/test.bin", records(8, true, rng));
  std::string names;
  for (int i = 0; i < 100; ++i)
    names += "class" + std::to_string(i) + "\n";
  writeFile(dir + "/data/fine_label_names.txt", names);
  fs::create_directories(dir + "/compiled");
  writeFile(dir + "/compiled/training.json", rt::writePlanText(cifarPlan(dir + "/data", "cifar100", 100)));
  ProcessResult r = runTrain({"unused.yaml", "-o", dir + "/run", "--dense", "--compiled", dir + "/compiled"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto weights = rt::readSafetensors(dir + "/run/weights.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.error();
  EXPECT_EQ(weights->metadata["pce.data.format"], "cifar100");

  // A 1-channel 28x28 model cannot take CIFAR's images.
  rt::Plan gray = cifarPlan(dir + "/data", "cifar100", 100);
  gray.channels = 1;
  writeFile(dir + "/compiled/training.json", rt::writePlanText(gray));
  r = runTrain({"unused.yaml", "-o", dir + "/run-gray", "--dense", "--compiled", dir + "/compiled"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("train.bin: images are [3,32,32] but the model takes [1,32,32]"), std::string::npos)
      << r.output;
  fs::remove_all(dir);
}

TEST(CifarTraining, RgbImagesGoThroughTheCompiledLayers) {
  PCE_SKIP_WITHOUT_COMPILER();
  std::string dir = freshDir("cifar10-compiled");
  std::mt19937 rng(7);
  fs::create_directories(dir + "/data");
  for (int b = 1; b <= 5; ++b)
    writeFile(dir + "/data/data_batch_" + std::to_string(b) + ".bin", records(16, false, rng));
  writeFile(dir + "/data/test_batch.bin", records(24, false, rng));
  writeFile(dir + "/data/batches.meta.txt", kNames10);
  writeFile(dir + "/m.yaml", compiledRgbModel("rgb", 32, 32, 10, "cifar10", dir + "/data", 16));
  ProcessResult r = runTrain({dir + "/m.yaml", "-o", dir + "/run"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("test (24 images): top-1"), std::string::npos) << r.output;
  auto summary = rt::parseJson(readFile(dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(*summary->find("data")->find("format")->getString(), "cifar10");
  ASSERT_NE(summary->find("artifact"), nullptr) << "the PCE layer ran compiled";

  // pce-run evaluates the data set in its own layout, normalising as the
  // weights say, and agrees with pce-train's test accuracy.
  expectPceRunAgrees(dir + "/run", dir + "/data");
  EXPECT_NE(r.output.find("check: pce-run " + *summary->find("artifact")->getString() + " --weights " + dir +
                          "/run/weights.safetensors --data " + dir + "/data"),
            std::string::npos)
      << r.output;
  // A format the weights were not trained on is refused.
  ProcessResult run = runCommand({PCE_RUN_BIN, *summary->find("artifact")->getString(), "--weights",
                                  dir + "/run/weights.safetensors", "--data", dir + "/data", "--data-format",
                                  "cifar100"});
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("--data in cifar100: the weights carry no cifar100 normalisation"), std::string::npos)
      << run.output;
  fs::remove_all(dir);
}

TEST(NpyTraining, NonSquareImagesTrainCompiledAndPceRunAgrees) {
  PCE_SKIP_WITHOUT_COMPILER();
  std::string dir = freshDir("npy-pairs");
  std::mt19937 rng(8);
  // [N,H,W,C] u8 images 12x16 with one channel whose brightness gives the class.
  auto writeSplit = [&](const std::string &split, int64_t n) {
    rt::HostTensor images = *rt::HostTensor::create(rt::DType::U8, {n, 12, 16, 1});
    rt::HostTensor labels = *rt::HostTensor::create(rt::DType::I64, {n});
    std::uniform_int_distribution<int> label(0, 3), noise(0, 40);
    for (int64_t i = 0; i < n; ++i) {
      int c = label(rng);
      labels.i64()[i] = c;
      for (int64_t p = 0; p < 12 * 16; ++p)
        images.u8()[i * 12 * 16 + p] = static_cast<uint8_t>(c * 50 + noise(rng));
    }
    fs::create_directories(dir + "/data/" + split);
    ASSERT_TRUE(rt::writeNpy(dir + "/data/" + split + "/images.npy", images));
    ASSERT_TRUE(rt::writeNpy(dir + "/data/" + split + "/labels.npy", labels));
  };
  writeSplit("train", 48);
  writeSplit("test", 20);
  writeFile(dir + "/m.yaml", "model: wide_gray\n"
                             "input: {channels: 1, height: 12, width: 16}\n"
                             "layers:\n"
                             "  - pce: {name: block, patch: 4, experts: 2, out_channels: 4, router: {kind: cosine, "
                             "top_k: 1}}\n"
                             "head: {kind: classification, classes: 4}\n"
                             "training:\n"
                             "  data: {format: npy, path: " + dir + "/data}\n"
                             "  batch: 4\n"
                             "  validation: 8\n"
                             "  epochs: 1\n");
  ProcessResult r = runTrain({dir + "/m.yaml", "-o", dir + "/run"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("40 training, 8 validation, 20 test images"), std::string::npos) << r.output;
  auto summary = rt::parseJson(readFile(dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(*summary->find("data")->find("format")->getString(), "npy");
  expectPceRunAgrees(dir + "/run", dir + "/data");
  fs::remove_all(dir);
}
