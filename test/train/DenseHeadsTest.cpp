//===- DenseHeadsTest.cpp - dense layers and heads, compiled and trained --===//
//
// The ordinary layers an encoder-decoder needs (upsample nearest and
// bilinear, by size and by factor, up and down; concat; sigmoid) and the
// segmentation and detection heads: the compiled forward (linalg) against
// the same network in LibTorch float64 (the training path's Network in
// double), on random weights (batch norms too) and random inputs of two
// shapes. Then both heads train through a compiled PCE layer on scenes in
// VOC layout (pce-make-scenes), and pce-run reports the test score pce-train
// reported; the dense losses and the augmentation against formulations
// written here.
//
//===----------------------------------------------------------------------===//

#include "TrainTestSupport.h"

#include "runtime/Artifact.h"
#include "runtime/Npy.h"
#include "runtime/Safetensors.h"
#include "runtime/TrainingPlan.h"
#include "runtime/dense/CenterNet.h"
#include "runtime/torch/TensorConvert.h"
#include "runtime/train/Checkpoint.h"
#include "runtime/train/DenseTask.h"
#include "runtime/train/Network.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

using namespace pce;
using namespace pce::traintest;
namespace fs = std::filesystem;

namespace {

std::string s(int64_t v) { return std::to_string(v); }

// Every new layer between a strided stem and a segmentation head at half
// the input's resolution (the head resizes bilinearly); sizes coprime to
// the stem's output so nearest neighbour has no exact-boundary index.
std::string segLayersModel(int64_t H, int64_t W) {
  const int64_t h = H / 2, w = W / 2;
  return "model: seg_layers\n"
         "input: {channels: 3, height: " + s(H) + ", width: " + s(W) + "}\n"
         "layers:\n"
         "  - conv: {name: stem, out_channels: 6, kernel: 3, stride: 2, padding: 1}\n"
         "  - relu: {name: r0}\n"
         "  - upsample: {mode: nearest, size: [" + s(h + 3) + ", " + s(w + 5) + "]}\n"
         "  - sigmoid: {}\n"
         "  - conv: {name: mid, out_channels: 5, kernel: 3, padding: 1}\n"
         "  - upsample: {mode: bilinear, size: [" + s(h) + ", " + s(w) + "]}\n"
         "  - concat: {from: r0}\n"
         "  - batch_norm: {name: bn}\n"
         "  - upsample: {scale: 3}\n"
         "  - avg_pool: {kernel: 3}\n"
         "  - upsample: {mode: bilinear, scale: 2}\n"
         "  - max_pool: {kernel: 2}\n"
         "head: {kind: segmentation, classes: 4, class_weights: [1, 2, 0.5, 1]}\n"
         "training: {batch: 2, epochs: 1}\n";
}

std::string detLayersModel(int64_t H, int64_t W) {
  return "model: det_layers\n"
         "input: {channels: 3, height: " + s(H) + ", width: " + s(W) + "}\n"
         "layers:\n"
         "  - conv: {name: stem, out_channels: 6, kernel: 3, stride: 2, padding: 1}\n"
         "  - batch_norm: {name: bn}\n"
         "  - relu: {}\n"
         "  - conv: {name: down, out_channels: 8, kernel: 3, stride: 2, padding: 1}\n"
         "head: {kind: detection, classes: 3, max_detections: 20}\n"
         "training: {batch: 2, epochs: 1}\n";
}

// Compiles `yaml` for training into dir/compiled; false (with the log
// attached to the failure) when pce-compile fails.
void compile(const std::string &dir, const std::string &yaml) {
  writeFile(dir + "/m.yaml", yaml);
  ProcessResult r = runCommand({PCE_COMPILE_BIN, dir + "/m.yaml", "--training", "-o", dir + "/compiled"});
  ASSERT_EQ(r.status, 0) << r.output;
}

void expectCompiledForwardAgrees(const std::string &name, const std::string &yaml) {
  const std::string dir = freshDir("dense-layers-" + name);
  ASSERT_NO_FATAL_FAILURE(compile(dir, yaml));
  auto plan = rt::readPlan(dir + "/compiled/training.json");
  ASSERT_TRUE(plan) << plan.error();
  ASSERT_TRUE(plan->head);
  auto artifact = rt::Artifact::open(dir + "/compiled/phase1");
  ASSERT_TRUE(artifact) << artifact.error();
  ASSERT_TRUE(artifact->manifest().head);
  EXPECT_EQ(artifact->manifest().head->kind, plan->head->kind);

  at::Generator gen = at::detail::createCPUGenerator(11);
  train::NetworkOptions options;
  auto net = std::make_shared<train::Network>(*plan, options, gen);
  net->initialise({}, gen);
  {
    torch::NoGradGuard noGrad;
    // Batch norms away from the identity, biases away from zero.
    for (auto &[tensorName, t] : net->tensors()) {
      if (tensorName.find("running_var") != std::string::npos)
        t.copy_(torch::rand(t.sizes(), gen) + 0.5);
      else if (tensorName.find("gamma") != std::string::npos || tensorName.find("running_mean") != std::string::npos ||
               tensorName.find("beta") != std::string::npos || tensorName.find("bias") != std::string::npos)
        t.copy_(torch::randn(t.sizes(), gen) * 0.5);
    }
  }
  train::writeTensors(dir + "/w.safetensors", net->tensors(), {});
  auto weights = rt::readSafetensors(dir + "/w.safetensors");
  ASSERT_TRUE(weights) << weights.error();
  ASSERT_TRUE(artifact->bindParameters(*weights));

  net->eval();
  torch::Tensor x = torch::randn({plan->batch, plan->channels, plan->height, plan->width}, gen);
  rt::TensorMap feed;
  feed.emplace("x", torchrt::toHost(x));
  auto results = artifact->run("forward", feed);
  ASSERT_TRUE(results) << results.error();
  torch::Tensor compiled = torchrt::toTorch(std::move(results->at(plan->head->outputName())));

  torch::NoGradGuard noGrad;
  torch::Tensor single = train::inferenceOutput(*plan->head, net->forward(x).logits);
  net->to(torch::kFloat64);
  torch::Tensor reference = train::inferenceOutput(*plan->head, net->forward(x.to(torch::kFloat64)).logits);
  ASSERT_EQ(compiled.sizes(), reference.sizes());
  const double scale = reference.abs().max().item<double>();
  const double compiledError = (compiled.to(torch::kFloat64) - reference).abs().max().item<double>();
  const double trainingError = (single.to(torch::kFloat64) - reference).abs().max().item<double>();
  EXPECT_LT(compiledError, 2e-5 * std::max(scale, 1.0)) << name << " compiled vs LibTorch float64";
  EXPECT_LT(trainingError, 2e-5 * std::max(scale, 1.0)) << name << " LibTorch float32 vs float64";
  fs::remove_all(dir);
}

} // namespace

TEST(DenseLayers, CompiledForwardAgreesWithLibTorchFloat64) {
  PCE_SKIP_WITHOUT_COMPILER();
  expectCompiledForwardAgrees("seg-20x28", segLayersModel(20, 28));
  expectCompiledForwardAgrees("seg-14x10", segLayersModel(14, 10));
  expectCompiledForwardAgrees("det-32x24", detLayersModel(32, 24));
  expectCompiledForwardAgrees("det-16x16", detLayersModel(16, 16));
}

TEST(DenseLayers, ShapeErrorsNameTheLayer) {
  PCE_SKIP_WITHOUT_COMPILER();
  const std::string dir = freshDir("dense-layer-errors");
  const std::pair<std::string, std::string> cases[] = {
      {"layers:\n  - conv: {name: a, out_channels: 4, kernel: 3, stride: 2}\n  - concat: {from: x}\n",
       "'from' names no earlier layer: 'x'"},
      {"layers:\n  - conv: {name: a, out_channels: 4, kernel: 3, padding: 1}\n  - max_pool: {kernel: 2}\n"
       "  - concat: {from: a}\n",
       "'concat' appends the channels of 'a', [4, 4, 16, 16], which needs the same batch, height and width"},
      {"layers:\n  - conv: {name: a, out_channels: 4, kernel: 3, stride: 3}\nhead: {kind: detection, classes: 2}\n",
       "a detection head needs a feature map whose stride divides the input evenly and equally on both axes"},
      {"layers:\n  - global_avg_pool: {}\nhead: {kind: segmentation, classes: 2}\n",
       "a segmentation head needs a 4-D [B, C, H, W] feature map"},
      {"layers:\n  - upsample: {scale: 5000}\n", "exceeds the limit of 65536 per side"},
  };
  for (const auto &[layers, message] : cases) {
    writeFile(dir + "/bad.yaml", "model: m\ninput: {batch: 4, channels: 3, height: 16, width: 16}\n" + layers);
    ProcessResult r = runCommand({PCE_COMPILE_BIN, dir + "/bad.yaml", "-o", dir + "/out"});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("bad.yaml:"), std::string::npos) << r.output;
  }
  fs::remove_all(dir);
}

TEST(DenseTask, SegmentationLossIsWeightedCrossEntropyWithoutVoid) {
  at::Generator gen = at::detail::createCPUGenerator(3);
  rt::HeadSpec head;
  head.kind = rt::HeadKind::Segmentation;
  head.classes = 3;
  head.classWeights = {1.0, 2.5, 0.5};
  torch::Tensor logits = torch::randn({2, 3, 4, 5}, gen);
  train::DenseBatch batch;
  batch.masks = torch::randint(3, {2, 4, 5}, gen, torch::kLong);
  batch.masks[0][1][2] = 255;
  batch.masks[1][3][0] = 255;
  const double got = train::denseLoss(head, logits, batch).total.item<double>();
  double num = 0, den = 0;
  torch::Tensor l64 = logits.to(torch::kFloat64);
  auto l = l64.accessor<double, 4>();
  auto m = batch.masks.accessor<int64_t, 3>();
  for (int b = 0; b < 2; ++b)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) {
        if (m[b][y][x] == 255)
          continue;
        double z = 0;
        for (int k = 0; k < 3; ++k)
          z += std::exp(l[b][k][y][x]);
        const double w = head.classWeights[size_t(m[b][y][x])];
        num += w * (std::log(z) - l[b][m[b][y][x]][y][x]);
        den += w;
      }
  EXPECT_NEAR(got, num / den, 1e-5);
  batch.masks.fill_(255); // nothing to learn from: 0, not NaN
  EXPECT_EQ(train::denseLoss(head, logits, batch).total.item<double>(), 0.0);
}

TEST(DenseTask, DetectionLossIsTheFocalLossAndL1AtCentres) {
  at::Generator gen = at::detail::createCPUGenerator(4);
  rt::HeadSpec head;
  head.kind = rt::HeadKind::Detection;
  head.classes = 2;
  head.stride = 4;
  const int64_t h = 6, w = 5;
  torch::Tensor logits = torch::randn({2, 6, h, w}, gen);
  train::DenseBatch batch;
  rt::Box a, b, hard;
  a.xmin = 1, a.ymin = 2, a.xmax = 9, a.ymax = 17, a.label = 0;
  b.xmin = 10, b.ymin = 4, b.xmax = 19, b.ymax = 11, b.label = 1;
  hard = b;
  hard.ymin = 13, hard.ymax = 23, hard.difficult = true; // not a target
  batch.boxes = {{a, hard}, {b}};
  train::DenseLoss got = train::denseLoss(head, logits, batch);
  // The formulation of "Objects as Points", written out per cell.
  double pos = 0, neg = 0, sizeL1 = 0, offL1 = 0, objects = 0;
  torch::Tensor L64 = logits.to(torch::kFloat64);
  auto L = L64.accessor<double, 4>();
  for (int64_t i = 0; i < 2; ++i) {
    std::vector<rt::TargetBox> targets;
    for (const rt::Box &box : batch.boxes[size_t(i)])
      targets.push_back({rt::DetectionBox{box.xmin, box.ymin, box.xmax, box.ymax, box.label}, box.difficult});
    rt::CenterNetTargets t = rt::centerNetTargets(targets, 2, h, w, 4);
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const double p = 1 / (1 + std::exp(-L[i][k][y][x]));
          const double g = t.heatmap[size_t((k * h + y) * w + x)];
          if (g == 1)
            pos += std::pow(1 - p, 2) * std::log(p);
          else
            neg += std::pow(1 - g, 4) * std::pow(p, 2) * std::log(1 - p);
        }
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        if (!t.mask[size_t(y * w + x)])
          continue;
        objects += 1;
        for (int64_t c = 0; c < 2; ++c) {
          sizeL1 += std::abs(L[i][2 + c][y][x] - t.size[size_t((c * h + y) * w + x)]);
          offL1 += std::abs(L[i][4 + c][y][x] - t.offset[size_t((c * h + y) * w + x)]);
        }
      }
  }
  ASSERT_EQ(objects, 2); // the difficult box is no target
  const double focal = -(pos + neg) / objects;
  EXPECT_NEAR(got.heatmap, focal, 1e-4 * std::abs(focal));
  EXPECT_NEAR(got.size, sizeL1 / (2 * objects), 1e-4);
  EXPECT_NEAR(got.offset, offL1 / (2 * objects), 1e-4);
  EXPECT_NEAR(got.total.item<double>(), focal + 0.1 * sizeL1 / 4 + offL1 / 4, 1e-3);
}

TEST(DenseTask, AugmentationMovesMasksAndBoxesWithTheirImages) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  const int64_t B = 16, H = 12, W = 10;
  // Each image: zeros with one bright rectangle; its mask marks the same
  // rectangle with class 1, its box bounds it.
  train::DenseBatch batch;
  batch.images = torch::zeros({B, 1, H, W});
  batch.masks = torch::zeros({B, H, W}, torch::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t y0 = 2 + b % 3, x0 = 1 + b % 4, y1 = y0 + 5, x1 = x0 + 4;
    batch.images[b][0].slice(0, y0, y1).slice(1, x0, x1).fill_(1);
    batch.masks[b].slice(0, y0, y1).slice(1, x0, x1).fill_(1);
    rt::Box box;
    box.xmin = float(x0), box.ymin = float(y0), box.xmax = float(x1), box.ymax = float(y1);
    batch.boxes.push_back({box});
  }
  train::augmentDense(batch, 3, true, gen, {-1.0f});
  int moved = 0;
  for (int64_t b = 0; b < B; ++b) {
    torch::Tensor lit = batch.images[b][0] > 0.5;
    // Where the image is bright the mask says 1; padding is void in the
    // mask exactly where the image holds the fill value.
    EXPECT_TRUE(torch::equal(lit, batch.masks[b] == 1)) << b;
    EXPECT_TRUE(torch::equal(batch.images[b][0] == -1, batch.masks[b] == 255)) << b;
    ASSERT_EQ(batch.boxes[size_t(b)].size(), 1u);
    const rt::Box &box = batch.boxes[size_t(b)][0];
    torch::Tensor ys = lit.any(1).nonzero(), xs = lit.any(0).nonzero();
    ASSERT_GT(ys.numel(), 0);
    EXPECT_EQ(box.ymin, float(ys.min().item<int64_t>())) << b;
    EXPECT_EQ(box.ymax, float(ys.max().item<int64_t>() + 1)) << b;
    EXPECT_EQ(box.xmin, float(xs.min().item<int64_t>())) << b;
    EXPECT_EQ(box.xmax, float(xs.max().item<int64_t>() + 1)) << b;
    moved += box.xmin != float(1 + b % 4) || box.ymin != float(2 + b % 3);
  }
  EXPECT_GT(moved, B / 2);
}

#if PCE_HAVE_DATASETS
#include "tools/pce-make-scenes/Scenes.h"

#include "../datasets/AsapFixtures.h"
#include "../datasets/SlideFixtures.h"

namespace {

std::string sceneModel(const std::string &head, const std::string &path,
                       const std::string &schedule = "  epochs: 4\n") {
  return "model: scenes_tiny\n"
         "input: {channels: 3, height: 32, width: 32}\n"
         "layers:\n"
         "  - conv: {name: stem, out_channels: 8, kernel: 3, stride: 2, padding: 1}\n"
         "  - relu: {name: r}\n"
         "  - pce: {name: block, patch: 8, experts: 2, out_channels: 8, router: {kind: cosine, top_k: 1}}\n"
         "  - max_pool: {kernel: 2}\n"
         "  - upsample: {scale: 2, mode: bilinear}\n"
         "  - concat: {from: r}\n"
         "head: " + head + "\n"
         "training:\n"
         "  data: {format: voc, path: " + path + "}\n"
         "  batch: 8\n"
         "  validation: 8\n"
         "  optimizer: {kind: adamw, lr: 0.01}\n"
         "  augment: {crop_padding: 2, hflip: true}\n" +
         schedule;
}

// Trains `head` four epochs (80 steps) through the compiled PCE layer and checks that
// pce-run's --scores hold the test score summary.json reports.
void trainAndCompare(const std::string &name, const std::string &head, const std::string &metric) {
  const std::string dir = freshDir("dense-" + name);
  SceneOptions scenes;
  scenes.out = dir + "/scenes";
  scenes.images = 200;
  scenes.size = 40; // resized to the model's 32 x 32: views matter
  scenes.seed = 3;
  rt::Status made = makeScenes(scenes);
  if (!made && made.message().find("fashion-mnist") != std::string::npos)
    GTEST_SKIP() << made.message();
  ASSERT_TRUE(made) << made.message();
  writeFile(dir + "/m.yaml", sceneModel(head, scenes.out));
  ProcessResult trained = runTrain({dir + "/m.yaml", "-o", dir + "/run"});
  ASSERT_EQ(trained.status, 0) << trained.output;
  auto summary = rt::parseJson(readFile(dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  ASSERT_NE(summary->find("test_" + metric), nullptr) << readFile(dir + "/run/summary.json");
  ProcessResult run = runCommand({PCE_RUN_BIN, *summary->find("artifact")->getString(), "--weights",
                                  dir + "/run/weights.safetensors", "--data", scenes.out, "--scores",
                                  dir + "/scores.json", "--routing", dir + "/routing"});
  ASSERT_EQ(run.status, 0) << run.output;
  // The routing report's I(expert; class) reads each patch's own class.
  auto report = rt::parseJson(readFile(dir + "/routing/report.json"));
  ASSERT_TRUE(report.ok()) << report.error();
  const rt::JsonValue &layers = *report->find("layers");
  ASSERT_EQ(layers.getArray()->size(), 1u);
  EXPECT_FALSE((*layers.getArray())[0].find("mi_class")->isNull()) << run.output;
  // pce-run names the layer's routing as pce-train's log and the description do.
  EXPECT_EQ(*(*layers.getArray())[0].find("name")->getString(), "block.routing");
  EXPECT_TRUE(std::filesystem::exists(dir + "/routing/block.routing.npy"));
  // The per-pixel classes the report read: masks (detection: boxes painted).
  auto masks = rt::readNpy(dir + "/routing/masks.npy");
  ASSERT_TRUE(masks.ok()) << masks.error();
  EXPECT_EQ(masks->shape, (std::vector<int64_t>{20, 32, 32}));
  // report.html shows the first images (RGB, no image-level class) with their routing.
  const std::string html = readFile(dir + "/routing/report.html");
  EXPECT_NE(html.find("<div id=\"layer0-examples\" class=\"examples\"><figure>"), std::string::npos);
  EXPECT_NE(html.find("image 11</figcaption>"), std::string::npos);
  EXPECT_EQ(html.find("image 12</figcaption>"), std::string::npos);
  EXPECT_NE(readFile(dir + "/run/log.jsonl").find("\"layers\":{\"block\":"), std::string::npos);
  // Segmentation: 11 classes; detection: background + its 10.
  EXPECT_EQ(report->find("classes")->intValue(), 11);
  auto scores = rt::parseJson(readFile(dir + "/scores.json"));
  ASSERT_TRUE(scores.ok()) << scores.error();
  EXPECT_EQ(scores->find("images")->intValue(), 20);
  // The same code scores both; the compiled forward and LibTorch's differ
  // by float rounding only, which moves no argmax and no peak here.
  EXPECT_NEAR(scores->find(metric)->numberValue(), summary->find("test_" + metric)->numberValue(), 1e-9)
      << run.output << "\n" << trained.output;
  // Every per-class number too.
  const rt::JsonValue &reported = *summary->find("test_scores");
  double sum = 0;
  for (const char *perClass : {"iou", "ap11", "ap_all"}) {
    const rt::JsonValue *mine = scores->find(perClass), *theirs = reported.find(perClass);
    if (!mine)
      continue;
    ASSERT_NE(theirs, nullptr) << perClass;
    for (const auto &[cls, v] : *mine->getObject()) {
      ASSERT_NE(theirs->find(cls), nullptr) << cls;
      EXPECT_EQ(v.isNull(), theirs->find(cls)->isNull()) << cls;
      if (!v.isNull()) {
        EXPECT_NEAR(v.numberValue(), theirs->find(cls)->numberValue(), 1e-9) << perClass << " " << cls;
        sum += v.numberValue();
      }
    }
  }
  if (metric == "miou") {
    EXPECT_GT(sum, 0) << run.output;
  } else {
    // Detection after 80 steps finds little, but the same boxes: hundreds of
    // peaks above the threshold, each decided by both forwards alike.
    ASSERT_NE(reported.find("detections"), nullptr);
    EXPECT_GT(scores->find("detections")->intValue(), 100);
    EXPECT_EQ(scores->find("detections")->intValue(), reported.find("detections")->intValue());
  }
  std::printf("%s: pce-run %s\n", name.c_str(), run.output.c_str());
  fs::remove_all(dir);
}

} // namespace

TEST(DenseTraining, SegmentationTrainsThroughCompiledLayersAndPceRunAgrees) {
  PCE_SKIP_WITHOUT_COMPILER();
  trainAndCompare("seg", "{kind: segmentation, classes: 11}", "miou");
}

TEST(DenseTraining, DetectionTrainsThroughCompiledLayersAndPceRunAgrees) {
  PCE_SKIP_WITHOUT_COMPILER();
  trainAndCompare("det", "{kind: detection, classes: 10, score_threshold: 0.001}", "map11");
}

// A detection run over two phases (K-Means keys with EMA, then learnable
// keys) stopped after each epoch and resumed ends with the weights of the
// uninterrupted run: augmentation of boxes, targets and the dense
// evaluation keep no state outside the checkpoint.
TEST(DenseTraining, ResumeGivesTheUninterruptedRun) {
  PCE_SKIP_WITHOUT_COMPILER();
  const std::string dir = freshDir("dense-resume");
  SceneOptions scenes;
  scenes.out = dir + "/scenes";
  scenes.images = 80;
  scenes.size = 32;
  scenes.seed = 5;
  rt::Status made = makeScenes(scenes);
  if (!made && made.message().find("fashion-mnist") != std::string::npos)
    GTEST_SKIP() << made.message();
  ASSERT_TRUE(made) << made.message();
  writeFile(dir + "/m.yaml", sceneModel("{kind: detection, classes: 10}", scenes.out,
                                        "  phases:\n"
                                        "    - {epochs: 1, router: {kind: cosine, top_k: 1}, keys: ema}\n"
                                        "    - {epochs: 1, keys: learnable}\n"));
  ASSERT_EQ(runCommand({PCE_COMPILE_BIN, dir + "/m.yaml", "--training", "-o", dir + "/compiled"}).status, 0);
  auto args = [&](const std::string &run, std::vector<std::string> extra) {
    std::vector<std::string> a = {dir + "/m.yaml", "-o", dir + "/" + run, "--compiled", dir + "/compiled"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ProcessResult whole = runTrain(args("whole", {}));
  ASSERT_EQ(whole.status, 0) << whole.output;
  ProcessResult a = runTrain(args("parts", {"--stop-after", "1"}));
  ASSERT_EQ(a.status, 0) << a.output;
  ProcessResult b = runTrain(args("parts", {"--resume"}));
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_EQ(readFile(dir + "/whole/weights.safetensors"), readFile(dir + "/parts/weights.safetensors"));
  auto w = rt::parseJson(readFile(dir + "/whole/summary.json")), p = rt::parseJson(readFile(dir + "/parts/summary.json"));
  ASSERT_TRUE(w.ok() && p.ok());
  EXPECT_EQ(w->find("test_map11")->numberValue(), p->find("test_map11")->numberValue());
  EXPECT_NE(whole.output.find("val mAP@0.5"), std::string::npos) << whole.output;
  fs::remove_all(dir);
}

// Camelyon16 end to end on slides written here (flat layout, tiles of 128
// pixels at level 1 as the description says): tiles with
// their masks train a segmentation head; pce-run scores the test slide's
// tiles overall and per slide, with the tumour IoU, as pce-train did.
TEST(DenseTraining, CamelyonSlidesTrainAndPceRunScoresEachSlide) {
  PCE_SKIP_WITHOUT_COMPILER();
  const std::string dir = freshDir("dense-camelyon");
  const std::string data = dir + "/camelyon";
  fs::create_directories(data + "/images");
  fs::create_directories(data + "/annotations");
  for (const char *stem : {"tumor_001", "tumor_002", "normal_001", "test_001"})
    ASSERT_NO_FATAL_FAILURE(rt::test::writeSlide(data + "/images/" + stem + ".tif"));
  for (const char *stem : {"tumor_001", "tumor_002", "test_001"})
    writeFile(data + "/annotations/" + stem + ".xml", rt::test::asapXml(rt::test::lesions()));
  writeFile(data + "/test.txt", "test_001\n");
  writeFile(dir + "/m.yaml", "model: camelyon_tiny\n"
                             "input: {channels: 3, height: 32, width: 32}\n"
                             "layers:\n"
                             "  - conv: {name: stem, out_channels: 8, kernel: 3, padding: 1}\n"
                             "  - relu: {}\n"
                             "  - pce: {name: block, patch: 8, experts: 2, out_channels: 8, router: {kind: cosine, top_k: 1}}\n"
                             "head: {kind: segmentation, classes: 2}\n"
                             "training:\n"
                             "  data: {format: camelyon16, path: " + data + ", level: 1, tile_size: 128}\n"
                             "  batch: 4\n"
                             "  validation: 4\n"
                             "  optimizer: {kind: adamw, lr: 0.01}\n"
                             "  epochs: 2\n");
  ProcessResult trained = runTrain({dir + "/m.yaml", "-o", dir + "/run"});
  ASSERT_EQ(trained.status, 0) << trained.output;
  auto summary = rt::parseJson(readFile(dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok()) << summary.error();
  ProcessResult run = runCommand({PCE_RUN_BIN, *summary->find("artifact")->getString(), "--weights",
                                  dir + "/run/weights.safetensors", "--data", data, "--scores", dir + "/scores.json"});
  ASSERT_EQ(run.status, 0) << run.output;
  auto scores = rt::parseJson(readFile(dir + "/scores.json"));
  ASSERT_TRUE(scores.ok()) << scores.error();
  // The six tissue tiles of level 1 (512 x 384, tiles of 128) of the test
  // slide, tiled as in training: the options travelled with the weights.
  EXPECT_EQ(scores->find("images")->intValue(), 6);
  EXPECT_NEAR(scores->find("miou")->numberValue(), summary->find("test_miou")->numberValue(), 1e-9) << run.output;
  const rt::JsonValue *slides = scores->find("groups");
  ASSERT_NE(slides, nullptr) << run.output;
  ASSERT_NE(slides->find("test_001"), nullptr) << run.output;
  // One slide: its scores are the overall ones.
  EXPECT_EQ(slides->find("test_001")->find("miou")->numberValue(), scores->find("miou")->numberValue());
  EXPECT_FALSE(scores->find("iou")->find("tumour")->isNull()); // the lesions reach the test tiles
  EXPECT_NE(run.output.find("  test_001: mIoU "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("tumour IoU"), std::string::npos) << run.output;
  fs::remove_all(dir);
}
#endif
