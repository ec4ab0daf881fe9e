//===- RouterWarmStart.cpp - an MLP router that starts as the cosine router ===//

#include "runtime/train/RouterWarmStart.h"

#include <algorithm>
#include <cmath>

namespace pce::train {

MlpRouter mlpRouterOf(const std::map<std::string, torch::Tensor> &tensors,
                      const std::string &prefix, bool linearHidden) {
  MlpRouter mlp{tensors.at(prefix + "w1"), tensors.at(prefix + "b1"), tensors.at(prefix + "w2"), {}, linearHidden};
  if (auto b2 = tensors.find(prefix + "b2"); b2 != tensors.end())
    mlp.b2 = b2->second;
  return mlp;
}

double mlpInputNorm(const torch::Tensor &embeddings, bool normalizeInput) {
  return normalizeInput ? 1.0 : embeddings.norm(2, {1}).mean().item<double>();
}

std::string warmStartMlpRouter(const torch::Tensor &keys, double tau,
                               double meanNorm, MlpRouter mlp) {
  if (keys.dim() != 2 || mlp.w1.dim() != 2 || mlp.w2.dim() != 2)
    return "keys and weights must be matrices";
  const int64_t E = keys.size(0), D = keys.size(1), hidden = mlp.w1.size(0);
  const bool cosineHead = !mlp.b2.defined();
  if (mlp.w1.size(1) != D || mlp.w2.size(0) != E || mlp.w2.size(1) != hidden ||
      mlp.b1.numel() != hidden || (!cosineHead && mlp.b2.numel() != E))
    return "the MLP's shapes do not match keys [" + std::to_string(E) + ", " +
           std::to_string(D) + "]";
  if (hidden < 2 * E)
    return "the MLP has " + std::to_string(hidden) + " hidden units, fewer than 2E = " +
           std::to_string(2 * E);
  if (!(tau > 0) || !(meanNorm > 0))
    return "tau and the mean embedding norm must be positive";

  torch::NoGradGuard noGrad;
  torch::Tensor unit = keys.to(mlp.w1.options());
  unit = unit / unit.norm(2, {1}, true).clamp_min(1e-12);
  mlp.w1.narrow(0, 0, E).copy_(unit);
  mlp.w1.narrow(0, E, E).copy_(-unit);
  mlp.b1.narrow(0, 0, 2 * E).zero_();
  // A cosine head divides by |W2_e| itself: unit rows, and its own tau.
  double s = cosineHead ? 1.0 / std::sqrt(2.0) : 1.0 / (tau * meanNorm);
  if (mlp.linearHidden && !cosineHead)
    s /= 2; // h_e - h_{E+e} = 2 <emb, k_e> without the ReLU
  mlp.w2.zero_();
  torch::Tensor eye = torch::eye(E, mlp.w2.options()) * s;
  mlp.w2.narrow(1, 0, E).copy_(eye);
  mlp.w2.narrow(1, E, E).copy_(-eye);
  if (!cosineHead)
    mlp.b2.zero_();
  return {};
}

} // namespace pce::train
