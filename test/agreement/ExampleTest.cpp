//===- ExampleTest.cpp - examples/ compiled and run with pce-run ----------===//
//
// The shipped example model compiled with pce-compile, run standalone with the
// pce-run binary on random weights (safetensors) and a random batch (.npy),
// and checked against the reference: two PCE layers, then the head written
// here with plain torch ops.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"
#include "runtime/Safetensors.h"
#include "test/agreement/Harness.h"
#include "runtime/reference/Reference.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

using namespace pce;
using namespace pce::agree;
namespace fs = std::filesystem;

namespace {
torch::Tensor randomParam(const std::string &name, std::vector<int64_t> shape) {
  auto f64 = torch::kFloat64;
  if (name.find("running_var") != std::string::npos)
    return roundToFloat(0.5 + torch::rand(shape, f64));
  if (name.find("gamma") != std::string::npos)
    return roundToFloat(1 + 0.3 * torch::randn(shape, f64));
  double fanIn = shape.size() > 1 ? double(torch::empty(shape).numel() / shape[0]) : 10.0;
  return roundToFloat(torch::randn(shape, f64) / std::sqrt(fanIn));
}


torch::Tensor fromNpy(const std::string &path) {
  auto h = rt::readNpy(path);
  EXPECT_TRUE(h.ok()) << h.error();
  return h.ok() ? fromHost(*h) : torch::Tensor();
}
} // namespace

TEST(Example, FashionModelRunsStandaloneAndMatchesTheReference) {
  freshSeed();
  fs::path dir = fs::path(PCE_AGREEMENT_WORK_DIR) / "example";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string model = std::string(PCE_SOURCE_DIR) + "/examples/fashion_pce.mlir";
  std::string artifactDir = (dir / "artifact").string();
  ASSERT_EQ(std::system((std::string(PCE_COMPILE_BIN) + " " + model + " --target cpu -o " +
                         artifactDir).c_str()),
            0);
  auto artifact = rt::Artifact::open(artifactDir);
  ASSERT_TRUE(artifact.ok()) << artifact.error();

  // Random weights for every parameter the manifest names.
  std::map<std::string, torch::Tensor> w;
  std::map<std::string, rt::HostTensor> weights;
  for (const rt::TensorSpec &p : artifact->manifest().parameters) {
    w[p.name] = randomParam(p.name, p.shape);
    weights[p.name] = toHost(w[p.name]);
  }
  ASSERT_TRUE(rt::writeSafetensors((dir / "w.safetensors").string(), weights, {}).ok());
  auto x = roundToFloat(torch::rand({16, 1, 28, 28}, torch::kFloat64));
  ASSERT_TRUE(rt::writeNpy((dir / "x.npy").string(), toHost(x)).ok());

  std::string command = std::string(PCE_RUN_BIN) + " " + artifactDir + " --weights " +
                        (dir / "w.safetensors").string() + " --input " +
                        (dir / "x.npy").string() + " --output " + (dir / "y.npy").string() +
                        " --routing " + (dir / "routing").string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  // The reference: layer0 (cosine, top-1), layer1 (mlp, dense), GAP + linear.
  ref::LayerConfig c0;
  c0.patch = {7, 7, 1, ref::Halo::Context};
  c0.router.kind = ref::RouterKind::Cosine;
  c0.router.numExperts = 4;
  c0.router.tau = 0.1;
  c0.router.topK = 1;
  ref::LayerParams p0;
  p0.We = w["layer0.embed.weight"];
  p0.be = w["layer0.embed.bias"];
  p0.router.keys = w["layer0.router.keys"];
  p0.experts = {w["layer0.experts.kernel"], w["layer0.experts.bn.gamma"],
                w["layer0.experts.bn.beta"], w["layer0.experts.bn.running_mean"],
                w["layer0.experts.bn.running_var"]};
  ref::LayerConfig c1;
  c1.patch = {4, 4, 1, ref::Halo::Context};
  c1.router.kind = ref::RouterKind::Mlp;
  c1.router.normalizeInput = true;
  c1.router.numExperts = 4;
  ref::LayerParams p1;
  p1.We = w["layer1.embed.weight"];
  p1.be = w["layer1.embed.bias"];
  p1.router.W1 = w["layer1.router.mlp.w1"];
  p1.router.b1 = w["layer1.router.mlp.b1"];
  p1.router.W2 = w["layer1.router.mlp.w2"];
  p1.router.b2 = w["layer1.router.mlp.b2"];
  p1.experts = {w["layer1.experts.kernel"], w["layer1.experts.bn.gamma"],
                w["layer1.experts.bn.beta"], w["layer1.experts.bn.running_mean"],
                w["layer1.experts.bn.running_var"]};
  auto r0 = ref::layer(x, c0, p0);
  auto r1 = ref::layer(r0.out, c1, p1);
  auto pooled = r1.out.mean({2, 3});
  auto logits = pooled.matmul(w["head.fc.weight"]) + w["head.fc.bias"];

  double error = relativeError(fromNpy((dir / "y.npy").string()), logits);
  report("example fashion_pce logits via pce-run", error);
  EXPECT_LE(error, kTolerance);
  double routing0 = relativeError(fromNpy((dir / "routing/layer0.routing.npy").string()), r0.weights);
  double routing1 = relativeError(fromNpy((dir / "routing/layer1.routing.npy").string()), r1.weights);
  report("example routing layer0", routing0);
  report("example routing layer1", routing1);
  EXPECT_LE(routing0, kTolerance);
  EXPECT_LE(routing1, kTolerance);
}
