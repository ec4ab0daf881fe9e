//===- ModuleTree.h - dotted tensor names in a torch::nn::Module ----------===//
//
// torch::nn::Module forbids '.' in parameter names, but the artifact and the
// weights files name tensors `layer1.experts.bn.gamma`. registerTensor splits
// the name and creates plain child modules for the prefixes, so that
// named_parameters() / named_buffers() of the root give back exactly the
// dotted manifest names.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TORCH_MODULETREE_H
#define PCE_RUNTIME_TORCH_MODULETREE_H

#include <torch/nn/module.h>

#include <map>
#include <string>

namespace pce::torchrt {

enum class TensorRole { Parameter, Buffer };

// Registers `value` under the dotted `name` (relative to `root`) and returns
// the registered tensor (it shares storage with `value`).
torch::Tensor registerTensor(torch::nn::Module &root, const std::string &name,
                             torch::Tensor value, TensorRole role);

// Parameters and buffers of `module` by dotted name.
std::map<std::string, torch::Tensor> namedTensors(const torch::nn::Module &module);

} // namespace pce::torchrt

#endif // PCE_RUNTIME_TORCH_MODULETREE_H
