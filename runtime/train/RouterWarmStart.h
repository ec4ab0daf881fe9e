//===- RouterWarmStart.h - an MLP router that starts as the cosine router --===//
//
// When a phase replaces a layer's cosine (or Gumbel) router by an MLP router,
// the MLP's first 2E hidden units are set to +-k_e (the unit keys) and its
// output layer to s * (h_e - h_{E+e}), so that its logits start as
//
//   s * <emb, k_e>,  s = 1 / (tau * mean |emb|)
//
// (relu(a) - relu(-a) = a): the same top-1 choice for every patch as the
// keys it replaces, and on average the same logits. An MLP that reads unit
// embeddings (normalize_input) is passed mean |emb| = 1: its logits are then
// the cosine router's exactly. The other hidden units
// keep their random input weights and start with zero output weights, so
// they receive gradients without moving the initial routing.
//
// A cosine head (no b2) gets the unit rows (h_e - h_{E+e}) / sqrt(2) and
// keeps its own tau: its logits start as <emb, k_e> / (sqrt(2) |h| tau) for
// unit inputs, the keys' top-1 choice for every patch (|h| is the same for
// every expert), at a scale that depends on |h|. Without the ReLU
// (linear_hidden) h_e - h_{E+e} = 2 <emb, k_e>: the plain head's rows are
// halved, so its logits are the same.
//
// Why: a freshly initialised MLP router sent every patch to one expert
// (docs/RESULTS.md: usage [1, 0, 0, 0] for the whole of phases 2-3), since
// the pooled embeddings share a large common component.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_RUNTIME_TRAIN_ROUTERWARMSTART_H
#define PCE_RUNTIME_TRAIN_ROUTERWARMSTART_H

#include <torch/torch.h>

#include <map>
#include <string>

namespace pce::train {

/// The MLP router's parameters, written in place.
struct MlpRouter {
  torch::Tensor w1; // [Hd, D]
  torch::Tensor b1; // [Hd]
  torch::Tensor w2; // [E, Hd]
  torch::Tensor b2; // [E]; undefined for a cosine head
  bool linearHidden = false; // no ReLU after W1: h_e - h_{E+e} = 2 <emb, k_e>
};

/// The MLP router's tensors `<prefix>w1`, `b1`, `w2` and, unless it has a
/// cosine head, `b2` (views: writing them writes `tensors`' storage).
MlpRouter mlpRouterOf(const std::map<std::string, torch::Tensor> &tensors,
                      const std::string &prefix, bool linearHidden);

/// The mean norm of what an MLP router reads from `embeddings [N, D]`: 1
/// when it reads unit vectors (normalize_input), else the mean of |emb|.
double mlpInputNorm(const torch::Tensor &embeddings, bool normalizeInput);

/// Sets `mlp` to reproduce the cosine router of `keys [E, D]` at
/// temperature `tau` for inputs of mean norm `meanNorm` (1 for unit ones). Returns an
/// empty string, or why it cannot (fewer than 2E hidden units, shapes that
/// do not match); the parameters are then left alone.
std::string warmStartMlpRouter(const torch::Tensor &keys, double tau,
                               double meanNorm, MlpRouter mlp);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_ROUTERWARMSTART_H
