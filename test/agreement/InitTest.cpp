//===- InitTest.cpp - pce-init writes usable initial weights --------------===//

#include "runtime/Safetensors.h"
#include "test/agreement/Harness.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace pce;
using namespace pce::agree;
namespace fs = std::filesystem;

TEST(Init, EveryParameterByItsRoleAndDeterministicPerSeed) {
  fs::path dir = fs::path(PCE_AGREEMENT_WORK_DIR) / "init";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string out;
  ASSERT_EQ(runCommand(std::string(PCE_COMPILE_BIN) + " " + PCE_SOURCE_DIR +
                           "/examples/fashion_pce.mlir -o " + (dir / "art").string(),
                       out),
            0)
      << out;
  auto init = [&](const std::string &file, int seed) {
    std::string log;
    EXPECT_EQ(runCommand(std::string(PCE_INIT_BIN) + " " + (dir / "art").string() + " -o " +
                             (dir / file).string() + " --seed " + std::to_string(seed),
                         log),
              0)
        << log;
    auto w = rt::readSafetensors((dir / file).string());
    EXPECT_TRUE(w.ok()) << w.error();
    return std::move(*w);
  };
  auto a = init("a.safetensors", 7), b = init("b.safetensors", 7), c = init("c.safetensors", 8);

  auto artifact = rt::Artifact::open((dir / "art").string());
  ASSERT_TRUE(artifact.ok()) << artifact.error();
  ASSERT_TRUE(artifact->bindParameters(a).ok()); // every parameter, right shape and dtype
  for (const rt::TensorSpec &p : artifact->manifest().parameters) {
    torch::Tensor t = fromHost(*a.find(p.name));
    EXPECT_TRUE(torch::equal(t, fromHost(*b.find(p.name)))) << p.name << " differs for one seed";
    if (p.name.find("gamma") != std::string::npos || p.name.find("running_var") != std::string::npos)
      EXPECT_TRUE(torch::all(t == 1).item<bool>()) << p.name;
    else if (p.name.find("bias") != std::string::npos || p.name.find("beta") != std::string::npos ||
             p.name.find("running_mean") != std::string::npos)
      EXPECT_TRUE(torch::all(t == 0).item<bool>()) << p.name;
    else if (p.name.find("keys") != std::string::npos)
      EXPECT_LT((t.norm(2, 1) - 1).abs().max().item<double>(), 1e-5) << p.name;
    else if (p.name.find("kernel") != std::string::npos) {
      double expected = std::sqrt(2.0 / double(t.numel() / t.size(0)));
      EXPECT_NEAR(t.std().item<double>(), expected, 0.25 * expected) << p.name;
      EXPECT_FALSE(torch::equal(t, fromHost(*c.find(p.name)))) << p.name << " same for two seeds";
    }
  }
}
