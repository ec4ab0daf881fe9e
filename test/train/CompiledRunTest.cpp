//===- CompiledRunTest.cpp - pce-train through compiled layers, end to end ===//
//
// A small model with one PCE layer and three phases (cosine router with EMA
// keys, an MLP router, concat mix with squeeze-excitation), compiled with
// pce-compile --training and trained by pce-train: every phase runs, the
// final weights classify the test file under pce-run with exactly
// pce-train's accuracy, and a resumed run ends with the same weights as an
// uninterrupted one. Skipped while pce-compile cannot build the artifacts.
//
//===----------------------------------------------------------------------===//

#include "TrainTestSupport.h"

#include "runtime/Json.h"
#include "runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

using namespace pce;
using namespace pce::traintest;
namespace fs = std::filesystem;

namespace {

const char *kModel = R"(model: tinyp
input: {channels: 1, height: 8, width: 8}
layers:
  - conv: {name: stem, out_channels: 4, kernel: 3, padding: 1}
  - batch_norm: {name: stem_bn}
  - relu: {name: act}
  - pce: {name: block, patch: 4, experts: 2, out_channels: 4, router: {kind: cosine, tau: 0.5, top_k: 1}}
  - residual: {name: skip, from: act}
  - max_pool: {name: pool, kernel: 2}
head: {kind: classification, classes: 10}
training:
  batch: 8
  validation: 16
  key_init: {images: 16, iterations: 20}
  load_balance: 0.01
  augment: {crop_padding: 1, hflip: true}
  phases:
    - {epochs: 1, keys: ema}
    - {epochs: 1, router: {kind: mlp, hidden: 8, top_k: 1}}
    - {epochs: 1, mix: concat, attention: se}
)";

class CompiledRun : public ::testing::Test {
protected:
  // One compile per process; the pid keeps ctest's parallel processes apart.
  static void SetUpTestSuite() {
    dir_ = freshDir("compiled-run-" + std::to_string(::getpid()));
    writeDataset(dir_ + "/data", 96, 40);
    const char *env = std::getenv("PCE_TRAIN_TEST_COMPILE");
    std::string compiler = env && *env ? env : PCE_COMPILE_BIN;
    if (compiler.empty() || !fs::exists(compiler)) {
      why_ = "no pce-compile (" + compiler + ")";
      return;
    }
    writeFile(dir_ + "/tinyp.yaml", kModel);
    ProcessResult compiled = runCommand({compiler, dir_ + "/tinyp.yaml", "--training", "-o", dir_ + "/compiled"});
    writeFile(dir_ + "/compile.log", compiled.output);
    if (compiled.status != 0)
      why_ = "pce-compile --training failed: see " + dir_ + "/compile.log";
  }
  static void TearDownTestSuite() {
    if (!::testing::UnitTest::GetInstance()->current_test_suite()->Failed())
      fs::remove_all(dir_);
  }
  void SetUp() override {
    if (!why_.empty())
      GTEST_SKIP() << why_;
  }
  static std::vector<std::string> args(const std::string &run, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {dir_ + "/tinyp.yaml", "-o",     dir_ + "/" + run,
                                  "--compiled",         dir_ + "/compiled", "--data", dir_ + "/data"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::string dir_, why_;
};
std::string CompiledRun::dir_, CompiledRun::why_;

} // namespace

TEST_F(CompiledRun, AllPhasesTrainAndPceRunAgrees) {
  ProcessResult r = runTrain(args("run"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char *text : {"phase 1 starts", "block: keys from K-Means", "phase 2 starts", "block.router.mlp.w1",
                           "phase 3 starts", "block.mix.proj.weight", "H(block)", "I(block;pos)"})
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  auto summary = rt::parseJson(readFile(dir_ + "/run/summary.json"));
  ASSERT_TRUE(summary.ok());
  const rt::JsonValue *phases = summary->find("phases");
  ASSERT_TRUE(phases && phases->getArray() && phases->getArray()->size() == 3);
  for (const rt::JsonValue &p : *phases->getArray()) {
    const rt::JsonValue *layers = p.find("layers");
    ASSERT_TRUE(layers && layers->find("block")) << rt::writeJson(p);
    double h = layers->find("block")->find("entropy_normalized")->numberValue();
    EXPECT_GE(h, 0.0);
    EXPECT_LE(h, 1.0 + 1e-9);
    // I(expert; position) after the phase's first and last epoch.
    for (const rt::JsonValue *l : {layers, p.find("first_epoch_layers")}) {
      ASSERT_TRUE(l && l->find("block") && l->find("block")->find("mi_position")) << rt::writeJson(p);
      double mi = l->find("block")->find("mi_position")->find("normalized")->numberValue();
      EXPECT_GE(mi, 0.0);
      EXPECT_LE(mi, 1.0 + 1e-9);
    }
  }

  // Each phase's routing report on the validation split, named as pce-run names it.
  for (int q = 1; q <= 3; ++q) {
    const std::string report = dir_ + "/run/report/phase" + std::to_string(q);
    auto json = rt::parseJson(readFile(report + "/report.json"));
    ASSERT_TRUE(json.ok()) << report;
    EXPECT_EQ(*json->find("layers")->getArray()->at(0).find("name")->getString(), "block.routing");
    EXPECT_FALSE(json->find("clusters")->isNull());
    EXPECT_NE(readFile(report + "/report.html").find("<section id=\"training\">"), std::string::npos);
#if PCE_HAVE_DATASETS
    // Validation images with their routing: up to 3 of each of the first 4
    // classes there, and one exemplar per route cluster.
    const rt::JsonValue *examples = json->find("examples");
    ASSERT_TRUE(examples && examples->getArray()) << report;
    EXPECT_GE(examples->getArray()->size(), 3u) << report;
    EXPECT_LE(examples->getArray()->size(), 12u) << report;
    const rt::JsonValue *exemplars = json->find("cluster_exemplars");
    ASSERT_TRUE(exemplars && exemplars->getArray()) << report;
    EXPECT_EQ(exemplars->getArray()->size(), json->find("clusters")->find("exemplars")->getArray()->size());
    EXPECT_NE(readFile(report + "/report.html").find("data:image/png;base64,"), std::string::npos);
#endif
  }
  EXPECT_NE(r.output.find("routing report of phase 3: "), std::string::npos) << r.output;

  // The weights hold exactly what phase 3's forward reads; pce-run agrees.
  auto weights = rt::readSafetensors(dir_ + "/run/weights.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.error();
  EXPECT_NE(weights->find("block.attention.se.w1"), nullptr);
  EXPECT_EQ(weights->find("block.router.keys"), nullptr) << "phase 3's MLP router has no keys";
  // How training normalised the images travels with the weights and the summary.
  EXPECT_EQ(weights->metadata["pce.data.format"], "idx");
  EXPECT_EQ(weights->metadata["pce.data.mean"], "0.286");
  EXPECT_EQ(weights->metadata["pce.data.std"], "0.353");
  ASSERT_NE(summary->find("data"), nullptr);
  EXPECT_EQ(*summary->find("data")->find("format")->getString(), "idx");
  // pce-run applies it without being told (no warning on stdout or stderr),
  // and an explicit --normalize that agrees gives the same numbers.
  auto pceRun = [&](const std::string &normalize) {
    std::vector<std::string> argv = {PCE_RUN_BIN, dir_ + "/compiled/phase3", "--weights",
                                     dir_ + "/run/weights.safetensors", "--idx-images",
                                     dir_ + "/data/t10k-images-idx3-ubyte.gz", "--idx-labels",
                                     dir_ + "/data/t10k-labels-idx1-ubyte.gz"};
    if (!normalize.empty())
      argv.insert(argv.end(), {"--normalize", normalize});
    ProcessResult r = runCommand(argv);
    EXPECT_EQ(r.status, 0) << r.output;
    return r.output;
  };
  for (const std::string &normalize : {std::string(), std::string("0.2860,0.3530")}) {
    std::string out = pceRun(normalize);
    double top1 = -1, top5 = -1;
    ASSERT_EQ(std::sscanf(out.c_str(), "accuracy: top-1 %lf%%  top-5 %lf%%", &top1, &top5), 2)
        << "--normalize '" << normalize << "': " << out;
    EXPECT_NEAR(top1, 100 * summary->find("test_top1")->numberValue(), 0.005) << normalize;
    EXPECT_NEAR(top5, 100 * summary->find("test_top5")->numberValue(), 0.005) << normalize;
  }
  // One that disagrees is used, with a warning naming both.
  EXPECT_NE(pceRun("0.5,0.5").find("pce-run: warning: --normalize 0.5,0.5 differs from the normalisation the "
                                   "weights were trained with (mean 0.286, std 0.353); using --normalize"),
            std::string::npos);
}

TEST_F(CompiledRun, ResumeGivesTheUninterruptedRun) {
  ProcessResult whole = runTrain(args("whole"));
  ASSERT_EQ(whole.status, 0) << whole.output;
  ProcessResult a = runTrain(args("parts", {"--stop-after", "1"}));
  ASSERT_EQ(a.status, 0) << a.output;
  ProcessResult b = runTrain(args("parts", {"--resume", "--stop-after", "1"}));
  ASSERT_EQ(b.status, 0) << b.output;
  ProcessResult c = runTrain(args("parts", {"--resume"}));
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_EQ(readFile(dir_ + "/whole/weights.safetensors"), readFile(dir_ + "/parts/weights.safetensors"));
}
