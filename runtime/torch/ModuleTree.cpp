//===- ModuleTree.cpp - dotted tensor names in a torch::nn::Module --------===//

#include "runtime/torch/ModuleTree.h"

namespace pce::torchrt {

torch::Tensor registerTensor(torch::nn::Module &root, const std::string &name,
                             torch::Tensor value, TensorRole role) {
  torch::nn::Module *node = &root;
  size_t start = 0;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
    std::string part = name.substr(start, dot - start);
    auto children = node->named_children();
    if (auto *child = children.find(part))
      node = child->get();
    else
      node = node->register_module(part, std::make_shared<torch::nn::Module>(part)).get();
    start = dot + 1;
  }
  std::string leaf = name.substr(start);
  if (role == TensorRole::Buffer)
    return node->register_buffer(leaf, std::move(value));
  return node->register_parameter(leaf, std::move(value));
}

std::map<std::string, torch::Tensor> namedTensors(const torch::nn::Module &module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto &p : module.named_parameters())
    out[p.key()] = p.value();
  for (const auto &b : module.named_buffers())
    out[b.key()] = b.value();
  return out;
}

} // namespace pce::torchrt
