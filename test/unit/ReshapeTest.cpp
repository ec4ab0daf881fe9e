//===- ReshapeTest.cpp - pce-reshape's expert surgery ---------------------===//
//
// The rules of tools/pce-reshape/Reshape.h on tensors built by hand: pruning
// expert 1 of 3 cuts every per-expert tensor (and only those) as expected;
// splitting under an MLP router leaves every other expert's softmax weight
// unchanged and gives the pair exactly the old weight (float64); a concat
// projection's column blocks follow the experts.
//
//===----------------------------------------------------------------------===//

#include "tools/pce-reshape/Reshape.h"
#include "tools/pce-reshape/RunFiles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace pce;
using namespace pce::reshape;
using rt::HostTensor;
using rt::ParamRole;

namespace {

// An f32 tensor whose element i is base + i (every entry distinct).
HostTensor counting(std::vector<int64_t> shape, float base = 0) {
  HostTensor t = std::move(*HostTensor::create(rt::DType::F32, std::move(shape)));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.f32()[i] = base + float(i);
  return t;
}

HostTensor random(std::vector<int64_t> shape, std::mt19937_64 &rng) {
  HostTensor t = std::move(*HostTensor::create(rt::DType::F32, std::move(shape)));
  std::normal_distribution<float> n(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.f32()[i] = n(rng);
  return t;
}

// The elements of t as a vector.
std::vector<float> values(const HostTensor &t) { return {t.f32(), t.f32() + t.numel()}; }

// Rows [E, rest...] of `old` in the order `rows`: what a dim-0 cut must give.
std::vector<float> rowsOf(const HostTensor &old, const std::vector<int64_t> &rows) {
  const int64_t per = old.numel() / old.shape[0];
  std::vector<float> out;
  for (int64_t r : rows)
    out.insert(out.end(), old.f32() + r * per, old.f32() + (r + 1) * per);
  return out;
}

constexpr int64_t E = 3, Co = 2, Cin = 2, K = 3, D = 4, Hd = 5, CoOut = 2;

// A layer "l" with every kind of parameter a pce layer can have (a real one
// has keys or an MLP, not both: the surgery does not care), plus another
// layer's tensor that must not change.
struct Layer {
  std::map<std::string, HostTensor> tensors;
  std::vector<LayerParam> params;
  void add(const std::string &name, ParamRole role, HostTensor t) {
    tensors[name] = std::move(t);
    params.push_back({name, role});
  }
};

Layer makeLayer(std::mt19937_64 &rng) {
  Layer l;
  l.add("l.embed.weight", ParamRole::EmbedWeight, counting({D, Cin}, 1000));
  l.add("l.embed.bias", ParamRole::EmbedBias, counting({D}, 2000));
  l.add("l.router.keys", ParamRole::RouterKeys, counting({E, D}, 100));
  l.add("l.router.mlp.w1", ParamRole::RouterMlpWeight, random({Hd, D}, rng));
  l.add("l.router.mlp.b1", ParamRole::RouterMlpBias, random({Hd}, rng));
  l.add("l.router.mlp.w2", ParamRole::RouterMlpWeight, random({E, Hd}, rng));
  l.add("l.router.mlp.b2", ParamRole::RouterMlpBias, random({E}, rng));
  l.add("l.experts.kernel", ParamRole::ExpertKernel, random({E, Co, Cin, K, K}, rng));
  l.add("l.experts.bn.gamma", ParamRole::BnGamma, counting({E, Co}, 10));
  l.add("l.experts.bn.beta", ParamRole::BnBeta, counting({E, Co}, 20));
  l.add("l.experts.bn.running_mean", ParamRole::BnRunningMean, counting({E, Co}, 30));
  l.add("l.experts.bn.running_var", ParamRole::BnRunningVar, counting({E, Co}, 40));
  l.add("l.mix.proj.weight", ParamRole::MixProjWeight, counting({CoOut, E * Co}, 500));
  l.add("l.mix.proj.bias", ParamRole::MixProjBias, counting({CoOut}, 600));
  l.add("l.attention.se.w1", ParamRole::SeWeight, counting({1, CoOut}, 700));
  l.tensors["other.weight"] = counting({E, 7}, 900);
  return l;
}

// Softmax of w2 h + b2 in float64.
std::vector<double> routerWeights(const HostTensor &w2, const HostTensor &b2, const std::vector<double> &h) {
  const int64_t n = w2.shape[0];
  std::vector<double> logits(n);
  double top = -INFINITY, sum = 0;
  for (int64_t e = 0; e < n; ++e) {
    logits[e] = double(b2.f32()[e]);
    for (int64_t j = 0; j < Hd; ++j)
      logits[e] += double(w2.f32()[e * Hd + j]) * h[j];
    top = std::max(top, logits[e]);
  }
  for (double &x : logits)
    sum += (x = std::exp(x - top));
  for (double &x : logits)
    x /= sum;
  return logits;
}

} // namespace

TEST(Reshape, DecidesPruneSplitAndKeep) {
  Thresholds t;
  t.pruneUsageBelow = 0.05;
  t.splitUsageAbove = 0.5;
  LayerDecision d = decideExperts({0.3, 0.01, 0.6, 0.09}, nullptr, t);
  EXPECT_EQ(d.map.before, 4);
  EXPECT_EQ(d.map.origin, (std::vector<int64_t>{0, 2, 3, 2}));
  EXPECT_EQ(d.map.pruned, (std::vector<int64_t>{1}));
  ASSERT_EQ(d.map.splits.size(), 1u);
  EXPECT_EQ(d.map.splits[0].expert, 2);
  EXPECT_EQ(d.map.splits[0].stays, 1);
  EXPECT_EQ(d.map.splits[0].copy, 3);
  EXPECT_EQ(d.experts[1].action, Action::Prune);
  EXPECT_EQ(d.experts[1].why, "usage 1.0% < 5.0%");
  EXPECT_EQ(d.experts[2].action, Action::Split);
  EXPECT_TRUE(d.note.empty());

  // Entropy splits too, when the report has it.
  Thresholds h;
  h.splitEntropyAbove = 0.8;
  std::vector<double> entropy = {0.9, 0.1};
  LayerDecision byEntropy = decideExperts({0.5, 0.5}, &entropy, h);
  EXPECT_EQ(byEntropy.map.origin, (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(byEntropy.experts[0].why, "entropy 0.9 > 0.8");
}

TEST(Reshape, NeverPrunesEveryExpert) {
  Thresholds t;
  t.pruneUsageBelow = 0.9;
  LayerDecision d = decideExperts({0.3, 0.7}, nullptr, t);
  EXPECT_EQ(d.map.origin, (std::vector<int64_t>{1}));
  EXPECT_EQ(d.map.pruned, (std::vector<int64_t>{0}));
  EXPECT_NE(d.note.find("would remove all 2 experts; kept expert 1"), std::string::npos) << d.note;
}

TEST(Reshape, PruneExpertOneOfThreeCutsEveryPerExpertTensor) {
  std::mt19937_64 rng(7);
  Layer l = makeLayer(rng);
  const std::map<std::string, HostTensor> old = l.tensors;
  Thresholds t;
  t.pruneUsageBelow = 0.01;
  ExpertMap map = decideExperts({0.6, 0.001, 0.399}, nullptr, t).map;
  ASSERT_EQ(map.origin, (std::vector<int64_t>{0, 2}));
  std::mt19937_64 noise(1);
  ASSERT_TRUE(reshapeLayer(l.tensors, l.params, map, {}, noise).ok());

  // Dim 0 tensors: experts 0 and 2, their old rows exactly.
  for (const char *name : {"l.router.keys", "l.router.mlp.w2", "l.router.mlp.b2", "l.experts.kernel",
                           "l.experts.bn.gamma", "l.experts.bn.beta", "l.experts.bn.running_mean",
                           "l.experts.bn.running_var"}) {
    const HostTensor &now = l.tensors.at(name);
    EXPECT_EQ(now.shape[0], 2) << name;
    EXPECT_EQ(values(now), rowsOf(old.at(name), {0, 2})) << name;
  }
  // By hand: gamma was 10..15 as [3,2]; keys 100.. as [3,4].
  EXPECT_EQ(values(l.tensors.at("l.experts.bn.gamma")), (std::vector<float>{10, 11, 14, 15}));
  EXPECT_EQ(values(l.tensors.at("l.router.keys")),
            (std::vector<float>{100, 101, 102, 103, 108, 109, 110, 111}));
  // The projection [2, 3*2] keeps its column blocks 0 and 2 of each row.
  EXPECT_EQ(l.tensors.at("l.mix.proj.weight").shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(values(l.tensors.at("l.mix.proj.weight")),
            (std::vector<float>{500, 501, 504, 505, 506, 507, 510, 511}));
  // Everything without an expert dimension, and other layers, bit for bit.
  for (const char *name : {"l.embed.weight", "l.embed.bias", "l.router.mlp.w1", "l.router.mlp.b1",
                           "l.mix.proj.bias", "l.attention.se.w1", "other.weight"}) {
    const HostTensor &now = l.tensors.at(name), &was = old.at(name);
    EXPECT_EQ(now.shape, was.shape) << name;
    EXPECT_EQ(std::memcmp(now.data.data(), was.data.data(), was.nbytes()), 0) << name;
  }
}

TEST(Reshape, SplitUnderMlpRouterKeepsEveryOtherWeightAndSharesTheMass) {
  std::mt19937_64 rng(11);
  Layer l = makeLayer(rng);
  const std::map<std::string, HostTensor> old = l.tensors;
  Thresholds t;
  t.splitUsageAbove = 0.5;
  ExpertMap map = decideExperts({0.2, 0.7, 0.1}, nullptr, t).map;
  ASSERT_EQ(map.origin, (std::vector<int64_t>{0, 1, 2, 1}));
  std::mt19937_64 noise(3);
  SurgeryOptions options;
  options.perturb = 1e-2;
  ASSERT_TRUE(reshapeLayer(l.tensors, l.params, map, options, noise).ok());

  const HostTensor &w2 = l.tensors.at("l.router.mlp.w2"), &b2 = l.tensors.at("l.router.mlp.b2");
  ASSERT_EQ(w2.shape, (std::vector<int64_t>{4, Hd}));
  std::normal_distribution<double> n(0, 2);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> h(Hd);
    for (double &x : h)
      x = n(rng);
    std::vector<double> before = routerWeights(old.at("l.router.mlp.w2"), old.at("l.router.mlp.b2"), h);
    std::vector<double> after = routerWeights(w2, b2, h);
    EXPECT_NEAR(after[0], before[0], 1e-6);
    EXPECT_NEAR(after[2], before[2], 1e-6);
    EXPECT_NEAR(after[1] + after[3], before[1], 1e-6);
    EXPECT_NEAR(after[1], after[3], 1e-6);
  }

  // The original keeps its kernel bit for bit; the copy is near it, not equal.
  const HostTensor &k = l.tensors.at("l.experts.kernel");
  const int64_t per = Co * Cin * K * K;
  EXPECT_EQ(std::vector<float>(k.f32(), k.f32() + 3 * per), rowsOf(old.at("l.experts.kernel"), {0, 1, 2}));
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < per; ++i) {
    double a = k.f32()[3 * per + i], b = k.f32()[1 * per + i];
    diff += (a - b) * (a - b);
    norm += b * b;
  }
  EXPECT_GT(std::sqrt(diff / norm), 0.3e-2);
  EXPECT_LT(std::sqrt(diff / norm), 3e-2);
  // BN statistics and keys copied exactly; the projection's block 1 twice.
  EXPECT_EQ(values(l.tensors.at("l.experts.bn.running_var")),
            (std::vector<float>{40, 41, 42, 43, 44, 45, 42, 43}));
  EXPECT_EQ(values(l.tensors.at("l.router.keys")), rowsOf(old.at("l.router.keys"), {0, 1, 2, 1}));
  EXPECT_EQ(values(l.tensors.at("l.mix.proj.weight")),
            (std::vector<float>{500, 501, 502, 503, 504, 505, 502, 503,
                                506, 507, 508, 509, 510, 511, 508, 509}));
}

TEST(Reshape, SplitAndPruneTogether) {
  std::mt19937_64 rng(5);
  Layer l = makeLayer(rng);
  Thresholds t;
  t.pruneUsageBelow = 0.05;
  t.splitUsageAbove = 0.5;
  ExpertMap map = decideExperts({0.01, 0.39, 0.6}, nullptr, t).map;
  ASSERT_EQ(map.origin, (std::vector<int64_t>{1, 2, 2}));
  std::mt19937_64 noise(3);
  ASSERT_TRUE(reshapeLayer(l.tensors, l.params, map, {}, noise).ok());
  // Columns of experts 1, 2, 2: [2,3,4,5,4,5] of row 0 (+500), row 1 (+506).
  EXPECT_EQ(values(l.tensors.at("l.mix.proj.weight")),
            (std::vector<float>{502, 503, 504, 505, 504, 505, 508, 509, 510, 511, 510, 511}));
  EXPECT_EQ(values(l.tensors.at("l.experts.bn.beta")), (std::vector<float>{22, 23, 24, 25, 24, 25}));
}

TEST(Reshape, RefusesWhatItCannotReshapeAndChangesNothing) {
  std::mt19937_64 rng(2);
  ExpertMap map = decideExperts({0.0, 0.5, 0.5}, nullptr, Thresholds{0.1, {}, {}}).map;
  auto check = [&](Layer l, const std::string &expected) {
    const std::map<std::string, HostTensor> old = l.tensors;
    std::mt19937_64 noise(0);
    rt::Status s = reshapeLayer(l.tensors, l.params, map, {}, noise);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find(expected), std::string::npos) << s.message();
    for (const auto &[name, t] : old)
      EXPECT_EQ(l.tensors.at(name).shape, t.shape) << name;
  };
  Layer conv = makeLayer(rng);
  conv.add("l.stem.weight", ParamRole::ConvKernel, counting({4, 2, 3, 3}));
  check(conv, "has role conv_kernel, which a pce layer does not have");
  Layer unknown = makeLayer(rng);
  unknown.tensors["l.extra"] = counting({3});
  unknown.params.push_back({"l.extra", std::nullopt});
  check(unknown, "has no role in the manifest");
  Layer third = makeLayer(rng);
  third.add("l.router.mlp.w3", ParamRole::RouterMlpWeight, counting({3, 5}));
  check(third, "neither the MLP router's w1 nor w2");
  Layer wrong = makeLayer(rng);
  wrong.add("l.experts.scale", ParamRole::ExpertScale, counting({4, Co}));
  check(wrong, "has shape [4,2], expected [E, Co] with E = 3");
  Layer badProj = makeLayer(rng);
  badProj.tensors["l.mix.proj.weight"] = counting({CoOut, 5});
  check(badProj, "expected [Co', E*Co] (Co = 2)");
}

TEST(Reshape, TableAndJsonSayWhatHappened) {
  Thresholds t;
  t.pruneUsageBelow = 0.05;
  t.splitUsageAbove = 0.5;
  LayerOutcome l{"layer0", "mlp", decideExperts({0.01, 0.39, 0.6}, nullptr, t)};
  std::string table = reshapeTable({l});
  EXPECT_NE(table.find("layer0                0    1.00%  prune (usage 1.0% < 5.0%)"), std::string::npos)
      << table;
  EXPECT_NE(table.find("layer0                1   39.00%  keep -> 0"), std::string::npos) << table;
  EXPECT_NE(table.find("layer0                2   60.00%  split -> 1, 2 (usage 60.0% > 50.0%)"),
            std::string::npos)
      << table;
  std::string json = rt::writeJson(reshapeJson("RUN", "m.yaml", 3, 0, 0.01, {l}));
  EXPECT_NE(json.find("\"kept\":[1,2,2],\"pruned\":[0],\"split\":[{\"expert\":2,\"into\":[1,2]}]"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"refit_keys\":false"), std::string::npos) << json;
}
