//===- RouterTransition.cpp - a new router that routes as the last one did ===//

#include "runtime/train/RouterTransition.h"

#include <torch/optim/adam.h>

#include <stdexcept>

namespace pce::train {

LayerSample sampleLayer(Network &net, const std::string &L, const Dataset &data, int64_t n, int64_t batch,
                        int64_t chunks) {
  LayerSample s;
  s.images = std::min<int64_t>(n, data.size());
  torch::NoGradGuard noGrad;
  const bool wasTraining = net.is_training();
  net.eval();
  std::vector<torch::Tensor> embeddings, routing;
  const int64_t step = batch * std::max<int64_t>(chunks, 1);
  for (int64_t start = 0; start < s.images; start += step) {
    const int64_t m = std::min(step, s.images - start), padded = (m + batch - 1) / batch * batch;
    torch::Tensor x = data.imagesIn(start, start + m);
    if (padded > m)
      x = torch::cat({x, torch::zeros({padded - m, x.size(1), x.size(2), x.size(3)}, x.options())});
    NetworkOutput out = net.forward(x.contiguous(), L);
    if (auto e = out.embedding.find(L); e != out.embedding.end())
      embeddings.push_back(e->second.slice(0, 0, m));
    auto w = out.routing.find(L);
    if (w == out.routing.end())
      throw std::runtime_error("layer '" + L + "' returns no routing weights");
    routing.push_back(w->second.slice(0, 0, m));
  }
  net.train(wasTraining);
  if (routing.empty())
    throw std::runtime_error("layer '" + L + "': no images to sample");
  s.routing = torch::cat(routing).reshape({-1, routing[0].size(-1)});
  if (!embeddings.empty())
    s.embeddings = torch::cat(embeddings).reshape({-1, embeddings[0].size(-1)});
  return s;
}

torch::Tensor topOne(const torch::Tensor &routing) {
  // argmax returns the first maximum: ties go to the lower expert.
  return routing.argmax(1);
}

torch::Tensor keysFromAssignment(const torch::Tensor &embeddings, const torch::Tensor &assign, int64_t experts,
                                 std::vector<int64_t> &unassigned) {
  torch::NoGradGuard noGrad;
  auto rows = [](const torch::Tensor &m) { return m / m.norm(2, {1}, true).clamp_min(1e-12); };
  torch::Tensor unit = rows(embeddings.to(torch::kFloat64));
  const int64_t D = unit.size(1);
  torch::Tensor sums = torch::zeros({experts, D}, unit.options()).index_add_(0, assign, unit);
  torch::Tensor counts = torch::bincount(assign, {}, experts);
  torch::Tensor keys = rows(sums);
  std::vector<int64_t> assigned;
  for (int64_t e = 0; e < experts; ++e)
    (counts[e].item<int64_t>() > 0 ? assigned : unassigned).push_back(e);
  for (int64_t e : unassigned) {
    // The embedding least similar to every key so far (the first such).
    torch::Tensor present = torch::tensor(assigned, torch::kLong);
    torch::Tensor best = assigned.empty() ? torch::zeros({unit.size(0)}, unit.options())
                                          : unit.matmul(keys.index_select(0, present).t()).amax(1);
    keys[e].copy_(unit[best.argmin().item<int64_t>()]);
    assigned.push_back(e);
  }
  return keys.to(embeddings.dtype());
}

torch::Tensor fitKeys(const torch::Tensor &embeddings, const torch::Tensor &assign, torch::Tensor keys, double tau,
                      int64_t steps) {
  // Cross-entropy of the cosine router's softmax(cos / tau) against the
  // assignment, over the keys' directions only (the embeddings are the new
  // network's and stay as they are).
  torch::Tensor unit = embeddings.to(torch::kFloat64);
  unit = unit / unit.norm(2, {1}, true).clamp_min(1e-12);
  torch::Tensor k = keys.to(torch::kFloat64).clone().requires_grad_(true);
  torch::optim::Adam adam({k}, torch::optim::AdamOptions(0.05));
  for (int64_t step = 0; step < steps; ++step) {
    torch::Tensor directions = k / k.norm(2, {1}, true).clamp_min(1e-12);
    torch::Tensor loss = torch::nll_loss(torch::log_softmax(unit.matmul(directions.t()) / tau, 1), assign);
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  torch::NoGradGuard noGrad;
  return (k / k.norm(2, {1}, true).clamp_min(1e-12)).to(keys.dtype());
}

torch::Tensor keysForRouting(const torch::Tensor &embeddings, const torch::Tensor &previousRouting, int64_t experts,
                             std::string &note) {
  constexpr int64_t kSteps = 300;
  constexpr double kTemperature = 0.01;
  std::vector<int64_t> unassigned;
  const torch::Tensor assign = topOne(previousRouting);
  torch::Tensor keys =
      fitKeys(embeddings, assign, keysFromAssignment(embeddings, assign, experts, unassigned), kTemperature, kSteps);
  std::string empty;
  for (int64_t e : unassigned)
    empty += (empty.empty() ? "" : ", ") + std::to_string(e);
  note = unassigned.empty() ? std::string()
                            : " (experts " + empty + " received no patch: the least similar embedding)";
  return keys;
}

double topOneAgreement(const torch::Tensor &a, const torch::Tensor &b) {
  if (a.size(0) != b.size(0) || a.size(0) == 0)
    throw std::runtime_error("topOneAgreement: routing of " + std::to_string(a.size(0)) + " and " +
                             std::to_string(b.size(0)) + " patches");
  return topOne(a).eq(topOne(b)).to(torch::kFloat64).mean().item<double>();
}

} // namespace pce::train
