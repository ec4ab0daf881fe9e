//===- RouterStats.h - load balancing, EMA keys, entropy, usage -----------===//
//
// SEMANTICS.md §3 and §5 on routing weights w [..., E] (one row per patch):
// the Switch load-balancing loss, the EMA key update, router entropy and
// expert usage. Argmax ties go to the lower expert (torch::argmax's rule).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TORCH_ROUTERSTATS_H
#define PCE_RUNTIME_TORCH_ROUTERSTATS_H

#include "runtime/RoutingReport.h"

#include <torch/types.h>

#include <optional>
#include <vector>

namespace pce::torchrt {

// E * sum_e f_e m_e: f_e the fraction of rows whose argmax is e (no
// gradient), m_e the mean weight of e (differentiable). 1 when balanced.
torch::Tensor loadBalancingLoss(const torch::Tensor &w);

// In place, outside autograd: k_e <- alpha k_e + (1 - alpha) mean(emb rows
// whose argmax is e), for each expert some row chose. keys [E,D], emb [...,D].
void emaKeyUpdate(torch::Tensor &keys, const torch::Tensor &emb, const torch::Tensor &w, double alpha);

// Running sums of §5's quantities over many batches.
class RoutingStats {
public:
  explicit RoutingStats(int64_t experts = 0) : counts_(experts, 0) {}
  // w [..., E]; a w of [B, P, E] also counts which expert each patch
  // position chose (every add must then have the same P).
  void add(const torch::Tensor &w);
  int64_t experts() const { return static_cast<int64_t>(counts_.size()); }
  int64_t rows() const { return rows_; }
  // Mean over rows of -sum_e w log w (nats, 0 log 0 = 0), and divided by log E.
  double entropy() const;
  double normalizedEntropy() const;
  // Fraction of rows whose argmax is e.
  std::vector<double> usage() const;
  // I(argmax expert; patch position) over the [B, P, E] rows added, as the
  // routing report computes it (rt::mutualInformation); empty without them.
  std::optional<rt::NatsStat> positionInformation() const;

private:
  std::vector<int64_t> counts_;
  std::vector<int64_t> positionCounts_; // [P * E]
  int64_t positions_ = 0;
  double entropySum_ = 0;
  int64_t rows_ = 0;
};

} // namespace pce::torchrt

#endif // PCE_RUNTIME_TORCH_ROUTERSTATS_H
