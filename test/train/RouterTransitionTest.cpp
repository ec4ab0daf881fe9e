//===- RouterTransitionTest.cpp - new routers start as the old ones routed -===//
//
// keysFromAssignment and fitKeys on embeddings whose assignment a cosine
// router can or cannot express; then phase switches of pce-train on real
// Fashion-MNIST images (position -> cosine keys -> MLP, position -> MLP,
// uniform -> cosine), reading the agreement each switch logs: the share of
// validation patches whose top-1 expert the new router keeps.
//
//===----------------------------------------------------------------------===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"
#include "runtime/train/RouterTransition.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

using namespace pce;
using namespace pce::traintest;
namespace fs = std::filesystem;

TEST(RouterTransition, KeysReproduceAnAssignmentByDirection) {
  at::Generator gen = at::detail::createCPUGenerator(7);
  // Four directions, 200 noisy points around each; expert 4 receives none.
  const int64_t E = 5, D = 12, per = 200;
  torch::Tensor centres = torch::randn({4, D}, gen, torch::kFloat64);
  torch::Tensor points = centres.repeat_interleave(per, 0) * 3 + torch::randn({4 * per, D}, gen, torch::kFloat64);
  torch::Tensor assign = torch::arange(4, torch::kLong).repeat_interleave(per);
  std::vector<int64_t> unassigned;
  torch::Tensor keys = train::keysFromAssignment(points, assign, E, unassigned);
  ASSERT_EQ(unassigned, std::vector<int64_t>{4});
  EXPECT_EQ(keys.sizes(), (std::vector<int64_t>{E, D}));
  EXPECT_TRUE(torch::allclose(keys.norm(2, {1}), torch::ones({E}, torch::kFloat64)));
  // Key e is the spherical mean of its points.
  torch::Tensor unit = points / points.norm(2, {1}, true);
  torch::Tensor mean = unit.slice(0, 0, per).sum(0);
  EXPECT_TRUE(torch::allclose(keys[0], mean / mean.norm()));
  // The empty expert takes a point, the one least like every other key.
  torch::Tensor similarity = unit.matmul(keys.slice(0, 0, 4).t()).amax(1);
  EXPECT_TRUE(torch::allclose(keys[4], unit[similarity.argmin().item<int64_t>()]));
  // The cosine router of the keys keeps (almost) every assignment.
  torch::Tensor routed = unit.matmul(keys.t()).argmax(1);
  EXPECT_GT(routed.eq(assign).to(torch::kFloat64).mean().item<double>(), 0.97);
  EXPECT_EQ(train::topOneAgreement(torch::one_hot(routed, E), torch::one_hot(routed, E)), 1.0);
}

TEST(RouterTransition, FittingTheKeysRecoversWhatTheMeansMiss) {
  at::Generator gen = at::detail::createCPUGenerator(8);
  // A large shared component (as pooled embeddings have) and a small part
  // that decides the expert: the means are close, fitting separates them.
  const int64_t E = 4, D = 16, N = 2000;
  torch::Tensor points = torch::randn({N, D}, gen, torch::kFloat64) * 0.3;
  points.select(1, 0).add_(10.0);
  torch::Tensor assign = points.slice(1, 1, 1 + E).argmax(1);
  std::vector<int64_t> unassigned;
  torch::Tensor means = train::keysFromAssignment(points, assign, E, unassigned);
  torch::Tensor unit = points / points.norm(2, {1}, true);
  auto agreement = [&](const torch::Tensor &keys) {
    return unit.matmul(keys.t()).argmax(1).eq(assign).to(torch::kFloat64).mean().item<double>();
  };
  const double before = agreement(means);
  torch::Tensor fitted = train::fitKeys(points, assign, means, 0.01, 300);
  EXPECT_TRUE(torch::allclose(fitted.norm(2, {1}), torch::ones({E}, torch::kFloat64)));
  EXPECT_GT(agreement(fitted), 0.95) << "means alone: " << before;
  EXPECT_GE(agreement(fitted), before);
}

namespace {

const char *kFashion = "/usr/share/datasets/fashion-mnist";

// The agreement each phase start logged, by phase (2, 3, ...).
std::map<int64_t, double> agreements(const std::string &log, const std::string &layer) {
  std::map<int64_t, double> out;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    auto e = rt::parseJson(line);
    if (!e.ok() || !e->find("event") || *e->find("event")->getString() != "phase_start")
      continue;
    if (const rt::JsonValue *a = e->find("router_agreement"); a && a->find(layer))
      out[e->find("phase")->intValue()] = a->find(layer)->numberValue();
  }
  return out;
}

std::string model(const std::string &first, const std::string &phases) {
  return std::string("model: trans\n"
                     "input: {channels: 1, height: 28, width: 28}\n"
                     "layers:\n"
                     "  - conv: {name: stem, out_channels: 8, kernel: 3, padding: 1}\n"
                     "  - relu: {}\n"
                     "  - pce: {name: block, patch: 7, experts: 4, out_channels: 16, router: ") +
         first + "}\nhead: {kind: classification, classes: 10}\n"
                 "training:\n"
                 "  batch: 64\n"
                 "  validation: 512\n"
                 "  phases:\n" +
         phases;
}

std::string trainRun(const std::string &name, const std::string &yaml) {
  const std::string dir = freshDir("transition-" + name);
  writeFile(dir + "/m.yaml", yaml);
  ProcessResult r = runTrain({dir + "/m.yaml", "-o", dir + "/run", "--data", kFashion, "--limit-train", "1280"});
  EXPECT_EQ(r.status, 0) << r.output;
  std::string log = readFile(dir + "/run/log.jsonl");
  if (r.status == 0)
    fs::remove_all(dir);
  return log;
}

} // namespace

TEST(RouterTransition, PhaseSwitchesKeepThePreviousRouting) {
  PCE_SKIP_WITHOUT_COMPILER();
  if (!fs::exists(kFashion))
    GTEST_SKIP() << "no Fashion-MNIST at " << kFashion;
  // position -> cosine (keys fitted to the table's assignment) -> MLP
  // (warm-started from the keys).
  auto a = agreements(trainRun("position-cosine-mlp",
                               model("{kind: position, sigma: 0.5}",
                                     "    - {epochs: 1, router: {kind: position, sigma: 0.5}}\n"
                                     "    - {epochs: 1, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: ema}\n"
                                     "    - {epochs: 1, router: {kind: mlp, hidden: 32, top_k: 1}}\n")),
                      "block");
  ASSERT_EQ(a.size(), 2u);
  // The keys' means alone keep about 3 patches in 4 (the fresh embedding
  // mixes position with content); fitted, over 99% (99.7-99.9% at seeds 1-3).
  EXPECT_GE(a[2], 0.95);
  EXPECT_GT(a[3], 0.99); // keys -> MLP reproduces the keys exactly
  // position -> MLP: the MLP starts as the cosine router of fitted keys.
  auto b = agreements(trainRun("position-mlp",
                               model("{kind: position, sigma: 0.5}",
                                     "    - {epochs: 1, router: {kind: position, sigma: 0.5}}\n"
                                     "    - {epochs: 1, router: {kind: mlp, hidden: 32, top_k: 1}}\n")),
                      "block");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_GE(b[2], 0.95);
  // uniform -> cosine: nothing to keep (K-Means keys), nothing measured.
  auto c = agreements(trainRun("uniform-cosine",
                               model("{kind: uniform}",
                                     "    - {epochs: 1, router: {kind: uniform}}\n"
                                     "    - {epochs: 1, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: ema}\n")),
                      "block");
  EXPECT_TRUE(c.empty());
}

TEST(RouterTransition, KeyedAndMlpSwitchesKeepThePreviousRouting) {
  PCE_SKIP_WITHOUT_COMPILER();
  if (!fs::exists(kFashion))
    GTEST_SKIP() << "no Fashion-MNIST at " << kFashion;
  // cosine + EMA -> MLP (from the keys) -> cosine + EMA (keys fitted to the
  // MLP's assignment) -> learnable keys (inherited) -> Gumbel (inherited).
  auto a = agreements(trainRun("keys-mlp-keys-gumbel",
                               model("{kind: cosine, tau: 0.1, top_k: 1}",
                                     "    - {epochs: 1, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: ema}\n"
                                     "    - {epochs: 1, router: {kind: mlp, hidden: 32, top_k: 1}}\n"
                                     "    - {epochs: 1, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: ema}\n"
                                     "    - {epochs: 1, router: {kind: cosine, tau: 0.1, top_k: 1}, keys: learnable}\n"
                                     "    - {epochs: 1, router: {kind: gumbel, tau: 0.1, top_k: 1}, keys: learnable}\n")),
                      "block");
  ASSERT_EQ(a.size(), 4u);
  for (const auto &[phase, share] : a)
    std::printf("phase %lld starts keeping %.2f%% of the top-1 experts\n", static_cast<long long>(phase),
                100 * share);
  EXPECT_GT(a[2], 0.99); // keys -> MLP
  EXPECT_GE(a[3], 0.95); // MLP -> keys fitted to its assignment
  EXPECT_GT(a[4], 0.999); // the same keys, now parameters
  EXPECT_GT(a[5], 0.999); // Gumbel routes by the same logits outside training
}
