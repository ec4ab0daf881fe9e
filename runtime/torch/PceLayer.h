//===- PceLayer.h - one compiled PCE layer as a torch::nn::Module ---------===//
//
// Holds the layer's tensors under their manifest names (named_parameters()
// of an enclosing module gives `layer1.experts.kernel`, ...), registered as
//   - buffers: running statistics; router keys when the phase's `keys` is
//     `ema` (updated by EMA only);
//   - parameters: everything else (keys too for `learnable` and
//     `learnable_ema`).
// forward() runs the artifact's <L>_train (training mode, through autograd,
// with noise from the layer's generator) or <L> (eval mode). In training it
// also folds the batch statistics into the running ones and remembers the
// embedding and routing for the EMA key update that follows the optimiser
// step (updateKeys).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TORCH_PCELAYER_H
#define PCE_RUNTIME_TORCH_PCELAYER_H

#include "runtime/Artifact.h"
#include "runtime/torch/CompiledLayer.h"
#include "runtime/torch/KMeans.h"

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>

namespace pce::torchrt {

enum class KeysMode { None, Ema, Learnable, LearnableEma };
// "none", "ema", "learnable", "learnable_ema"; throws std::runtime_error otherwise.
KeysMode parseKeysMode(const std::string &text);

struct PceLayerOptions {
  std::string name;                 // <L>
  KeysMode keys = KeysMode::None;
  double bnMomentum = 0.1;          // running = (1 - m) running + m batch
};

struct PceForward {
  torch::Tensor y;         // [B,Co,H,W]
  torch::Tensor routing;   // [B,P,E], differentiable in training
  torch::Tensor embedding; // [B,P,D] or undefined
};

class PceLayer : public torch::nn::Module {
public:
  // The layer's tensors are created zero-filled with the manifest's shapes;
  // the caller initialises or loads them (tensors()).
  PceLayer(std::shared_ptr<const rt::Artifact> artifact, PceLayerOptions options, at::Generator gen);

  PceForward forward(const torch::Tensor &x);

  const std::string &layerName() const { return options_.name; }
  const PceLayerOptions &options() const { return options_; }
  // Manifest name -> the registered tensor.
  const std::map<std::string, torch::Tensor> &tensors() const { return tensors_; }
  bool isParameter(const std::string &name) const;
  // "<L>.router.keys", or "" when the router has no keys.
  std::string keysName() const;
  int64_t experts() const { return experts_; }
  // The compiled batch of the artifact's layer entry points.
  int64_t batch() const { return batch_; }

  // EMA key update (SEMANTICS.md §3) from the last training forward; a no-op
  // unless keys are `ema` or `learnable_ema`.
  void updateKeys(double alpha);

  // K-Means key initialisation (SEMANTICS.md §3): the keys become the
  // centroids of `embeddings` [N, D] (the patch embeddings of some training
  // images, computed with the initial embedding weights), k-means++ seeded
  // from `gen`, at most `iterations` Lloyd iterations. Throws when the
  // router has no keys.
  KMeansResult initialiseKeys(const torch::Tensor &embeddings, int64_t iterations, at::Generator gen);

private:
  CompiledLayerSpec spec_;
  PceLayerOptions options_;
  at::Generator gen_;
  std::map<std::string, torch::Tensor> tensors_;
  std::map<std::string, bool> isParameter_;
  std::vector<rt::BufferSpec> noise_;
  int64_t experts_ = 0, batch_ = 0;
  torch::Tensor lastEmbedding_, lastRouting_;
};

} // namespace pce::torchrt

#endif // PCE_RUNTIME_TORCH_PCELAYER_H
