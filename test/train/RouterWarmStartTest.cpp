//===- RouterWarmStartTest.cpp - an MLP router started as the keys' one ---===//

#include "runtime/train/RouterWarmStart.h"
#include "runtime/reference/Reference.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <utility>

using namespace pce::train;

namespace {

struct Case {
  torch::Tensor keys, emb;
  MlpRouter mlp;
};

/// Keys [E, D], embeddings [N, D] with a large common component (as pooled
/// embeddings have), and a randomly initialised MLP of `hidden` units.
Case draw(int64_t E, int64_t D, int64_t hidden, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto f64 = torch::kFloat64;
  Case c;
  c.keys = torch::randn({E, D}, gen, f64) * 3.0;
  torch::Tensor common = torch::randn({1, D}, gen, f64) * 5.0;
  c.emb = common + torch::randn({300, D}, gen, f64);
  c.mlp = {torch::randn({hidden, D}, gen, f64), torch::randn({hidden}, gen, f64),
           torch::randn({E, hidden}, gen, f64), torch::randn({E}, gen, f64)};
  return c;
}

torch::Tensor mlpLogits(const MlpRouter &m, const torch::Tensor &emb) {
  torch::Tensor h = torch::relu(torch::matmul(emb, m.w1.t()) + m.b1);
  return torch::matmul(h, m.w2.t()) + m.b2;
}

/// The float64 reference's routing weights of `c.emb` [1, N, E]: by the
/// cosine router of `c.keys` at `tau` (first), and by the MLP `c.mlp` on unit
/// inputs, with a cosine head at `tau` when `head`, without the ReLU when
/// `c.mlp.linearHidden` (second).
std::pair<torch::Tensor, torch::Tensor> referenceRoutings(const Case &c, double tau, bool head) {
  pce::ref::RouterConfig cosine;
  cosine.kind = pce::ref::RouterKind::Cosine;
  cosine.numExperts = c.keys.size(0);
  cosine.tau = tau;
  pce::ref::RouterConfig mlp = cosine;
  mlp.kind = pce::ref::RouterKind::Mlp;
  mlp.normalizeInput = true;
  mlp.cosineHead = head;
  mlp.linearHidden = c.mlp.linearHidden;
  pce::ref::RouterParams keys, net;
  keys.keys = c.keys;
  net.W1 = c.mlp.w1;
  net.b1 = c.mlp.b1;
  net.W2 = c.mlp.w2;
  net.b2 = c.mlp.b2;
  torch::Tensor emb = c.emb.unsqueeze(0); // [1, N, D]
  return {pce::ref::routeDense(emb, cosine, keys), pce::ref::routeDense(emb, mlp, net)};
}

} // namespace

TEST(RouterWarmStart, LogitsAreScaledKeyProductsAndTheTop1ChoiceIsKept) {
  for (uint64_t seed : {3u, 17u, 2024u}) {
    Case c = draw(/*E=*/4, /*D=*/24, /*hidden=*/13, seed);
    const double tau = 0.1;
    const double norm = c.emb.norm(2, {1}).mean().item<double>();
    ASSERT_EQ(warmStartMlpRouter(c.keys, tau, norm, c.mlp), "");

    torch::Tensor unit = c.keys / c.keys.norm(2, {1}, true);
    torch::Tensor want = torch::matmul(c.emb, unit.t()) / (tau * norm);
    torch::Tensor got = mlpLogits(c.mlp, c.emb);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-12 * want.abs().max().item<double>())
        << "seed " << seed;
    // The cosine router's choice: argmax of <emb, k_e> / (|emb| |k_e|).
    torch::Tensor cosine = torch::matmul(c.emb / c.emb.norm(2, {1}, true), unit.t());
    EXPECT_TRUE(torch::equal(got.argmax(1), cosine.argmax(1))) << "seed " << seed;
    // On average the logits match the cosine router's (cos / tau).
    double ratio = (got.abs().mean() / (cosine / tau).abs().mean()).item<double>();
    EXPECT_NEAR(ratio, 1.0, 0.1) << "seed " << seed;
    // Hidden units past 2E keep their random input weights.
    EXPECT_GT(c.mlp.w1.narrow(0, 8, 5).abs().sum().item<double>(), 0.0);
    EXPECT_EQ(c.mlp.w2.narrow(1, 8, 5).abs().sum().item<double>(), 0.0);
  }
}

// With normalize_input the MLP reads emb / |emb| and is passed mean norm 1:
// its weights are then exactly the cosine router's (the float64 reference's
// routers, both ways, on the same embeddings).
TEST(RouterWarmStart, OnUnitInputsTheMlpRouterIsTheCosineRouter) {
  for (uint64_t seed : {4u, 99u}) {
    Case c = draw(/*E=*/5, /*D=*/21, /*hidden=*/12, seed);
    const double tau = 0.2;
    ASSERT_EQ(warmStartMlpRouter(c.keys, tau, 1.0, c.mlp), "");
    auto [want, got] = referenceRoutings(c, tau, /*head=*/false);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-12) << "seed " << seed;
  }
}

TEST(RouterWarmStart, RefusesTooFewHiddenUnitsOrMismatchedShapesAndChangesNothing) {
  Case small = draw(4, 24, /*hidden=*/7, 5);
  torch::Tensor before = small.mlp.w1.clone();
  EXPECT_NE(warmStartMlpRouter(small.keys, 0.1, 1.0, small.mlp).find("fewer than 2E = 8"),
            std::string::npos);
  EXPECT_TRUE(torch::equal(before, small.mlp.w1));

  Case wrong = draw(4, 24, 16, 6);
  before = wrong.mlp.w2.clone();
  torch::Tensor otherKeys = torch::randn({4, 20}, torch::kFloat64);
  EXPECT_NE(warmStartMlpRouter(otherKeys, 0.1, 1.0, wrong.mlp).find("do not match"), std::string::npos);
  EXPECT_TRUE(torch::equal(before, wrong.mlp.w2));
  EXPECT_NE(warmStartMlpRouter(wrong.keys, 0.0, 1.0, wrong.mlp).find("positive"), std::string::npos);
}

// A cosine head (no b2) starts with unit rows (h_e - h_{E+e}) / sqrt(2):
// the float64 reference's MLP router with that head picks, for every patch,
// the expert the cosine router of the keys picks, and its logits are
// <u, k_e> / (sqrt(2) |h| tau).
TEST(RouterWarmStart, ACosineHeadKeepsTheKeysTop1Choice) {
  for (uint64_t seed : {8u, 123u}) {
    Case c = draw(/*E=*/4, /*D=*/20, /*hidden=*/11, seed);
    c.mlp.b2 = torch::Tensor();
    const double tau = 0.1;
    ASSERT_EQ(warmStartMlpRouter(c.keys, tau, 1.0, c.mlp), "");
    EXPECT_LT((c.mlp.w2.norm(2, {1}) - 1).abs().max().item<double>(), 1e-12);

    auto [want, got] = referenceRoutings(c, tau, /*head=*/true);
    EXPECT_TRUE(torch::equal(got.argmax(-1), want.argmax(-1))) << "seed " << seed;

    torch::Tensor u = c.emb / c.emb.norm(2, {1}, true);
    torch::Tensor h = torch::relu(torch::matmul(u, c.mlp.w1.t()) + c.mlp.b1);
    torch::Tensor unit = c.keys / c.keys.norm(2, {1}, true);
    torch::Tensor logits = torch::matmul(u, unit.t()) / (std::sqrt(2.0) * h.norm(2, {1}, true) * tau);
    EXPECT_LT((got[0] - torch::softmax(logits, -1)).abs().max().item<double>(), 1e-12) << "seed " << seed;
  }
}

// Without the ReLU (linear_hidden) h_e - h_{E+e} = 2 <u, k_e>: the halved
// rows make the plain head the cosine router again, exactly.
TEST(RouterWarmStart, ALinearHiddenLayerIsTheCosineRouterToo) {
  Case c = draw(/*E=*/3, /*D=*/16, /*hidden=*/9, 31);
  c.mlp.linearHidden = true;
  ASSERT_EQ(warmStartMlpRouter(c.keys, 0.25, 1.0, c.mlp), "");
  auto [want, got] = referenceRoutings(c, 0.25, /*head=*/false);
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-12);
}
