//===- Finetune.h - pce-train --finetune: start from trained weights ------===//
//
// `pce-train MODEL.yaml -o RUN --finetune SOURCE` trains the last phase of
// MODEL's plan (its network is the one trained weights describe) starting
// from SOURCE's tensors instead of the initialisers: SOURCE is a run or a
// pce-reshape output (its weights.safetensors) or a .safetensors file. Every
// tensor of that network must be in SOURCE with its shape. When SOURCE has a
// reshape.json (tools/pce-reshape), each expert it split under a keyed
// router gets its own key back: 2-means over the embeddings of the
// key-initialisation patches routed to the pair (docs/Analysis.md).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_FINETUNE_H
#define PCE_RUNTIME_TRAIN_FINETUNE_H

#include "runtime/TrainingPlan.h"
#include "runtime/train/RouterTransition.h"

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace pce::train {

struct FinetuneSource {
  std::string weightsPath;
  std::map<std::string, torch::Tensor> tensors;
  struct Split {
    std::string layer;
    int64_t first = 0, second = 0; // the two new experts that share a key
  };
  std::vector<Split> keySplits; // from reshape.json, layers with refit_keys
};

// Reads SOURCE as the header says; throws std::runtime_error with the path.
FinetuneSource readFinetuneSource(const std::string &source);

// Throws unless `source` has every tensor of `network` with its shape.
void checkFinetuneTensors(const FinetuneSource &source, const std::map<std::string, torch::Tensor> &network);

// Only the plan's last phase trains (its epochs as planned or --epochs).
void finetunePlan(rt::Plan &plan);

// refitSplitKeys for every split of `source`, on `sample(layer)` (the
// key-initialisation images through the layer); one progress line each.
std::vector<std::string> refitKeySplits(const FinetuneSource &source, Network &net,
                                        const std::function<LayerSample(const std::string &)> &sample,
                                        int64_t iterations, at::Generator gen);

// Keys [E, D] with rows `first` and `second` (equal after a split) replaced
// by the unit centroids of 2-means over the unit embeddings [N, D] whose
// top-1 expert under `routing` [N, E] is either; returns how many there
// were (the keys are unchanged below 2).
int64_t refitSplitKeys(torch::Tensor keys, const torch::Tensor &embeddings, const torch::Tensor &routing,
                       int64_t first, int64_t second, int64_t iterations, at::Generator gen);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_FINETUNE_H
