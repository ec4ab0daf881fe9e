//===- FinetuneTest.cpp - pce-train --finetune ----------------------------===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"
#include "runtime/Safetensors.h"
#include "runtime/train/Checkpoint.h"
#include "runtime/train/Finetune.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

using namespace pce;
using namespace pce::traintest;
namespace fs = std::filesystem;

namespace {
// Dense runs of the two-phase plan.
struct Fixture : PlanFixture {
  using PlanFixture::PlanFixture;
  std::vector<std::string> args(const std::string &run, std::vector<std::string> extra) const {
    extra.insert(extra.begin(), "--dense");
    return PlanFixture::args(run, extra);
  }
};

int64_t count(const std::string &text, const std::string &what) {
  int64_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}
} // namespace

// With no epochs to train, a fine-tuned run ends with exactly the weights it
// started from; with one, only the last phase trains.
TEST(Finetune, StartsTheLastPhaseFromTheGivenWeights) {
  Fixture f("finetune");
  ProcessResult first = runTrain(f.args("first", {}));
  ASSERT_EQ(first.status, 0) << first.output;
  ProcessResult same = runTrain(f.args("same", {"--finetune", f.dir + "/first", "--epochs", "0"}));
  ASSERT_EQ(same.status, 0) << same.output;
  EXPECT_NE(same.output.find("phase 2 starts"), std::string::npos) << same.output;
  EXPECT_EQ(same.output.find("phase 1 starts"), std::string::npos) << same.output;
  EXPECT_NE(same.output.find("(--finetune)"), std::string::npos) << same.output;
  auto a = train::readTensors(f.dir + "/first/weights.safetensors");
  auto b = train::readTensors(f.dir + "/same/weights.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (const auto &[name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  }

  ProcessResult tuned = runTrain(f.args("tuned", {"--finetune", f.dir + "/first/weights.safetensors", "--epochs", "1"}));
  ASSERT_EQ(tuned.status, 0) << tuned.output;
  const std::string log = readFile(f.dir + "/tuned/log.jsonl");
  EXPECT_EQ(count(log, "\"event\":\"epoch\""), 1) << log;
  EXPECT_EQ(count(log, "\"event\":\"phase_start\",\"epoch\":1,\"phase\":2"), 1) << log;
  auto summary = rt::parseJson(readFile(f.dir + "/tuned/summary.json"));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->find("epochs")->intValue(), 1);
  EXPECT_EQ(*summary->find("finetune")->getString(), f.dir + "/first/weights.safetensors");
  auto c = train::readTensors(f.dir + "/tuned/weights.safetensors");
  EXPECT_FALSE(torch::equal(a.at("head.fc.weight"), c.at("head.fc.weight"))) << "one epoch of training changed nothing";
}

TEST(Finetune, WeightsOfAnotherModelAreAClearError) {
  Fixture f("finetune-errors");
  ProcessResult first = runTrain(f.args("first", {}));
  ASSERT_EQ(first.status, 0) << first.output;
  auto tensors = train::readTensors(f.dir + "/first/weights.safetensors");
  tensors.erase("head.fc.bias");
  tensors["head.fc.weight"] = torch::zeros({3, 3});
  train::writeTensors(f.dir + "/other.safetensors", tensors, {});
  ProcessResult r = runTrain(f.args("bad", {"--finetune", f.dir + "/other.safetensors"}));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--finetune: " + f.dir + "/other.safetensors"), std::string::npos) << r.output;
  EXPECT_TRUE(r.output.find("has no tensor 'head.fc.bias'") != std::string::npos ||
              r.output.find("'head.fc.weight' is [3, 3]") != std::string::npos)
      << r.output;
  ProcessResult missing = runTrain(f.args("missing", {"--finetune", f.dir + "/nothing"}));
  EXPECT_EQ(missing.status, 1) << missing.output;
  EXPECT_NE(missing.output.find("--finetune: no weights at " + f.dir + "/nothing (give a run"),
            std::string::npos)
      << missing.output;
}

// reshape.json's splits under keyed routers are read; other layers' are not.
TEST(Finetune, ReadsTheSplitsWhoseKeysMustBeRefitted) {
  const std::string dir = freshDir("finetune-reshape");
  train::writeTensors(dir + "/weights.safetensors", {{"a", torch::ones({2})}}, {});
  writeFile(dir + "/reshape.json", R"({"format": "pce-reshape", "layers": [
    {"name": "keyed", "router": "cosine", "refit_keys": true, "split": [{"expert": 2, "into": [1, 3]}]},
    {"name": "mlp", "router": "mlp", "refit_keys": false, "split": [{"expert": 0, "into": [0, 2]}]}]})");
  train::FinetuneSource s = train::readFinetuneSource(dir);
  ASSERT_EQ(s.keySplits.size(), 1u);
  EXPECT_EQ(s.keySplits[0].layer, "keyed");
  EXPECT_EQ(s.keySplits[0].first, 1);
  EXPECT_EQ(s.keySplits[0].second, 3);
  EXPECT_EQ(s.tensors.size(), 1u);
  writeFile(dir + "/reshape.json", R"({"layers": [{"name": "keyed", "refit_keys": true, "split": [{"expert": 2}]}]})");
  try {
    train::readFinetuneSource(dir);
    FAIL() << "a split without 'into' was accepted";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/reshape.json: layer 'keyed': a split without two 'into'"),
              std::string::npos)
        << e.what();
  }
}

// Two clusters of embeddings routed to a split pair (equal keys, so all to
// the lower expert) give the pair the clusters' directions; the other keys
// and the pair's norm stay.
TEST(Finetune, RefitSplitKeysSeparatesThePairsPatches) {
  torch::manual_seed(5);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t D = 6, E = 4;
  torch::Tensor u = torch::zeros({D}, f64), v = torch::zeros({D}, f64);
  u[0] = 1, v[1] = 1;
  torch::Tensor near = torch::cat({u.expand({30, D}) * 3, v.expand({20, D}) * 0.5}) + 0.01 * torch::randn({50, D}, f64);
  torch::Tensor other = torch::randn({10, D}, f64);
  torch::Tensor embeddings = torch::cat({near, other}).to(torch::kFloat32);
  torch::Tensor routing = torch::zeros({60, E});
  routing.narrow(0, 0, 50).select(1, 1).fill_(1);  // the pair's patches
  routing.narrow(0, 50, 10).select(1, 0).fill_(1); // another expert's
  torch::Tensor keys = torch::randn({E, D});
  keys[3].copy_(keys[1]);
  torch::Tensor before = keys.clone();
  at::Generator gen = at::detail::createCPUGenerator(1);
  EXPECT_EQ(train::refitSplitKeys(keys, embeddings, routing, 1, 3, 50, gen), 50);
  EXPECT_TRUE(torch::equal(keys[0], before[0]));
  EXPECT_TRUE(torch::equal(keys[2], before[2]));
  auto cosine = [](const torch::Tensor &a, const torch::Tensor &b) {
    return (torch::dot(a.to(torch::kFloat64), b) / a.norm().to(torch::kFloat64)).item<double>();
  };
  const double u1 = cosine(keys[1], u), v1 = cosine(keys[1], v), u3 = cosine(keys[3], u), v3 = cosine(keys[3], v);
  EXPECT_GT(std::max(u1, u3), 0.99);
  EXPECT_GT(std::max(v1, v3), 0.99);
  EXPECT_TRUE((u1 > 0.99 && v3 > 0.99) || (u3 > 0.99 && v1 > 0.99));
  EXPECT_NEAR(keys[1].norm().item<double>(), before[1].norm().item<double>(), 1e-5);
  EXPECT_NEAR(keys[3].norm().item<double>(), before[1].norm().item<double>(), 1e-5);
  EXPECT_THROW(train::refitSplitKeys(keys, embeddings, routing, 1, 4, 50, gen), std::runtime_error);
}
