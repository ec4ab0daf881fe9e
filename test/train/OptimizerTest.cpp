//===- OptimizerTest.cpp - SGD / AdamW against torch::optim, LR schedules -===//

#include "runtime/train/Optimizer.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace pce::train;

namespace {

// Runs a few steps of a quadratic loss through both optimisers.
void compareWithTorch(const OptimizerConfig &c, torch::optim::Optimizer &reference, torch::Tensor refParam,
                      torch::Tensor myParam) {
  Optimizer mine(c, {{"p", myParam}});
  torch::Tensor target = torch::linspace(-1, 1, myParam.numel()).view(myParam.sizes());
  for (int step = 0; step < 5; ++step) {
    for (auto *pair : {&refParam, &myParam}) {
      torch::Tensor loss = ((*pair - target).pow(3).abs()).sum();
      loss.backward();
    }
    reference.step();
    reference.zero_grad();
    mine.step(c.lr);
    mine.zeroGrad();
    ASSERT_TRUE(torch::allclose(myParam, refParam, 1e-6, 1e-7)) << "step " << step;
  }
  EXPECT_EQ(mine.steps(), 5);
  EXPECT_FALSE(mine.state().empty());
}

} // namespace

TEST(Optimizer, SgdNesterovMatchesTorch) {
  OptimizerConfig c;
  c.kind = "sgd";
  c.lr = 0.1;
  c.momentum = 0.9;
  c.nesterov = true;
  c.weightDecay = 0.01;
  torch::Tensor a = torch::randn({3, 4}).requires_grad_(true), b = a.detach().clone().requires_grad_(true);
  torch::optim::SGD ref({a}, torch::optim::SGDOptions(c.lr).momentum(c.momentum).nesterov(true).weight_decay(c.weightDecay));
  compareWithTorch(c, ref, a, b);
}

TEST(Optimizer, SgdPlainMomentumMatchesTorch) {
  OptimizerConfig c;
  c.kind = "sgd";
  c.lr = 0.05;
  c.momentum = 0.8;
  c.nesterov = false;
  c.weightDecay = 0;
  torch::Tensor a = torch::randn({5}).requires_grad_(true), b = a.detach().clone().requires_grad_(true);
  torch::optim::SGD ref({a}, torch::optim::SGDOptions(c.lr).momentum(c.momentum));
  compareWithTorch(c, ref, a, b);
}

TEST(Optimizer, AdamWMatchesTorch) {
  OptimizerConfig c;
  c.kind = "adamw";
  c.lr = 0.01;
  c.beta1 = 0.9;
  c.beta2 = 0.99;
  c.eps = 1e-8;
  c.weightDecay = 0.05;
  torch::Tensor a = torch::randn({2, 3}).requires_grad_(true), b = a.detach().clone().requires_grad_(true);
  torch::optim::AdamW ref({a}, torch::optim::AdamWOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(
                                   c.weightDecay));
  compareWithTorch(c, ref, a, b);
}

TEST(Optimizer, StateRoundTrip) {
  OptimizerConfig c;
  torch::Tensor p = torch::ones({2}).requires_grad_(true);
  Optimizer o(c, {{"layer.weight", p}});
  (p * p).sum().backward();
  o.step(0.1);
  auto state = o.state();
  ASSERT_EQ(state.count("optim.layer.weight.momentum_buffer"), 1u);
  Optimizer back(c, {{"layer.weight", p}});
  back.loadState(state, o.steps());
  EXPECT_TRUE(torch::equal(back.state().at("optim.layer.weight.momentum_buffer"), state.at("optim.layer.weight.momentum_buffer")));
  EXPECT_THROW(back.loadState({{"optim.other.momentum_buffer", torch::ones({2})}}, 1), std::runtime_error);
}

TEST(Schedule, WarmupCosineAndStep) {
  ScheduleConfig s;
  s.kind = "cosine";
  s.warmupEpochs = 1;
  // 10 steps per epoch, 3 epochs: warm-up over the first 10 steps.
  EXPECT_DOUBLE_EQ(learningRate(s, 1.0, 0, 10, 3), 0.1);
  EXPECT_DOUBLE_EQ(learningRate(s, 1.0, 9, 10, 3), 1.0);
  EXPECT_DOUBLE_EQ(learningRate(s, 1.0, 10, 10, 3), 1.0);
  EXPECT_NEAR(learningRate(s, 1.0, 20, 10, 3), 0.5, 1e-12);
  EXPECT_NEAR(learningRate(s, 1.0, 30, 10, 3), 0.0, 1e-12);
  s.kind = "constant";
  s.warmupEpochs = 0;
  EXPECT_DOUBLE_EQ(learningRate(s, 0.3, 25, 10, 3), 0.3);
  s.kind = "step";
  s.stepEpochs = 2;
  s.gamma = 0.1;
  EXPECT_DOUBLE_EQ(learningRate(s, 1.0, 19, 10, 6), 1.0);
  EXPECT_NEAR(learningRate(s, 1.0, 20, 10, 6), 0.1, 1e-15);
  EXPECT_NEAR(learningRate(s, 1.0, 45, 10, 6), 0.01, 1e-15);
}

// A scaled parameter follows torch::optim with its rate times the scale (its
// own parameter group); the others are untouched by the scale.
TEST(Optimizer, LrScaleActsAsAParameterGroupOfItsOwn) {
  OptimizerConfig c;
  c.lr = 0.05;
  c.weightDecay = 1e-3;
  torch::Tensor a = torch::randn({4}), b = torch::randn({3});
  torch::Tensor ra = a.clone().requires_grad_(true), rb = b.clone().requires_grad_(true);
  torch::Tensor pa = a.clone().requires_grad_(true), pb = b.clone().requires_grad_(true);
  torch::optim::SGD refA({ra}, torch::optim::SGDOptions(c.lr * 0.1).momentum(c.momentum).nesterov(true).weight_decay(
                                   c.weightDecay));
  torch::optim::SGD refB({rb}, torch::optim::SGDOptions(c.lr).momentum(c.momentum).nesterov(true).weight_decay(
                                   c.weightDecay));
  Optimizer ours(c, {{"a", pa}, {"b", pb}}, {{"a", 0.1}});
  for (int step = 0; step < 5; ++step) {
    torch::Tensor g = torch::randn({7});
    for (auto *pair : {&ra, &pa}) {
      pair->mutable_grad() = g.slice(0, 0, 4).clone();
    }
    for (auto *pair : {&rb, &pb}) {
      pair->mutable_grad() = g.slice(0, 4, 7).clone();
    }
    refA.step();
    refB.step();
    ours.step(c.lr);
  }
  EXPECT_TRUE(torch::equal(pa, ra));
  EXPECT_TRUE(torch::equal(pb, rb));
  EXPECT_FALSE(torch::allclose(pa, a));
}
