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
  // The fan-in of each layout, written out here (runtime/ParameterRole.cpp
  // has the rule pce-init follows).
  auto fanIn = [](const std::string &name, const torch::Tensor &t) -> int64_t {
    if (name.find("experts.kernel") != std::string::npos)
      return t.size(2) * t.size(3) * t.size(4); // [E, Co, Cin, k, k]
    if (name == "head.fc.weight")
      return t.size(0); // [F, classes], input-major
    return t.numel() / t.size(0); // [out, in, ...]
  };
  for (const rt::ParameterSpec &p : artifact->manifest().parameters) {
    ASSERT_TRUE(p.role && p.init) << p.name << " has no role in the manifest";
    torch::Tensor t = fromHost(*a.find(p.name));
    EXPECT_TRUE(torch::equal(t, fromHost(*b.find(p.name)))) << p.name << " differs for one seed";
    if (p.name.find("gamma") != std::string::npos || p.name.find("running_var") != std::string::npos)
      EXPECT_TRUE(torch::all(t == 1).item<bool>()) << p.name;
    else if (p.name.find("bias") != std::string::npos || p.name.find("beta") != std::string::npos ||
             p.name.find("running_mean") != std::string::npos || p.name.find(".mlp.b") != std::string::npos)
      EXPECT_TRUE(torch::all(t == 0).item<bool>()) << p.name;
    else if (p.name.find("keys") != std::string::npos)
      EXPECT_LT((t.norm(2, 1) - 1).abs().max().item<double>(), 1e-5) << p.name;
    else {
      ASSERT_EQ(p.init->kind, rt::Initialiser::Kind::HeNormal) << p.name;
      EXPECT_EQ(p.init->fanIn, fanIn(p.name, t)) << p.name;
      // Enough samples for the sample moments to be within a quarter.
      double expected = std::sqrt(2.0 / double(fanIn(p.name, t)));
      if (t.numel() >= 1000) {
        EXPECT_NEAR(t.std().item<double>(), expected, 0.25 * expected) << p.name;
        EXPECT_NEAR(t.mean().item<double>(), 0.0, 0.25 * expected) << p.name;
      }
      EXPECT_FALSE(torch::equal(t, fromHost(*c.find(p.name)))) << p.name << " same for two seeds";
    }
  }
}
