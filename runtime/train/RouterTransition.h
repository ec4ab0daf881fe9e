//===- RouterTransition.h - a new router that routes as the last one did --===//
//
// When a phase introduces or replaces a layer's router, pce-train starts the
// new router so that it sends each patch where the previous phase's router
// did (docs/Training.md §4, "Phases"), and measures how far it succeeded:
//   - any router -> keys (cosine, Gumbel): key e is the normalised mean of
//     the unit patch embeddings the previous router sent to expert e (its
//     top-1 on the key-initialisation images); an expert that received no
//     patch takes the embedding least similar to every other key;
//   - any router -> MLP: the MLP starts as the cosine router of such keys
//     (RouterWarmStart.h; keys -> MLP uses the keys themselves);
//   - uniform -> anything, and the first phase: there is no assignment to
//     keep (uniform weighs every expert alike), so keys come from K-Means.
// The agreement is the share of patches of a validation sample whose top-1
// expert is the same under the new router as under the old one.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_RUNTIME_TRAIN_ROUTERTRANSITION_H
#define PCE_RUNTIME_TRAIN_ROUTERTRANSITION_H

#include "runtime/train/Data.h"
#include "runtime/train/Network.h"

#include <string>
#include <vector>

namespace pce::train {

/// What layer `L` computed on the first `n` images of a split: its patch
/// embeddings [n*P, D] (undefined when its router reads none) and routing
/// weights [n*P, E], in eval mode.
struct LayerSample {
  torch::Tensor embeddings, routing;
  int64_t images = 0;
};

LayerSample sampleLayer(Network &net, const std::string &L, const Dataset &data, int64_t n, int64_t batch,
                        int64_t chunks);

/// Each row's top-1 expert (ties: the lower expert).
torch::Tensor topOne(const torch::Tensor &routing);

/// Keys [E, D] from the experts `assign` [N] gives the rows of
/// `embeddings` [N, D], as the header says; the experts that received no
/// row are appended to `unassigned`.
torch::Tensor keysFromAssignment(const torch::Tensor &embeddings, const torch::Tensor &assign, int64_t experts,
                                 std::vector<int64_t> &unassigned);

/// `keys` [E, D] moved by `steps` Adam steps to make the cosine router at
/// temperature `tau` reproduce `assign` on `embeddings` (cross-entropy of
/// softmax(cos / tau)); unit rows.
torch::Tensor fitKeys(const torch::Tensor &embeddings, const torch::Tensor &assign, torch::Tensor keys, double tau,
                      int64_t steps);

/// The keys a phase switch gives a new cosine router (or the MLP that
/// starts as one): keysFromAssignment on the previous router's top-1 of
/// `previousRouting` [N, E], then fitKeys (300 steps at temperature 0.01:
/// sharp, since the top-1 choice is what is kept and the router's own tau
/// does not change it). `note` says which experts received no patch.
torch::Tensor keysForRouting(const torch::Tensor &embeddings, const torch::Tensor &previousRouting, int64_t experts,
                             std::string &note);

/// The share of rows whose top-1 expert is the same in `a` and `b` [N, E].
double topOneAgreement(const torch::Tensor &a, const torch::Tensor &b);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_ROUTERTRANSITION_H
