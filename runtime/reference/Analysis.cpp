//===- Analysis.cpp - load balancing, EMA keys, routing statistics ----------===//
//
// SEMANTICS.md §3 (load-balancing loss, EMA key update) and §5 (entropy, usage,
// mutual information). All but loadBalancingLoss are outside autograd.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Reference.h"

#include <cmath>

namespace pce::ref {

namespace {
/// w [..., E] -> [N, E] with one row per patch.
torch::Tensor rows(const torch::Tensor &w) { return w.reshape({-1, w.size(-1)}); }
} // namespace

torch::Tensor argmaxExpert(const torch::Tensor &w) {
  // torch::argmax returns the first maximal index: ties go to the lower expert.
  return w.detach().argmax(-1);
}

torch::Tensor loadBalancingLoss(const torch::Tensor &w) {
  auto r = rows(w);
  const int64_t N = r.size(0), E = r.size(1);
  auto f = torch::one_hot(argmaxExpert(r), E).to(torch::kDouble).sum(0) / static_cast<double>(N);
  auto m = r.mean(0);
  return static_cast<double>(E) * (f * m).sum();
}

torch::Tensor emaKeyUpdate(const torch::Tensor &keys, const torch::Tensor &emb,
                           const torch::Tensor &w, double alpha) {
  at::NoGradGuard noGrad;
  auto r = rows(w);
  auto embRows = emb.reshape({-1, emb.size(-1)});
  const int64_t E = keys.size(0);
  TORCH_CHECK(r.size(1) == E && embRows.size(0) == r.size(0) && embRows.size(1) == keys.size(1),
              "emaKeyUpdate: keys [E,D], emb [...,D], w [...,E] disagree");
  auto choice = argmaxExpert(r);
  auto updated = keys.detach().clone();
  for (int64_t e = 0; e < E; ++e) {
    auto chosen = embRows.index({choice == e});
    if (chosen.size(0) == 0)
      continue;
    updated[e].copy_(alpha * keys[e] + (1 - alpha) * chosen.mean(0));
  }
  return updated;
}

EntropyStats routerEntropy(const torch::Tensor &w) {
  at::NoGradGuard noGrad;
  auto r = rows(w);
  const int64_t E = r.size(1);
  // 0 log 0 = 0
  auto terms = torch::where(r > 0, r * r.clamp_min(1e-300).log(), torch::zeros_like(r));
  EntropyStats stats;
  stats.mean = (-terms.sum(1)).mean().item<double>();
  stats.normalized = E > 1 ? stats.mean / std::log(static_cast<double>(E)) : 0.0;
  return stats;
}

torch::Tensor expertUsage(const torch::Tensor &w) {
  at::NoGradGuard noGrad;
  auto r = rows(w);
  return torch::one_hot(argmaxExpert(r), r.size(1)).to(torch::kDouble).mean(0);
}

torch::Tensor routingMap(const torch::Tensor &w) {
  at::NoGradGuard noGrad;
  TORCH_CHECK(w.dim() == 3, "routingMap: w must be [B,P,E]");
  return torch::one_hot(argmaxExpert(w), w.size(2)).to(torch::kDouble).mean(0); // [P,E]
}

MutualInformation mutualInformation(const torch::Tensor &a, int64_t na, const torch::Tensor &b,
                                    int64_t nb) {
  at::NoGradGuard noGrad;
  TORCH_CHECK(a.numel() == b.numel() && a.numel() > 0, "mutualInformation: sample sizes differ");
  auto av = a.reshape({-1}).to(torch::kLong), bv = b.reshape({-1}).to(torch::kLong);
  const double n = static_cast<double>(av.numel());
  std::vector<double> joint(na * nb, 0.0), pa(na, 0.0), pb(nb, 0.0);
  auto aa = av.accessor<int64_t, 1>(), ba = bv.accessor<int64_t, 1>();
  for (int64_t s = 0; s < av.numel(); ++s) {
    TORCH_CHECK(aa[s] >= 0 && aa[s] < na && ba[s] >= 0 && ba[s] < nb,
                "mutualInformation: sample out of range");
    joint[aa[s] * nb + ba[s]] += 1.0 / n;
    pa[aa[s]] += 1.0 / n;
    pb[ba[s]] += 1.0 / n;
  }
  MutualInformation mi;
  for (int64_t i = 0; i < na; ++i)
    for (int64_t j = 0; j < nb; ++j) {
      const double pij = joint[i * nb + j];
      if (pij > 0)
        mi.nats += pij * std::log(pij / (pa[i] * pb[j]));
    }
  const double bound = std::min(std::log(static_cast<double>(na)), std::log(static_cast<double>(nb)));
  mi.normalized = bound > 0 ? mi.nats / bound : 0.0;
  return mi;
}

MutualInformation positionMutualInformation(const torch::Tensor &w) {
  TORCH_CHECK(w.dim() == 3, "positionMutualInformation: w must be [B,P,E]");
  const int64_t B = w.size(0), P = w.size(1), E = w.size(2);
  auto position = torch::arange(P, torch::kLong).unsqueeze(0).expand({B, P});
  return mutualInformation(argmaxExpert(w), E, position, P);
}

MutualInformation classMutualInformation(const torch::Tensor &w, const torch::Tensor &labels,
                                         int64_t numClasses) {
  TORCH_CHECK(w.dim() == 3 && labels.dim() == 1 && labels.size(0) == w.size(0),
              "classMutualInformation: w must be [B,P,E], labels [B]");
  const int64_t B = w.size(0), P = w.size(1), E = w.size(2);
  auto cls = labels.to(torch::kLong).unsqueeze(1).expand({B, P});
  return mutualInformation(argmaxExpert(w), E, cls, numClasses);
}

} // namespace pce::ref
