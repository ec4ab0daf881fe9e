//===- CompiledLayer.h - a compiled PCE layer as a torch autograd function ===//
//
// docs/Training.md §1: a training artifact has, for every PCE layer <L>, the
// entry points <L> (inference), <L>_train and <L>_backward. compiledTrain runs
// <L>_train inside a torch::autograd::Function so that y and <L>.routing join
// the autograd graph; the function's backward calls <L>_backward with grad.y
// and grad.<L>.routing (zeros when the routing took no part in the loss) and
// hands grad.x and the parameters' gradients back to torch. The saved.*
// activations stay inside the graph node until backward (which therefore runs
// once: retain_graph is not supported).
//
// Tensors cross the boundary as HostTensors: inputs are copied (one memcpy
// each), results are taken over without a copy.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TORCH_COMPILEDLAYER_H
#define PCE_RUNTIME_TORCH_COMPILEDLAYER_H

#include "runtime/Artifact.h"

#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pce::torchrt {

struct CompiledLayerSpec {
  std::shared_ptr<const rt::Artifact> artifact;
  std::string layer; // <L>; the entry points are <L>, <L>_train, <L>_backward
};

struct CompiledOutputs {
  torch::Tensor y;         // [B,Co,H,W]
  torch::Tensor routing;   // [B,P,E]; differentiable in training
  torch::Tensor embedding; // [B,P,D], undefined when the router reads none
  // batch.<name> results keyed by <name> (the running statistic they update).
  std::map<std::string, torch::Tensor> batchStats;
};

// Training forward (<L>_train). `tensors` are the layer's parameters and
// buffers by manifest name; gradients flow to those that require grad and to
// x. `noise` holds every noise.* input of <L>_train, drawn by the caller.
CompiledOutputs compiledTrain(const CompiledLayerSpec &spec, const torch::Tensor &x,
                              const std::map<std::string, torch::Tensor> &tensors,
                              const std::map<std::string, torch::Tensor> &noise);

// Inference (<L>), outside autograd; x may hold k times the compiled batch,
// which the runtime splits over its threads.
CompiledOutputs compiledInfer(const CompiledLayerSpec &spec, const torch::Tensor &x,
                              const std::map<std::string, torch::Tensor> &tensors);

} // namespace pce::torchrt

#endif // PCE_RUNTIME_TORCH_COMPILEDLAYER_H
