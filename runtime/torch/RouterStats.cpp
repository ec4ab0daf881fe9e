//===- RouterStats.cpp - load balancing, EMA keys, entropy, usage ---------===//

#include "runtime/torch/RouterStats.h"

#include <cmath>
#include <stdexcept>

namespace pce::torchrt {

namespace {
torch::Tensor rowsOf(const torch::Tensor &w) { return w.reshape({-1, w.size(-1)}); }
} // namespace

torch::Tensor loadBalancingLoss(const torch::Tensor &w) {
  torch::Tensor r = rowsOf(w);
  const int64_t E = r.size(1);
  torch::Tensor f = torch::one_hot(r.detach().argmax(1), E).to(r.scalar_type()).mean(0);
  return static_cast<double>(E) * (f * r.mean(0)).sum();
}

void emaKeyUpdate(torch::Tensor &keys, const torch::Tensor &emb, const torch::Tensor &w, double alpha) {
  torch::NoGradGuard noGrad;
  torch::Tensor r = rowsOf(w.detach());
  torch::Tensor e = emb.detach().reshape({-1, emb.size(-1)}).to(keys.scalar_type());
  const int64_t E = keys.size(0);
  if (r.size(1) != E || e.size(0) != r.size(0) || e.size(1) != keys.size(1))
    throw std::runtime_error("emaKeyUpdate: keys [E,D], emb [...,D] and w [...,E] disagree");
  torch::Tensor choice = r.argmax(1);
  torch::Tensor sums = torch::zeros_like(keys).index_add_(0, choice, e);
  torch::Tensor counts = torch::bincount(choice, {}, E).to(keys.scalar_type());
  torch::Tensor chosen = (counts > 0).unsqueeze(1);
  torch::Tensor means = sums / counts.clamp_min(1).unsqueeze(1);
  keys.copy_(torch::where(chosen, alpha * keys + (1 - alpha) * means, keys));
}

void RoutingStats::add(const torch::Tensor &w) {
  torch::NoGradGuard noGrad;
  torch::Tensor r = rowsOf(w.detach()).to(torch::kFloat64);
  if (r.size(1) != experts())
    throw std::runtime_error("RoutingStats: expected " + std::to_string(experts()) + " experts, found " +
                             std::to_string(r.size(1)));
  torch::Tensor terms = torch::where(r > 0, r * r.clamp_min(1e-300).log(), torch::zeros_like(r));
  entropySum_ += -terms.sum().item<double>();
  torch::Tensor choice = r.argmax(1);
  torch::Tensor counts = torch::bincount(choice, {}, experts());
  auto acc = counts.accessor<int64_t, 1>();
  for (int64_t e = 0; e < experts(); ++e)
    counts_[e] += acc[e];
  rows_ += r.size(0);
  if (w.dim() != 3)
    return;
  const int64_t P = w.size(1), E = experts();
  if (positions_ != 0 && positions_ != P)
    throw std::runtime_error("RoutingStats: expected " + std::to_string(positions_) + " patch positions, found " +
                             std::to_string(P));
  if (positions_ == 0) {
    positions_ = P;
    positionCounts_.assign(static_cast<size_t>(P * E), 0);
  }
  // Row i of r is patch i % P of its image.
  torch::Tensor cell = torch::arange(r.size(0), choice.options()).remainder(P) * E + choice;
  torch::Tensor joint = torch::bincount(cell, {}, P * E);
  auto j = joint.accessor<int64_t, 1>();
  for (int64_t i = 0; i < P * E; ++i)
    positionCounts_[static_cast<size_t>(i)] += j[i];
}

std::optional<rt::NatsStat> RoutingStats::positionInformation() const {
  if (positions_ == 0)
    return std::nullopt;
  return rt::mutualInformation(positionCounts_, positions_, experts());
}

double RoutingStats::entropy() const { return rows_ ? entropySum_ / static_cast<double>(rows_) : 0.0; }

double RoutingStats::normalizedEntropy() const {
  return experts() > 1 ? entropy() / std::log(static_cast<double>(experts())) : 0.0;
}

std::vector<double> RoutingStats::usage() const {
  std::vector<double> u(counts_.size(), 0.0);
  for (size_t e = 0; e < u.size(); ++e)
    u[e] = rows_ ? static_cast<double>(counts_[e]) / static_cast<double>(rows_) : 0.0;
  return u;
}

} // namespace pce::torchrt
