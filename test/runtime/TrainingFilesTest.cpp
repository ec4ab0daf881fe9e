//===- TrainingFilesTest.cpp - training.json and checkpoint.json ----------===//
//
// The two formats of a training run (runtime/TrainingPlan.h,
// runtime/CheckpointInfo.h): what is written reads back unchanged, the
// defaults are the structs' own, bad files are errors naming the file, byte
// offset and key, and random damage is an error value, never a crash.
//
//===----------------------------------------------------------------------===//

#include "runtime/CheckpointInfo.h"
#include "runtime/TrainingPlan.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// A plan with every layer kind, a head, two phases and no default left.
Plan samplePlan() {
  Plan p;
  p.model = "sample";
  p.batch = 16;
  p.channels = 3;
  p.height = 8;
  p.width = 8;
  auto layer = [&](std::string kind, std::string name, std::vector<int64_t> in, std::vector<int64_t> out) {
    PlanLayer l;
    l.kind = std::move(kind);
    l.name = std::move(name);
    l.in = std::move(in);
    l.out = std::move(out);
    return l;
  };
  PlanLayer conv = layer("conv", "stem", {3, 8, 8}, {4, 4, 4});
  conv.kernel = {3, 3};
  conv.stride = {2, 2};
  conv.padding = {1, 1};
  conv.bias = false;
  PlanLayer bn = layer("batch_norm", "bn", {4, 4, 4}, {4, 4, 4});
  bn.eps = 1e-3;
  PlanLayer pool = layer("max_pool", "pool", {4, 4, 4}, {4, 2, 2});
  pool.kernel = {2, 2};
  pool.stride = {2, 2};
  PlanLayer res = layer("residual", "skip", {4, 2, 2}, {4, 2, 2});
  res.from = "pool";
  PlanLayer lin = layer("linear", "fc", {16}, {5});
  lin.bias = false;
  p.layers = {conv, bn, layer("relu", "r", {4, 4, 4}, {4, 4, 4}), pool, layer("pce", "block", {4, 2, 2}, {4, 2, 2}),
              res, layer("flatten", "flat", {4, 2, 2}, {16}), lin};
  p.head = HeadSpec{};
  p.head->classes = 5;
  p.head->in = {5};
  for (int q = 0; q < 2; ++q) {
    Phase ph;
    ph.epochs = 2 + q;
    ph.artifact = "phase" + std::to_string(q + 1);
    PhaseLayer pl;
    pl.router = q ? "mlp" : "cosine";
    pl.topK = 2;
    pl.keys = q ? "none" : "learnable_ema";
    pl.tau = 0.5;
    pl.learnableTau = true;
    pl.mix = q ? "concat" : "sum";
    pl.attention = q ? "se" : "none";
    ph.layers["block"] = pl;
    p.phases.push_back(ph);
  }
  TrainingConfig &t = p.training;
  t.data = "/data/x";
  t.dataFormat = "cifar100";
  t.dataMean = {0.5, 0.25, 0.125};
  t.dataStd = {0.2, 0.3, 0.4};
  t.batch = 16;
  t.seed = 7;
  t.threads = 1;
  t.validation = 100;
  t.optimizer = OptimizerConfig::defaults("adamw");
  t.optimizer.lr = 0.75;
  t.schedule.kind = "step";
  t.schedule.warmupEpochs = 0.5;
  t.schedule.stepEpochs = 3;
  t.schedule.gamma = 0.5;
  t.cropPadding = 2;
  t.hflip = true;
  t.loadBalance = 0.01;
  t.ema = 0.9;
  t.keyInitImages = 64;
  t.keyInitIterations = 9;
  t.bnMomentum = 0.2;
  return p;
}

// The byte offset of `needle` in `text` (the test's own copy of what the
// reader must report).
size_t offsetOf(const std::string &text, const std::string &needle) { return text.find(needle); }

// `text` with its first `from` replaced by `to`.
std::string edited(std::string text, const std::string &from, const std::string &to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

// How many of 2000 random damages of `text` (truncations, changed bytes)
// `parse` still accepts; every outcome must be a value or an error.
template <typename Parse> int parsesAfterDamage(const std::string &text, Parse parse) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> pos(0, text.size() - 1);
  int ok = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = text;
    if (i % 3 == 0)
      damaged.resize(pos(rng()));
    else
      damaged[pos(rng())] = static_cast<char>(byte(rng()));
    ok += parse(damaged, "d.json").ok();
  }
  return ok;
}

} // namespace

TEST(TrainingPlan, WrittenPlanReadsBackUnchanged) {
  Plan p = samplePlan();
  std::string text = writePlanText(p);
  auto back = parsePlan(text, "training.json");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(writePlanText(*back), text);
  EXPECT_EQ(back->model, "sample");
  ASSERT_EQ(back->layers.size(), p.layers.size());
  EXPECT_EQ(back->layers[0].padding, (std::vector<int64_t>{1, 1}));
  EXPECT_FALSE(back->layers[0].bias);
  EXPECT_DOUBLE_EQ(back->layers[1].eps, 1e-3);
  EXPECT_EQ(back->layers[5].from, "pool");
  ASSERT_TRUE(back->head);
  EXPECT_EQ(back->head->classes, 5);
  EXPECT_EQ(back->head->in, std::vector<int64_t>{5});
  const PhaseLayer &pl = back->phases[1].layers.at("block");
  EXPECT_EQ(pl.router, "mlp");
  EXPECT_EQ(pl.attention, "se");
  EXPECT_TRUE(pl.learnableTau);
  EXPECT_EQ(back->training.optimizer.kind, "adamw");
  EXPECT_DOUBLE_EQ(back->training.optimizer.lr, 0.75);
  EXPECT_DOUBLE_EQ(back->training.optimizer.weightDecay, 0.01);
  EXPECT_EQ(back->training.schedule.kind, "step");
  EXPECT_EQ(back->training.dataFormat, "cifar100");
  EXPECT_EQ(back->training.dataMean, (std::vector<double>{0.5, 0.25, 0.125}));
  EXPECT_EQ(back->training.dataStd, (std::vector<double>{0.2, 0.3, 0.4}));
  EXPECT_TRUE(back->training.hflip);
  EXPECT_EQ(back->totalEpochs(), 5);
  EXPECT_EQ(back->phaseOfEpoch(2), 1u);
  EXPECT_EQ(back->firstEpochOf(1), 2);
}

TEST(TrainingPlan, WithoutAHeadTheHeadIsNull) {
  Plan p = samplePlan();
  p.head.reset();
  std::string text = writePlanText(p);
  EXPECT_NE(text.find("\"head\": null"), std::string::npos) << text;
  auto back = parsePlan(text, "t.json");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_FALSE(back->head);
}

TEST(TrainingPlan, DefaultsAreDeclaredOnce) {
  // SGD's are the initialisers; AdamW's differ where docs/Training.md §2 says.
  OptimizerConfig sgd = OptimizerConfig::defaults("sgd"), plain;
  EXPECT_EQ(sgd.kind, "sgd");
  EXPECT_DOUBLE_EQ(sgd.lr, plain.lr);
  EXPECT_DOUBLE_EQ(sgd.lr, 0.05);
  EXPECT_DOUBLE_EQ(sgd.momentum, 0.9);
  EXPECT_TRUE(sgd.nesterov);
  EXPECT_DOUBLE_EQ(sgd.weightDecay, 5e-4);
  OptimizerConfig adamw = OptimizerConfig::defaults("adamw");
  EXPECT_EQ(adamw.kind, "adamw");
  EXPECT_DOUBLE_EQ(adamw.lr, 0.001);
  EXPECT_DOUBLE_EQ(adamw.momentum, 0);
  EXPECT_FALSE(adamw.nesterov);
  EXPECT_DOUBLE_EQ(adamw.weightDecay, 0.01);
  EXPECT_DOUBLE_EQ(adamw.beta2, 0.999);
  EXPECT_THROW(OptimizerConfig::defaults("lion"), std::invalid_argument);
  TrainingConfig t;
  EXPECT_EQ(t.data, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(t.batch, 64);
  EXPECT_EQ(t.validation, 5000);
  EXPECT_EQ(t.schedule.kind, "cosine");
  EXPECT_EQ(kDefaultEpochs, 10);
}

TEST(TrainingPlan, ErrorsNameFileOffsetAndKey) {
  std::string text = writePlanText(samplePlan());
  std::string bad = text;
  size_t at = offsetOf(bad, "0.75");
  bad.replace(at, 4, "\"x\"");
  auto plan = parsePlan(bad, "c/training.json");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error(),
            "c/training.json: byte " + std::to_string(at) + ": training.optimizer.lr: expected a number, found a string");

  auto expectError = [&](const std::string &from, const std::string &to, const std::string &message) {
    auto damaged = parsePlan(edited(text, from, to), "t.json");
    ASSERT_FALSE(damaged.ok());
    EXPECT_NE(damaged.error().find(message), std::string::npos) << damaged.error();
    EXPECT_EQ(damaged.error().rfind("t.json: byte ", 0), 0u) << damaged.error();
  };
  expectError("\"step\"", "\"often\"", "training.schedule.kind: expected constant, cosine or step, found 'often'");
  expectError("\"version\": 1", "\"version\": 2", "version: this PCE reads version 1");
  expectError("\"batch\": 16", "\"batch\": 15", "input.batch: the compiled batch 15 differs from training.batch 16");
  expectError("\"learnable_ema\"", "\"sometimes\"",
              "phases[0].layers.block.keys: expected none, ema, learnable or learnable_ema");
  expectError("\"cifar100\"", "\"mnist\"", "training.data_format: unknown data format 'mnist'");

  // Plans written before the data formats read Fashion-MNIST's IDX files.
  std::string old = text;
  size_t from = offsetOf(old, "  \"data_format\"");
  old.erase(from, old.find("  \"batch\"", from) - from);
  plan = parsePlan(old, "old.json");
  ASSERT_TRUE(plan.ok()) << plan.error() << "\n" << old;
  EXPECT_EQ(plan->training.dataFormat, "idx");
  EXPECT_TRUE(plan->training.dataMean.empty());

  EXPECT_NE(readPlan("/nonexistent/training.json").error().find("/nonexistent/training.json"), std::string::npos);
}

TEST(TrainingPlan, RandomDamageIsAnErrorOrAPlan) {
  std::string text = writePlanText(samplePlan());
  EXPECT_LT(parsesAfterDamage(text, parsePlan), 2000);
}

TEST(CheckpointInfo, WrittenInfoReadsBackUnchanged) {
  CheckpointInfo c;
  c.epoch = 4;
  c.phase = 2;
  c.optimizerSteps = 30;
  c.globalStep = 120;
  c.wallSeconds = 12.5;
  c.dense = true;
  c.model = "fashion_pce";
  c.seed = 3;
  std::string text = writeCheckpointInfoText(c);
  EXPECT_NE(text.find("\"phase\": 3"), std::string::npos) << "phases are 1-based in the file: " << text;
  auto back = parseCheckpointInfo(text, "checkpoint.json");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->epoch, 4);
  EXPECT_EQ(back->phase, 2);
  EXPECT_EQ(back->optimizerSteps, 30);
  EXPECT_EQ(back->globalStep, 120);
  EXPECT_DOUBLE_EQ(back->wallSeconds, 12.5);
  EXPECT_TRUE(back->dense);
  EXPECT_EQ(back->model, "fashion_pce");
  EXPECT_EQ(back->seed, 3);
  EXPECT_EQ(writeCheckpointInfoText(*back), text);
}

TEST(CheckpointInfo, BadFilesAreErrors) {
  std::string text = writeCheckpointInfoText(CheckpointInfo{});
  auto expectError = [&](const std::string &from, const std::string &to, const std::string &message) {
    auto info = parseCheckpointInfo(edited(text, from, to), "run/checkpoint.json");
    ASSERT_FALSE(info.ok()) << from;
    EXPECT_NE(info.error().find(message), std::string::npos) << info.error();
    EXPECT_EQ(info.error().rfind("run/checkpoint.json: byte ", 0), 0u) << info.error();
  };
  expectError("\"pce-train-checkpoint\"", "\"pce-artifact\"", "format: expected \"pce-train-checkpoint\"");
  expectError("\"phase\": 1", "\"phase\": 0", "phase: must be at least 1");
  expectError("\"epoch\": 0", "\"epoch\": -1", "epoch: must be at least 0");
  expectError("\"epoch\": 0", "\"epoch\": 0.5", "epoch: expected an integer, found a number");
  expectError("\"dense\": false", "\"dense\": false, \"densse\": true", "densse: unknown key");
  expectError("\"seed\": 0,", "", "missing key 'seed'");
  EXPECT_FALSE(parseCheckpointInfo("[]", "c.json").ok());
  EXPECT_FALSE(readCheckpointInfo("/nonexistent/checkpoint.json").ok());
}

TEST(CheckpointInfo, RandomDamageIsAnErrorOrInfo) {
  std::string text = writeCheckpointInfoText(CheckpointInfo{});
  EXPECT_LT(parsesAfterDamage(text, parseCheckpointInfo), 2000);
}
