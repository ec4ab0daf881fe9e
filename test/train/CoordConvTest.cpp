//===- CoordConvTest.cpp - the CoordConv twin (pce-train --coordconv) -----===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"
#include "runtime/Safetensors.h"
#include "runtime/reference/Reference.h"
#include "runtime/train/CoordConv.h"

#include <gtest/gtest.h>

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

namespace {
struct Fixture {
  std::string dir, compiled;
  explicit Fixture(const std::string &name) {
    dir = freshDir(name);
    PlanOptions po;
    po.data = dir + "/data";
    writeDataset(po.data, 96, 24);
    compiled = dir + "/compiled";
    writePlan(compiled, po);
  }
  std::vector<std::string> args(const std::string &run, std::vector<std::string> extra) const {
    std::vector<std::string> a = {"unused.yaml", "-o", dir + "/" + run, "--compiled", compiled};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};
} // namespace

TEST(CoordConv, TwinTrainsAndResumesOnlyAsItself) {
  Fixture f("coordconv");
  ProcessResult r = runTrain(f.args("run", {"--coordconv", "--stop-after", "1"}));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("(CoordConv baseline)"), std::string::npos) << r.output;
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
  // Both baselines at once is a usage error.
  EXPECT_EQ(runTrain(f.args("both", {"--coordconv", "--dense"})).status, 2);
}

TEST(CoordConv, APlanWithoutPatchSizesIsAClearError) {
  Fixture f("coordconv-old-plan");
  std::string plan = readFile(f.compiled + "/training.json");
  const std::string keys = ", \"patch\": [4, 4], \"kernel\": [3, 3]";
  ASSERT_NE(plan.find(keys), std::string::npos);
  plan.erase(plan.find(keys), keys.size());
  writeFile(f.compiled + "/training.json", plan);
  ProcessResult r = runTrain(f.args("run", {"--coordconv"}));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("layer 'block': the training plan has no patch size"), std::string::npos) << r.output;
  EXPECT_EQ(runTrain(f.args("dense", {"--dense"})).status, 0) << "the dense twin needs no patch size";
}
