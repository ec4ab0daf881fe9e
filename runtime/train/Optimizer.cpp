//===- Optimizer.cpp - SGD / AdamW over named parameters, LR schedules ----===//

#include "runtime/train/Optimizer.h"

#include "runtime/train/Network.h"

#include <cmath>
#include <stdexcept>

namespace pce::train {

Optimizer::Optimizer(OptimizerConfig config, std::map<std::string, torch::Tensor> parameters,
                     std::map<std::string, double> lrScale)
    : config_(std::move(config)), params_(std::move(parameters)), lrScale_(std::move(lrScale)) {}

void Optimizer::zeroGrad() {
  for (auto &[name, p] : params_)
    p.mutable_grad().reset(); // as set_to_none: unused parameters get no update
}

void Optimizer::step(double baseLr) {
  torch::NoGradGuard noGrad;
  ++steps_;
  const OptimizerConfig &c = config_;
  for (auto &[name, p] : params_) {
    if (!p.grad().defined())
      continue;
    auto scale = lrScale_.find(name);
    const double lr = scale == lrScale_.end() ? baseLr : baseLr * scale->second;
    torch::Tensor g = p.grad();
    auto &slots = slots_[name];
    if (c.kind == "sgd") {
      // torch::optim::SGD's arithmetic, operation for operation (add with
      // alpha is one fused rounding, not a product then a sum), so the two
      // agree to the bit.
      if (c.weightDecay != 0)
        g = g.add(p, c.weightDecay);
      if (c.momentum != 0) {
        auto it = slots.find("momentum_buffer");
        if (it == slots.end())
          it = slots.emplace("momentum_buffer", g.clone()).first;
        else
          it->second.mul_(c.momentum).add_(g, 1.0);
        g = c.nesterov ? g.add(it->second, c.momentum) : it->second;
      }
      p.add_(g, -lr);
    } else {
      p.mul_(1.0 - lr * c.weightDecay);
      auto m = slots.find("exp_avg"), v = slots.find("exp_avg_sq");
      if (m == slots.end())
        m = slots.emplace("exp_avg", torch::zeros_like(p)).first;
      if (v == slots.end())
        v = slots.emplace("exp_avg_sq", torch::zeros_like(p)).first;
      m->second.mul_(c.beta1).add_(g, 1.0 - c.beta1);
      v->second.mul_(c.beta2).addcmul_(g, g, 1.0 - c.beta2);
      const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(steps_));
      const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(steps_));
      torch::Tensor denom = (v->second / bc2).sqrt().add_(c.eps);
      p.addcdiv_(m->second, denom, -lr / bc1);
    }
  }
}

std::map<std::string, torch::Tensor> Optimizer::state() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto &[name, slots] : slots_)
    for (const auto &[slot, t] : slots)
      out["optim." + name + "." + slot] = t;
  return out;
}

void Optimizer::loadState(const std::map<std::string, torch::Tensor> &state, int64_t steps) {
  slots_.clear();
  for (const auto &[key, t] : state) {
    if (key.compare(0, 6, "optim.") != 0)
      continue;
    size_t dot = key.rfind('.');
    std::string name = key.substr(6, dot - 6), slot = key.substr(dot + 1);
    auto p = params_.find(name);
    if (p == params_.end() || p->second.sizes() != t.sizes())
      throw std::runtime_error("checkpoint: optimiser state '" + key + "' matches no parameter of this network");
    slots_[name][slot] = t.clone();
  }
  steps_ = steps;
}

std::unique_ptr<Optimizer> makeOptimizer(const OptimizerConfig &config, const Network &net) {
  std::map<std::string, torch::Tensor> params = net.parameterMap();
  std::map<std::string, double> scale;
  if (config.routerLrScale != 1.0)
    for (const auto &[name, p] : params) {
      std::optional<rt::ParamRole> role = net.role(name);
      if (role && (*role == rt::ParamRole::RouterMlpWeight || *role == rt::ParamRole::RouterMlpBias ||
                   *role == rt::ParamRole::RouterKeys || *role == rt::ParamRole::RouterLogTau))
        scale[name] = config.routerLrScale;
    }
  return std::make_unique<Optimizer>(config, std::move(params), std::move(scale));
}

double learningRate(const ScheduleConfig &s, double baseLr, int64_t step, int64_t stepsPerEpoch,
                    int64_t totalEpochs) {
  const double spe = static_cast<double>(std::max<int64_t>(stepsPerEpoch, 1));
  const double warmup = s.warmupEpochs * spe;
  const double t = static_cast<double>(step);
  if (t < warmup)
    return baseLr * (t + 1.0) / warmup;
  if (s.kind == "cosine") {
    const double total = static_cast<double>(totalEpochs) * spe;
    const double progress = total > warmup ? (t - warmup) / (total - warmup) : 1.0;
    return baseLr * 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
  }
  if (s.kind == "step" && s.stepEpochs > 0) {
    const int64_t epoch = step / std::max<int64_t>(stepsPerEpoch, 1);
    return baseLr * std::pow(s.gamma, static_cast<double>(epoch / s.stepEpochs));
  }
  return baseLr;
}

} // namespace pce::train
