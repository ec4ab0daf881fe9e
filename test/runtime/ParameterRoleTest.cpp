//===- ParameterRoleTest.cpp - roles, initialisers, the manifest's record -===//
//
// runtime/ParameterRole.h: every role's initialiser from its layout (the
// fan-ins written out here independently), sampling against the moments it
// promises, and the manifest's `role` / `init` fields read, written and
// refused when wrong.
//
//===----------------------------------------------------------------------===//

#include "runtime/Manifest.h"
#include "runtime/ParameterRole.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace pce::rt;
using namespace pce::rt::test;
using Kind = Initialiser::Kind;

TEST(ParameterRole, NamesRoundTrip) {
  ASSERT_EQ(paramRoleNames().size(), 22u);
  for (const std::string &name : paramRoleNames()) {
    auto role = parseParamRole(name);
    ASSERT_TRUE(role) << name;
    EXPECT_EQ(paramRoleName(*role), name);
  }
  EXPECT_FALSE(parseParamRole("kernel"));
  EXPECT_FALSE(parseParamRole(""));
  for (const char *kind : {"constant", "he_normal", "unit_rows", "identity_blocks"})
    EXPECT_EQ(initialiserKindName(*parseInitialiserKind(kind)), std::string(kind));
  EXPECT_FALSE(parseInitialiserKind("xavier"));
}

TEST(ParameterRole, FanInFollowsEachLayout) {
  auto he = [](ParamRole role, std::vector<int64_t> shape) {
    auto init = initialiserFor(role, shape);
    EXPECT_TRUE(init.ok()) << init.error();
    EXPECT_EQ(init->kind, Kind::HeNormal);
    return init->fanIn;
  };
  EXPECT_EQ(he(ParamRole::ConvKernel, {8, 3, 5, 5}), 3 * 5 * 5);      // [Co, Cin, kh, kw]
  EXPECT_EQ(he(ParamRole::ExpertKernel, {4, 8, 5, 3, 3}), 5 * 3 * 3); // [E, Co, Cin, k, k]
  EXPECT_EQ(he(ParamRole::LinearWeight, {100, 10}), 100);             // [in, out]
  EXPECT_EQ(he(ParamRole::EmbedWeight, {6, 12}), 12);                 // [out, in]
  EXPECT_EQ(he(ParamRole::RouterMlpWeight, {32, 105}), 105);
  EXPECT_EQ(he(ParamRole::SeWeight, {16, 64}), 64);
  // A projection that does not keep the channels has no sum to start from.
  EXPECT_EQ(he(ParamRole::MixProjWeight, {4, 32}), 32);
}

TEST(ParameterRole, ConstantsKeysProjectionAndTemperature) {
  auto value = [](ParamRole role) {
    auto init = initialiserFor(role, {3});
    EXPECT_EQ(init->kind, Kind::Constant);
    return init->value;
  };
  for (ParamRole one : {ParamRole::BnGamma, ParamRole::BnRunningVar, ParamRole::ExpertScale})
    EXPECT_EQ(value(one), 1.0) << paramRoleName(one);
  for (ParamRole zero : {ParamRole::ConvBias, ParamRole::LinearBias, ParamRole::BnBeta, ParamRole::BnRunningMean,
                         ParamRole::EmbedBias, ParamRole::RouterMlpBias, ParamRole::ExpertShift,
                         ParamRole::MixProjBias, ParamRole::SeBias})
    EXPECT_EQ(value(zero), 0.0) << paramRoleName(zero);
  // A detection head's heatmaps start at probability 0.1 (logit -2.197...).
  EXPECT_DOUBLE_EQ(1 / (1 + std::exp(-value(ParamRole::HeatmapBias))), kHeatmapPrior);
  EXPECT_EQ(initialiserFor(ParamRole::RouterKeys, {4, 105})->kind, Kind::UnitRows);
  InitContext four;
  four.experts = 4;
  EXPECT_EQ(initialiserFor(ParamRole::MixProjWeight, {8, 32}, four)->kind, Kind::IdentityBlocks);
  InitContext cold;
  cold.tau = 0.1;
  auto logTau = initialiserFor(ParamRole::RouterLogTau, {}, cold);
  ASSERT_TRUE(logTau.ok()) << logTau.error();
  EXPECT_DOUBLE_EQ(logTau->value, std::log(0.1));
}

TEST(ParameterRole, ShapesThatCannotBeTheRoleAreErrors) {
  auto error = [](ParamRole role, std::vector<int64_t> shape, InitContext context = {}) {
    auto init = initialiserFor(role, shape, context);
    EXPECT_FALSE(init.ok()) << paramRoleName(role);
    return init.ok() ? std::string() : init.error();
  };
  EXPECT_EQ(error(ParamRole::ConvKernel, {8, 3, 5}), "a conv_kernel has rank 4, found rank 3");
  EXPECT_EQ(error(ParamRole::ExpertKernel, {8, 3, 5, 5}), "a expert_kernel has rank 5, found rank 4");
  error(ParamRole::RouterKeys, {4});
  error(ParamRole::RouterLogTau, {1});
  InitContext hot;
  hot.tau = 0;
  EXPECT_NE(error(ParamRole::RouterLogTau, {}, hot).find("positive tau"), std::string::npos);
}

TEST(ParameterRole, SamplesHaveThePromisedMoments) {
  std::mt19937_64 rng(11);
  HostTensor t = *HostTensor::create(DType::F32, {64, 32, 3, 3});
  ASSERT_TRUE(initialise(*initialiserFor(ParamRole::ConvKernel, t.shape), t, rng));
  double sum = 0, squares = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    sum += t.f32()[i];
    squares += double(t.f32()[i]) * t.f32()[i];
  }
  double mean = sum / t.numel(), sd = std::sqrt(squares / t.numel() - mean * mean);
  double expected = std::sqrt(2.0 / (32 * 3 * 3));
  EXPECT_NEAR(sd, expected, 0.03 * expected);
  EXPECT_NEAR(mean, 0.0, 0.03 * expected);

  HostTensor keys = *HostTensor::create(DType::F64, {5, 40});
  ASSERT_TRUE(initialise(*initialiserFor(ParamRole::RouterKeys, keys.shape), keys, rng));
  for (int64_t r = 0; r < 5; ++r) {
    double norm = 0;
    for (int64_t c = 0; c < 40; ++c)
      norm += keys.f64()[r * 40 + c] * keys.f64()[r * 40 + c];
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-12) << "row " << r;
  }

  HostTensor proj = *HostTensor::create(DType::F32, {2, 6});
  ASSERT_TRUE(initialise({Kind::IdentityBlocks, 0, 1}, proj, rng));
  const float expectedProj[] = {1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1};
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(proj.f32()[i], expectedProj[i]) << i;

  HostTensor gamma = *HostTensor::create(DType::F32, {3});
  ASSERT_TRUE(initialise({Kind::Constant, 1.0, 1}, gamma, rng));
  EXPECT_EQ(gamma.f32()[2], 1.0f);
  HostTensor ints = *HostTensor::create(DType::I64, {3});
  EXPECT_FALSE(initialise({Kind::Constant, 1.0, 1}, ints, rng));
}

TEST(ParameterRole, SameSeedSameSamples) {
  auto draw = [](uint64_t seed) {
    std::mt19937_64 rng(seed);
    HostTensor t = *HostTensor::create(DType::F32, {16});
    EXPECT_TRUE(initialise({Kind::HeNormal, 0, 4}, t, rng));
    return std::vector<float>(t.f32(), t.f32() + 16);
  };
  EXPECT_EQ(draw(3), draw(3));
  EXPECT_NE(draw(3), draw(4));
}

TEST(ManifestRoles, RoleAndInitialiserRoundTrip) {
  Manifest m = fakeManifest();
  m.parameters[0].role = ParamRole::ConvBias;
  m.parameters[0].init = Initialiser{Kind::Constant, 0.5, 1};
  m.parameters[1].role = ParamRole::EmbedWeight;
  m.parameters[1].init = Initialiser{Kind::HeNormal, 0, 7};
  auto text = writeManifestText(m);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_NE(text->find("\"role\": \"conv_bias\""), std::string::npos) << *text;
  EXPECT_NE(text->find("\"fan_in\": 7"), std::string::npos) << *text;
  auto back = parseManifest(*text, "m.json");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->parameters[0].role, ParamRole::ConvBias);
  EXPECT_EQ(back->parameters[0].init, (Initialiser{Kind::Constant, 0.5, 1}));
  EXPECT_EQ(back->parameters[1].init, (Initialiser{Kind::HeNormal, 0, 7}));
  EXPECT_EQ(*writeManifestText(*back), *text);
}

TEST(ManifestRoles, BadRolesAndInitialisersAreErrors) {
  Manifest m = fakeManifest();
  m.parameters[0].role = ParamRole::ConvBias;
  m.parameters[0].init = Initialiser{Kind::Constant, 0, 1};
  const std::string text = *writeManifestText(m);
  auto expectError = [&](const std::string &from, const std::string &to, const std::string &message) {
    std::string bad = text;
    size_t at = bad.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    bad.replace(at, from.size(), to);
    auto parsed = parseManifest(bad, "a/manifest.json");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().find(message), std::string::npos) << parsed.error();
  };
  expectError("\"conv_bias\"", "\"convbias\"", "parameters[0].role: unknown role 'convbias' (expected one of conv_kernel");
  expectError("\"role\": \"conv_bias\",", "", "parameters[0]: a parameter has both a role and an initialiser, or neither");
  expectError("\"constant\"", "\"xavier\"", "parameters[0].init.kind: expected one of constant, he_normal");
  expectError("\"value\": 0.0", "\"value\": \"zero\"", "parameters[0].init.value: expected a number, found a string");
  expectError("\"kind\": \"constant\"", "\"kind\": \"he_normal\", \"fan_in\": 0",
              "parameters[0].init: fan_in must be at least 1, found 0");
  expectError("\"kind\": \"constant\"", "\"kind\": \"identity_blocks\"",
              "parameters[0].init: identity_blocks needs a [r, k*r] parameter, found [3]");
  expectError("\"value\": 0.0", "\"value\": 0.0, \"seed\": 1", "unknown key 'seed'");
}
