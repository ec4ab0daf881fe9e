//===- BadInputTest.cpp - what pce-run says when inputs do not fit --------===//
//
// A weights file missing a tensor, an input of another shape, and an
// artifact whose library was compiled for another shape: each an error
// message naming the thing and a non-zero exit code, never a crash.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"
#include "runtime/Safetensors.h"
#include "test/agreement/Harness.h"
#include "runtime/reference/Layers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace pce;
using namespace pce::agree;
namespace fs = std::filesystem;

namespace {
/// A one-layer model for a batch of `batch` 1x8x8 images, compiled into
/// `dir`; returns its parameter values.
std::map<std::string, torch::Tensor> compileLayer(const fs::path &dir, int64_t batch) {
  ModelText model;
  std::vector<int64_t> xs = {batch, 1, 8, 8};
  std::string x = model.input("x", torch::randn(xs, torch::kFloat64));
  LayerSpec spec;
  BuiltLayer layer = addLayer(model, "layer0", x, xs, spec);
  model.output("y", layer.ssa, layer.shape);
  fs::create_directories(dir);
  std::ofstream(dir / "model.mlir") << model.text();
  std::string out;
  EXPECT_EQ(runCommand(std::string(PCE_COMPILE_BIN) + " " + (dir / "model.mlir").string() +
                           " -o " + (dir / "artifact").string(),
                       out),
            0)
      << out;
  auto values = model.values();
  values.erase("x");
  return values;
}


void writeWeights(const fs::path &path, const std::map<std::string, torch::Tensor> &values,
                  const std::string &skip = "") {
  std::map<std::string, rt::HostTensor> tensors;
  for (const auto &[name, value] : values)
    if (name != skip)
      tensors[name] = toHost(value);
  ASSERT_TRUE(rt::writeSafetensors(path.string(), tensors, {}).ok());
}

std::string pceRun(const fs::path &artifact, const fs::path &weights, const fs::path &input,
                   const fs::path &output, int &rc) {
  std::string out;
  rc = runCommand(std::string(PCE_RUN_BIN) + " " + artifact.string() + " --weights " +
                      weights.string() + " --input " + input.string() + " --output " +
                      output.string(),
                  out);
  return out;
}

class BadInput : public ::testing::Test {
protected:
  void SetUp() override {
    freshSeed();
    dir = fs::path(PCE_AGREEMENT_WORK_DIR) /
          ("bad_input_" + std::string(::testing::UnitTest::GetInstance()
                                          ->current_test_info()
                                          ->name()));
    fs::remove_all(dir);
    params = compileLayer(dir / "b2", 2);
    writeWeights(dir / "w.safetensors", params);
    ASSERT_TRUE(rt::writeNpy((dir / "x.npy").string(),
                             toHost(torch::randn({2, 1, 8, 8}, torch::kFloat64)))
                    .ok());
  }
  fs::path dir;
  std::map<std::string, torch::Tensor> params;
};
} // namespace

TEST_F(BadInput, TheGoodCaseRuns) {
  int rc = -1;
  std::string out = pceRun(dir / "b2/artifact", dir / "w.safetensors", dir / "x.npy",
                           dir / "y.npy", rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(fs::exists(dir / "y.npy"));
}

TEST_F(BadInput, WeightsFileMissingATensorNamesIt) {
  writeWeights(dir / "partial.safetensors", params, "layer0.router.keys");
  int rc = -1;
  std::string out = pceRun(dir / "b2/artifact", dir / "partial.safetensors", dir / "x.npy",
                           dir / "y.npy", rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("layer0.router.keys"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir / "y.npy"));
}

TEST_F(BadInput, InputOfAnotherShapeNamesTheInputAndBothShapes) {
  ASSERT_TRUE(rt::writeNpy((dir / "x3.npy").string(),
                           toHost(torch::randn({3, 1, 8, 8}, torch::kFloat64)))
                  .ok());
  int rc = -1;
  std::string out = pceRun(dir / "b2/artifact", dir / "w.safetensors", dir / "x3.npy",
                           dir / "y.npy", rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("'x'"), std::string::npos) << out;
  EXPECT_NE(out.find("[2,1,8,8]"), std::string::npos) << out;
  EXPECT_NE(out.find("[3,1,8,8]"), std::string::npos) << out;
}

TEST_F(BadInput, LibraryCompiledForAnotherShapeIsRefused) {
  // The batch-3 library in the batch-2 artifact: the manifest no longer
  // describes the code, and the signature check says so.
  compileLayer(dir / "b3", 3);
  fs::copy_file(dir / "b3/artifact/model.so", dir / "b2/artifact/model.so",
                fs::copy_options::overwrite_existing);
  int rc = -1;
  std::string out = pceRun(dir / "b2/artifact", dir / "w.safetensors", dir / "x.npy",
                           dir / "y.npy", rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("forward"), std::string::npos) << out;
  EXPECT_NE(out.find("signature"), std::string::npos) << out;
}
