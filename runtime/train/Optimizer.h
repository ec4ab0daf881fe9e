//===- Optimizer.h - SGD / AdamW over named parameters, LR schedules ------===//
//
// Written out rather than torch::optim so that the state is a plain map of
// named tensors (checkpoint.safetensors stores `optim.<param>.<slot>`) and
// behaves the same under LibTorch 1.13 and 2.x. The update rules are
// PyTorch's: SGD with L2 weight decay added to the gradient, momentum
// (buffer = gradient on the first step) and Nesterov; AdamW with decoupled
// weight decay and bias correction.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_OPTIMIZER_H
#define PCE_RUNTIME_TRAIN_OPTIMIZER_H

#include "runtime/TrainingPlan.h"

#include <torch/types.h>

#include <map>
#include <memory>
#include <string>

namespace pce::train {

using rt::OptimizerConfig;
using rt::ScheduleConfig;

class Optimizer {
public:
  // `lrScale` multiplies the learning rate of the parameters it names
  // (weight decay scales with it, as in a PyTorch parameter group).
  Optimizer(OptimizerConfig config, std::map<std::string, torch::Tensor> parameters,
            std::map<std::string, double> lrScale = {});

  void zeroGrad();
  // One update with learning rate lr; parameters without a gradient are skipped.
  void step(double lr);

  int64_t steps() const { return steps_; }
  const OptimizerConfig &config() const { return config_; }
  // Slots by "optim.<param>.<slot>" (momentum_buffer; exp_avg, exp_avg_sq).
  std::map<std::string, torch::Tensor> state() const;
  // Restores state() output (entries of unknown parameters are an error).
  void loadState(const std::map<std::string, torch::Tensor> &state, int64_t steps);

private:
  OptimizerConfig config_;
  std::map<std::string, torch::Tensor> params_;
  std::map<std::string, double> lrScale_;
  std::map<std::string, std::map<std::string, torch::Tensor>> slots_; // param -> slot -> tensor
  int64_t steps_ = 0;
};

class Network;
// The optimiser of `net`'s trainable parameters, the router's (roles
// router_mlp_weight, router_mlp_bias, router_keys, router_log_tau) at
// config.routerLrScale times the rate.
std::unique_ptr<Optimizer> makeOptimizer(const OptimizerConfig &config, const Network &net);

// The learning rate of optimiser step `step` (0-based, counted over the
// whole run): linear warm-up over warmupEpochs, then constant, cosine decay
// to 0 at the end of totalEpochs, or gamma^(epoch / step_epochs).
double learningRate(const ScheduleConfig &schedule, double baseLr, int64_t step, int64_t stepsPerEpoch,
                    int64_t totalEpochs);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_OPTIMIZER_H
