//===- BaselinesTest.cpp - the CoordConv and CondConv twins ---------------===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"
#include "runtime/Safetensors.h"
#include "runtime/reference/Reference.h"
#include "runtime/train/CondConv.h"
#include "runtime/train/CoordConv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <filesystem>

using namespace pce;
using namespace pce::traintest;

// The planes are the coordinate channels of each pixel's own patch, as the
// reference patchify writes them (SEMANTICS.md §1), laid back on the map.
TEST(CoordConv, PlanesAreThePatchesCoordinateChannels) {
  for (auto [H, W, ph, pw] : {std::array<int64_t, 4>{28, 28, 7, 7}, {12, 8, 4, 2}, {6, 6, 6, 6}, {5, 3, 1, 1}}) {
    SCOPED_TRACE(std::to_string(H) + "x" + std::to_string(W) + " / " + std::to_string(ph) + "x" + std::to_string(pw));
    ref::PatchifyConfig cfg;
    cfg.ph = ph, cfg.pw = pw;
    torch::Tensor patches = ref::patchify(torch::zeros({1, 1, H, W}, torch::kFloat64), cfg); // [1,P,5,ph,pw]
    torch::Tensor want = ref::unpatchify(patches.narrow(2, 1, 4), H, W);                    // [1,4,H,W]
    torch::Tensor got = train::coordinatePlanes(H, W, ph, pw, torch::TensorOptions().dtype(torch::kFloat64));
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_TRUE(torch::equal(got, want)) << (got - want).abs().max().item<double>();
  }
  EXPECT_THROW(train::coordinatePlanes(8, 8, 3, 4, torch::TensorOptions()), std::runtime_error);
}

// CondConv against its definition, image by image in float64: sigmoid of
// the router on the pooled image, the kernels mixed, one convolution.
TEST(CondConv, EachImageIsConvolvedWithItsOwnMixture) {
  torch::manual_seed(11);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  for (auto [B, Cin, Co, E, k, H, W] : {std::array<int64_t, 7>{3, 2, 4, 3, 3, 6, 5}, {1, 5, 2, 4, 1, 4, 4},
                                        {4, 3, 3, 2, 5, 7, 7}}) {
    torch::Tensor x = torch::randn({B, Cin, H, W}, f64), kernels = torch::randn({E, Co, Cin, k, k}, f64);
    torch::Tensor rw = torch::randn({E, Cin}, f64), rb = torch::randn({E}, f64);
    train::CondConvOutput got = train::condConv(x, kernels, rw, rb);
    ASSERT_EQ(got.y.sizes(), (std::vector<int64_t>{B, Co, H, W}));
    for (int64_t b = 0; b < B; ++b) {
      torch::Tensor r = torch::sigmoid(torch::mv(rw, x[b].mean({1, 2})) + rb);
      EXPECT_LE((got.routing[b] - r).abs().max().item<double>(), 1e-12);
      torch::Tensor w = torch::zeros({Co, Cin, k, k}, f64);
      for (int64_t e = 0; e < E; ++e)
        w += r[e] * kernels[e];
      torch::Tensor want = torch::conv2d(x[b].unsqueeze(0), w, {}, 1, k / 2)[0];
      EXPECT_LE((got.y[b] - want).abs().max().item<double>(), 1e-10) << "image " << b;
    }
  }
  // Gradients through the grouped convolution against central differences
  // of <y, g>, on a few entries of every input.
  std::vector<torch::Tensor> in = {torch::randn({2, 2, 4, 4}, f64), torch::randn({3, 2, 2, 3, 3}, f64),
                                   torch::randn({3, 2}, f64), torch::randn({3}, f64)};
  for (auto &t : in)
    t.requires_grad_(true);
  torch::Tensor g = torch::randn({2, 2, 4, 4}, f64);
  auto objective = [&] { return (train::condConv(in[0], in[1], in[2], in[3]).y * g).sum(); };
  objective().backward();
  for (auto &t : in) {
    torch::Tensor flat = t.detach().view({-1}), grad = t.grad().view({-1});
    for (int64_t j : {int64_t(0), flat.numel() / 2, flat.numel() - 1}) {
      const double h = 1e-6, saved = flat[j].item<double>();
      torch::NoGradGuard noGrad;
      flat[j] = saved + h;
      const double up = objective().item<double>();
      flat[j] = saved - h;
      const double down = objective().item<double>();
      flat[j] = saved;
      EXPECT_NEAR(grad[j].item<double>(), (up - down) / (2 * h), 1e-6 * (1 + std::abs(grad[j].item<double>())));
    }
  }
}

using Fixture = PlanFixture;

TEST(CoordConv, TwinTrainsAndResumesOnlyAsItself) {
  Fixture f("coordconv");
  ProcessResult r = runTrain(f.args("run", {"--coordconv", "--stop-after", "1"}));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("(coordconv baseline)"), std::string::npos) << r.output;
  // A run with the other baseline does not continue it.
  ProcessResult other = runTrain(f.args("run", {"--dense", "--resume"}));
  EXPECT_EQ(other.status, 1) << other.output;
  EXPECT_NE(other.output.find("is from a run with --coordconv"), std::string::npos) << other.output;
  ProcessResult resumed = runTrain(f.args("run", {"--coordconv", "--resume"}));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  auto summary = rt::parseJson(readFile(f.dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(*summary->find("baseline")->getString(), "coordconv");
  // One convolution over the 4 channels and the 4 coordinate planes, the experts' 3x3 kernel.
  auto weights = rt::readSafetensors(f.dir + "/run/weights.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.error();
  const auto *w = weights->find("block.coordconv.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{4, 8, 3, 3}));
  EXPECT_EQ(weights->find("block.dense.weight"), nullptr);
  // Two baselines at once is a usage error.
  EXPECT_EQ(runTrain(f.args("both", {"--coordconv", "--dense"})).status, 2);
  EXPECT_EQ(runTrain(f.args("both2", {"--coordconv", "--condconv"})).status, 2);
}

TEST(CondConv, TwinTrainsAndResumesOnlyAsItself) {
  Fixture f("condconv");
  ProcessResult r = runTrain(f.args("run", {"--condconv", "--stop-after", "1"}));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("(condconv baseline)"), std::string::npos) << r.output;
  ProcessResult other = runTrain(f.args("run", {"--coordconv", "--resume"}));
  EXPECT_EQ(other.status, 1) << other.output;
  EXPECT_NE(other.output.find("is from a run with --condconv"), std::string::npos) << other.output;
  ProcessResult resumed = runTrain(f.args("run", {"--condconv", "--resume"}));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  auto summary = rt::parseJson(readFile(f.dir + "/run/summary.json"));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(*summary->find("baseline")->getString(), "condconv");
  auto weights = rt::readSafetensors(f.dir + "/run/weights.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.error();
  const auto *k = weights->find("block.condconv.kernel");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{2, 4, 4, 3, 3})); // E = 2 experts of the plan's PCE layer
  ASSERT_NE(weights->find("block.condconv.router.weight"), nullptr);
}

TEST(CoordConv, APlanWithoutPatchSizesIsAClearError) {
  Fixture f("coordconv-old-plan");
  std::string plan = readFile(f.compiled + "/training.json");
  const std::string keys = ", \"patch\": [4, 4], \"kernel\": [3, 3], \"experts\": 2";
  ASSERT_NE(plan.find(keys), std::string::npos);
  plan.erase(plan.find(keys), keys.size());
  writeFile(f.compiled + "/training.json", plan);
  ProcessResult r = runTrain(f.args("run", {"--coordconv"}));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("layer 'block': the training plan has no patch size"), std::string::npos) << r.output;
  EXPECT_EQ(runTrain(f.args("dense", {"--dense"})).status, 0) << "the dense twin needs no patch size";
}
