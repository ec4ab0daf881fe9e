//===- Network.h - the plan's network for one phase -----------------------===//
//
// Ordinary layers are LibTorch ops over tensors named as in
// docs/ModelDescription.md (conv `<n>.weight [Co,C,kh,kw]`, `<n>.bias`;
// batch_norm `<n>.gamma/.beta/.running_mean/.running_var`; linear
// `<n>.weight [F,O]` input-major; upsample, concat and sigmoid have none;
// the heads' as the importer names them: `head.fc.weight [F,classes]`,
// `head.fc.bias`; `head.classifier.*` [K,C,1,1] of a segmentation head;
// `head.heatmap.*`, `head.size.*`, `head.offset.*` of a detection head). PCE layers are PceLayers of the phase's artifact, or, for
// the dense baseline, one LibTorch Conv(3x3, pad 1, no bias)-BN-ReLU each
// (`<n>.dense.weight`, `<n>.dense.bn.*`) with the same output channels.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_NETWORK_H
#define PCE_RUNTIME_TRAIN_NETWORK_H

#include "runtime/Artifact.h"
#include "runtime/ParameterRole.h"
#include "runtime/torch/PceLayer.h"
#include "runtime/TrainingPlan.h"

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>

#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace pce::train {

using rt::Plan;
using rt::PlanLayer;
using rt::PhaseLayer;

struct NetworkOptions {
  bool dense = false;
  std::string baseline = "dense"; // with dense: "dense", "coordconv" (CoordConv.h), "condconv" (CondConv.h)
  double bnMomentum = 0.1;
  std::shared_ptr<const rt::Artifact> artifact; // the phase's; null when dense
  std::map<std::string, PhaseLayer> phaseLayers; // the phase's per-layer settings
};

struct NetworkOutput {
  // The head's output (runtime/dense/HeadSpec.h), except that a detection
  // head's class heatmaps are logits here (the loss takes them before the
  // sigmoid); inferenceOutput() gives what the compiled forward returns.
  torch::Tensor logits;
  std::map<std::string, torch::Tensor> routing;   // per PCE layer [B,P,E]
  std::map<std::string, torch::Tensor> embedding; // per PCE layer [B,P,D] (when it has one)
};

class Network : public torch::nn::Module {
public:
  // Tensors start zero-filled; call initialise().
  Network(const Plan &plan, const NetworkOptions &options, at::Generator gen);

  // Runs the layers in order; stops after layer `stopAfter` when it is given
  // (logits then stay undefined).
  NetworkOutput forward(const torch::Tensor &x, const std::string &stopAfter = "");

  // Every parameter and buffer by its weights-file name.
  std::map<std::string, torch::Tensor> tensors() const;
  // Trainable parameters by name.
  std::map<std::string, torch::Tensor> parameterMap() const;
  // Copies the tensors of `carried` with the same name and shape, initialises
  // the others by their role (runtime/ParameterRole.h: the ordinary layers'
  // roles are set here, the PCE layers' read from the artifact's manifest);
  // returns the latter's names.
  std::vector<std::string> initialise(const std::map<std::string, torch::Tensor> &carried, at::Generator gen);

  // The role of a parameter or buffer (set here for ordinary layers, read
  // from the manifest for PCE layers); nullopt when the manifest has none.
  std::optional<rt::ParamRole> role(const std::string &name) const;

  const std::vector<std::shared_ptr<torchrt::PceLayer>> &pceLayers() const { return pce_; }
  std::vector<std::string> pceLayerNames() const;

private:
  struct Layer {
    PlanLayer desc;
    std::map<std::string, torch::Tensor> t; // short role ("weight", "dense.bn.gamma") -> tensor
    std::shared_ptr<torchrt::PceLayer> pce;
  };
  torch::Tensor add(Layer &layer, const std::string &suffix, rt::ParamRole role, std::vector<int64_t> shape,
                    bool buffer = false);
  void addBatchNorm(Layer &layer, const std::string &prefix, int64_t channels);
  void addHead(const rt::HeadSpec &head);
  torch::Tensor headForward(torch::Tensor x);
  torch::Tensor batchNorm(Layer &l, const std::string &prefix, const torch::Tensor &x, double eps);

  NetworkOptions options_;
  std::vector<Layer> layers_;
  Layer head_;
  std::optional<rt::HeadSpec> head_spec_;
  int64_t inputHeight_ = 0, inputWidth_ = 0;
  std::set<std::string> residualSources_;
  std::vector<std::shared_ptr<torchrt::PceLayer>> pce_;
  std::map<std::string, rt::Initialiser> inits_; // every tensor's, by name
  std::map<std::string, rt::ParamRole> roles_;
};

// Fills `t` as `init` says, drawing normal samples from `gen` (what pce-init
// does with its own generator). A `mix: concat` projection's identity blocks
// make a phase adding it start where the last ended.
void initialiseTensor(torch::Tensor &t, const rt::Initialiser &init, at::Generator gen);
// NetworkOutput::logits as the compiled forward returns them: a detection
// head's heatmap channels through the sigmoid; the others unchanged.
torch::Tensor inferenceOutput(const rt::HeadSpec &head, const torch::Tensor &logits);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_NETWORK_H
