//===- RouterStatsTest.cpp - load balancing, EMA, entropy vs SEMANTICS.md -===//

#include "runtime/torch/RouterStats.h"

#include "runtime/reference/Reference.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace pce::torchrt;

TEST(LoadBalancing, OneWhenBalanced) {
  // Four patches, two experts, each chosen twice with the same mean weight.
  torch::Tensor w = torch::tensor({{0.7, 0.3}, {0.2, 0.8}, {0.9, 0.1}, {0.4, 0.6}}, torch::kFloat64).view({1, 4, 2});
  // f = (1/2, 1/2), m = (0.55, 0.45): E * sum f m = 2 * 0.5 = 1.
  EXPECT_NEAR(loadBalancingLoss(w).item<double>(), 1.0, 1e-12);
  torch::Tensor uniform = torch::full({2, 3, 4}, 0.25, torch::kFloat64);
  EXPECT_NEAR(loadBalancingLoss(uniform).item<double>(), 1.0, 1e-12);
}

TEST(LoadBalancing, EWhenEveryPatchChoosesOneExpertWithWeightOne) {
  torch::Tensor w = torch::zeros({3, 5, 4}, torch::kFloat64);
  w.select(2, 0).fill_(1.0);
  EXPECT_NEAR(loadBalancingLoss(w).item<double>(), 4.0, 1e-12);
}

TEST(LoadBalancing, MatchesReferenceValueAndGradient) {
  torch::Tensor logits = torch::randn({3, 7, 5}, torch::kFloat64);
  torch::Tensor w1 = torch::softmax(logits, -1).detach().requires_grad_(true);
  torch::Tensor w2 = w1.detach().clone().requires_grad_(true);
  torch::Tensor mine = loadBalancingLoss(w1), ref = pce::ref::loadBalancingLoss(w2);
  EXPECT_NEAR(mine.item<double>(), ref.item<double>(), 1e-12);
  mine.backward();
  ref.backward();
  EXPECT_TRUE(torch::allclose(w1.grad(), w2.grad(), 0, 1e-12));
  // The gradient is E * f_e / N for every row: only m_e is differentiated.
  torch::Tensor f = torch::one_hot(w1.detach().reshape({-1, 5}).argmax(1), 5).to(torch::kFloat64).mean(0);
  EXPECT_TRUE(torch::allclose(w1.grad()[0][0], 5.0 * f / 21.0, 0, 1e-12));
}

TEST(EmaKeys, MatchesSemantics) {
  // Two experts, D = 2; patches 0 and 2 choose expert 1, none chooses 0.
  torch::Tensor keys = torch::tensor({{1.0, 0.0}, {0.0, 1.0}});
  torch::Tensor emb = torch::tensor({{{2.0, 4.0}, {9.0, 9.0}, {4.0, 0.0}}});
  torch::Tensor w = torch::tensor({{{0.1, 0.9}, {0.5, 0.5}, {0.3, 0.7}}});
  // Patch 1 ties: the lower expert (0) wins, so expert 0 gets (9, 9).
  torch::Tensor k = keys.clone();
  emaKeyUpdate(k, emb, w, 0.9);
  torch::Tensor expected = torch::tensor({{0.9 * 1.0 + 0.1 * 9.0, 0.1 * 9.0}, {0.1 * 3.0, 0.9 + 0.1 * 2.0}});
  EXPECT_TRUE(torch::allclose(k, expected, 0, 1e-6)) << k;
  // An expert no patch chose keeps its key.
  torch::Tensor k2 = keys.clone();
  emaKeyUpdate(k2, emb, torch::tensor({{{0.0, 1.0}, {0.0, 1.0}, {0.0, 1.0}}}), 0.5);
  EXPECT_TRUE(torch::equal(k2[0], keys[0]));
}

TEST(EmaKeys, MatchesReference) {
  torch::Tensor keys = torch::randn({4, 6}, torch::kFloat64);
  torch::Tensor emb = torch::randn({2, 9, 6}, torch::kFloat64);
  torch::Tensor w = torch::softmax(torch::randn({2, 9, 4}, torch::kFloat64), -1);
  torch::Tensor mine = keys.clone();
  emaKeyUpdate(mine, emb, w, 0.99);
  EXPECT_TRUE(torch::allclose(mine, pce::ref::emaKeyUpdate(keys, emb, w, 0.99), 0, 1e-12));
}

TEST(RoutingStats, EntropyAndUsageMatchReference) {
  torch::Tensor w = torch::softmax(torch::randn({3, 8, 4}, torch::kFloat64), -1);
  w[0][0] = torch::tensor({1.0, 0.0, 0.0, 0.0}, torch::kFloat64); // 0 log 0 = 0
  RoutingStats s(4);
  s.add(w.slice(0, 0, 1));
  s.add(w.slice(0, 1, 3)); // accumulates over batches
  auto ref = pce::ref::routerEntropy(w);
  EXPECT_NEAR(s.entropy(), ref.mean, 1e-12);
  EXPECT_NEAR(s.normalizedEntropy(), ref.normalized, 1e-12);
  torch::Tensor usage = pce::ref::expertUsage(w);
  for (int64_t e = 0; e < 4; ++e)
    EXPECT_NEAR(s.usage()[e], usage[e].item<double>(), 1e-12);
  RoutingStats uniform(4);
  uniform.add(torch::full({5, 4}, 0.25));
  EXPECT_NEAR(uniform.normalizedEntropy(), 1.0, 1e-6);
}

// I(expert; position) from an independent formulation: the joint
// distribution of (position, argmax expert) as probabilities, summed as
// p(x, y) log(p(x, y) / (p(x) p(y))).
static double referencePositionInformation(const std::vector<torch::Tensor> &batches) {
  const int64_t P = batches[0].size(1), E = batches[0].size(2);
  std::vector<double> joint(static_cast<size_t>(P * E), 0.0);
  double n = 0;
  for (const torch::Tensor &w : batches) {
    auto a = w.accessor<float, 3>();
    for (int64_t b = 0; b < w.size(0); ++b)
      for (int64_t p = 0; p < P; ++p) {
        int64_t best = 0;
        for (int64_t e = 1; e < E; ++e)
          if (a[b][p][e] > a[b][p][best])
            best = e;
        joint[static_cast<size_t>(p * E + best)] += 1;
        n += 1;
      }
  }
  std::vector<double> px(static_cast<size_t>(P), 0.0), py(static_cast<size_t>(E), 0.0);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t e = 0; e < E; ++e) {
      px[static_cast<size_t>(p)] += joint[static_cast<size_t>(p * E + e)] / n;
      py[static_cast<size_t>(e)] += joint[static_cast<size_t>(p * E + e)] / n;
    }
  double mi = 0;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t e = 0; e < E; ++e) {
      double pj = joint[static_cast<size_t>(p * E + e)] / n;
      if (pj > 0)
        mi += pj * std::log(pj / (px[static_cast<size_t>(p)] * py[static_cast<size_t>(e)]));
    }
  return mi;
}

TEST(RoutingStats, PositionInformationMatchesReference) {
  for (auto [P, E] : {std::pair<int64_t, int64_t>{16, 4}, {4, 3}, {9, 2}}) {
    RoutingStats s(E);
    std::vector<torch::Tensor> batches;
    for (int64_t B : {3, 5}) {
      // Skewed towards expert p mod E, so the information is neither 0 nor maximal.
      torch::Tensor logits = torch::randn({B, P, E});
      logits += 1.5 * torch::one_hot(torch::arange(P).remainder(E), E).to(torch::kFloat32).unsqueeze(0);
      batches.push_back(torch::softmax(logits, -1));
      s.add(batches.back());
    }
    auto mi = s.positionInformation();
    ASSERT_TRUE(mi.has_value());
    const double want = referencePositionInformation(batches);
    EXPECT_NEAR(mi->nats, want, 1e-12) << "P " << P << " E " << E;
    EXPECT_NEAR(mi->normalized, want / std::log(static_cast<double>(std::min(P, E))), 1e-12);
  }
}

TEST(RoutingStats, PositionInformationOfPositionAndUniformRouting) {
  // Patch p always to expert p mod 4, P = 8: I = log 4, normalised 1.
  RoutingStats byPosition(4);
  byPosition.add(torch::one_hot(torch::arange(8).remainder(4), 4).to(torch::kFloat32).unsqueeze(0).repeat({3, 1, 1}));
  ASSERT_TRUE(byPosition.positionInformation().has_value());
  EXPECT_NEAR(byPosition.positionInformation()->nats, std::log(4.0), 1e-12);
  EXPECT_NEAR(byPosition.positionInformation()->normalized, 1.0, 1e-12);
  // Every patch to expert 0 (uniform weights' argmax): no information.
  RoutingStats uniform(4);
  uniform.add(torch::full({2, 8, 4}, 0.25));
  EXPECT_EQ(uniform.positionInformation()->nats, 0.0);
}

TEST(RoutingStats, PositionInformationNeedsOneGridOfPatches) {
  RoutingStats rows(3);
  rows.add(torch::full({5, 3}, 1.0 / 3)); // no patch axis
  EXPECT_FALSE(rows.positionInformation().has_value());
  RoutingStats s(3);
  s.add(torch::full({2, 4, 3}, 1.0 / 3));
  EXPECT_THROW(s.add(torch::full({2, 5, 3}, 1.0 / 3)), std::runtime_error);
}
