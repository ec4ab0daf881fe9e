//===- RunDirTest.cpp - run directory rules, checkpoints, resume ----------===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"
#include "runtime/Safetensors.h"
#include "runtime/train/Checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

using namespace pce::train;
using namespace pce::traintest;
namespace fs = std::filesystem;

namespace {

// A data set and a plan for dense runs under `name`.
struct DenseRun {
  std::string dir, compiled;
  explicit DenseRun(const std::string &name, PlanOptions po = {}, int64_t train = 96, int64_t test = 24) {
    dir = freshDir(name);
    po.data = dir + "/data";
    writeDataset(po.data, train, test);
    compiled = dir + "/compiled";
    writePlan(compiled, po);
  }
  std::vector<std::string> args(const std::string &run, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"unused.yaml", "-o", dir + "/" + run, "--dense", "--compiled", compiled};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// The log's lines without their timings.
std::vector<std::string> logWithoutTimes(const std::string &path) {
  std::vector<std::string> out;
  std::stringstream in(readFile(path));
  std::string line;
  while (std::getline(in, line)) {
    auto v = pce::rt::parseJson(line);
    EXPECT_TRUE(v.ok()) << line;
    if (!v)
      continue;
    v->set("wall_s", {});
    v->set("images_per_s", {});
    out.push_back(pce::rt::writeJson(*v));
  }
  return out;
}

} // namespace

TEST(RunDir, NeverOverwrittenWithoutResumeOrForce) {
  DenseRun d("rundir-overwrite");
  ProcessResult first = runTrain(d.args("run"));
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_TRUE(fs::exists(d.dir + "/run/log.jsonl"));
  std::string log = readFile(d.dir + "/run/log.jsonl");

  ProcessResult again = runTrain(d.args("run"));
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_NE(again.output.find("already holds a run"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("--resume"), std::string::npos) << again.output;
  EXPECT_EQ(readFile(d.dir + "/run/log.jsonl"), log) << "the refused run must not touch the log";

  // A directory holding only a log is a run too.
  fs::create_directories(d.dir + "/logonly");
  writeFile(d.dir + "/logonly/log.jsonl", "{}\n");
  EXPECT_EQ(runTrain(d.args("logonly")).status, 1);

  ProcessResult forced = runTrain(d.args("run", {"--force"}));
  EXPECT_EQ(forced.status, 0) << forced.output;

  ProcessResult both = runTrain(d.args("run", {"--force", "--resume"}));
  EXPECT_EQ(both.status, 2) << both.output;

  ProcessResult nothing = runTrain(d.args("empty", {"--resume"}));
  EXPECT_EQ(nothing.status, 1) << nothing.output;
  EXPECT_NE(nothing.output.find("no checkpoint.json"), std::string::npos) << nothing.output;
}

TEST(RunDir, ResumeGivesTheUninterruptedRun) {
  // Two phases so that a resume also crosses a phase start.
  PlanOptions po;
  po.phaseEpochs = {2, 1};
  DenseRun d("rundir-resume", po);
  ProcessResult whole = runTrain(d.args("whole"));
  ASSERT_EQ(whole.status, 0) << whole.output;

  ProcessResult part1 = runTrain(d.args("parts", {"--stop-after", "1"}));
  ASSERT_EQ(part1.status, 0) << part1.output;
  EXPECT_FALSE(fs::exists(d.dir + "/parts/weights.safetensors"));
  ProcessResult part2 = runTrain(d.args("parts", {"--resume", "--stop-after", "1"}));
  ASSERT_EQ(part2.status, 0) << part2.output;
  ProcessResult part3 = runTrain(d.args("parts", {"--resume"}));
  ASSERT_EQ(part3.status, 0) << part3.output;
  EXPECT_NE(part3.output.find("phase 2 starts"), std::string::npos) << part3.output;

  EXPECT_EQ(readFile(d.dir + "/whole/weights.safetensors"), readFile(d.dir + "/parts/weights.safetensors"))
      << "resumed weights differ from the uninterrupted run's";
  EXPECT_EQ(logWithoutTimes(d.dir + "/whole/log.jsonl"), logWithoutTimes(d.dir + "/parts/log.jsonl"));
  auto summary = pce::rt::parseJson(readFile(d.dir + "/parts/summary.json"));
  ASSERT_TRUE(summary.ok());
  auto wholeSummary = pce::rt::parseJson(readFile(d.dir + "/whole/summary.json"));
  ASSERT_TRUE(wholeSummary.ok());
  EXPECT_EQ(summary->find("test_top1")->numberValue(), wholeSummary->find("test_top1")->numberValue());
}

TEST(RunDir, DenseTrainingLearnsAndWritesEverything) {
  PlanOptions po;
  po.phaseEpochs = {4};
  po.optimizer = "adamw";
  DenseRun d("rundir-learn", po, 400, 100);
  ProcessResult r = runTrain(d.args("run"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char *f : {"log.jsonl", "checkpoint.json", "checkpoint.safetensors", "weights.safetensors",
                        "summary.json"})
    EXPECT_TRUE(fs::exists(d.dir + "/run/" + f)) << f;
  EXPECT_NE(r.output.find("phase 1 starts"), std::string::npos);
  auto summary = pce::rt::parseJson(readFile(d.dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok());
  EXPECT_GT(summary->find("test_top1")->numberValue(), 0.3) << r.output; // chance is 0.1
  EXPECT_EQ(summary->find("test_images")->intValue(), 100);
  auto weights = pce::rt::readSafetensors(d.dir + "/run/weights.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.error();
  for (const char *name : {"stem.weight", "stem.bias", "stem_bn.running_var", "block.dense.weight",
                           "block.dense.bn.gamma", "fc.weight", "head.fc.weight", "head.fc.bias"})
    EXPECT_NE(weights->find(name), nullptr) << name;
  EXPECT_EQ(weights->find("fc.weight")->shape, (std::vector<int64_t>{16, 12})) << "linear weights are [F,O]";
  EXPECT_EQ(weights->find("head.fc.weight")->shape, (std::vector<int64_t>{12, 10}));
  // One epoch line per epoch with the logged fields.
  int epochs = 0;
  std::stringstream in(readFile(d.dir + "/run/log.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    auto v = pce::rt::parseJson(line);
    ASSERT_TRUE(v.ok());
    if (*v->find("event")->getString() != "epoch")
      continue;
    ++epochs;
    for (const char *key : {"epoch", "phase", "lr", "train_loss", "val_loss", "val_top1", "val_top5", "layers",
                            "images_per_s", "wall_s"})
      EXPECT_NE(v->find(key), nullptr) << key;
  }
  EXPECT_EQ(epochs, 4);
}

TEST(Checkpoint, RoundTrip) {
  std::string dir = freshDir("checkpoint-roundtrip");
  Checkpoint c;
  c.info.epoch = 7;
  c.info.phase = 1;
  c.info.optimizerSteps = 12;
  c.info.globalStep = 99;
  c.info.wallSeconds = 1.5;
  c.info.dense = true;
  c.info.model = "m";
  c.info.seed = 4;
  c.tensors["a.weight"] = torch::randn({3, 4});
  c.tensors["optim.a.weight.momentum_buffer"] = torch::randn({3, 4});
  c.tensors["rng.state"] = at::detail::getDefaultCPUGenerator().get_state();
  writeCheckpoint(dir, c);
  EXPECT_FALSE(fs::exists(dir + "/checkpoint.json.tmp"));
  Checkpoint back = readCheckpoint(dir);
  EXPECT_EQ(back.info.epoch, 7);
  EXPECT_EQ(back.info.phase, 1);
  EXPECT_EQ(back.info.optimizerSteps, 12);
  EXPECT_EQ(back.info.globalStep, 99);
  EXPECT_EQ(back.info.wallSeconds, 1.5);
  EXPECT_TRUE(back.info.dense);
  EXPECT_EQ(back.info.model, "m");
  ASSERT_EQ(back.tensors.size(), 3u);
  for (const auto &[name, t] : c.tensors)
    EXPECT_TRUE(torch::equal(back.tensors.at(name), t)) << name;

  // A checkpoint.json from another epoch than the tensors is refused.
  Checkpoint later = c;
  later.info.epoch = 8;
  fs::create_directories(dir + "/other");
  writeCheckpoint(dir + "/other", later);
  fs::copy_file(dir + "/other/checkpoint.json", dir + "/checkpoint.json", fs::copy_options::overwrite_existing);
  EXPECT_THROW(readCheckpoint(dir), std::runtime_error);
}
