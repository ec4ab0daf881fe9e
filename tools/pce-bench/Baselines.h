//===- Baselines.h - the LibTorch side of each ratio ------------*- C++ -*-===//
//
// Plain float32 eager LibTorch code, the yardsticks pce-bench times the
// compiled code against. Nothing here is tuned: R1's baseline is what a user
// writes for one Conv-BN-ReLU, R2's is SEMANTICS.md transcribed op by op.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_BENCH_BASELINES_H
#define PCE_TOOLS_PCE_BENCH_BASELINES_H

#include <torch/types.h>

#include <vector>

namespace pce::bench {

/// One dense Conv-BN-ReLU, C -> Co, kernel k, padding k/2, inference BN.
struct ConvBnRelu {
  torch::Tensor weight;                          ///< [Co, C, k, k]
  torch::Tensor gamma, beta, runningMean, runningVar; ///< [Co]
  static ConvBnRelu random(int64_t c, int64_t co, int64_t k);
  torch::Tensor forward(const torch::Tensor &x) const;
};

/// A PCE layer (SEMANTICS.md §1-4, cosine router, mix sum, context halo,
/// inference BN, or batch-statistic BN in training) in float32 eager ops, from
/// the same parameters the compiled layer holds.
struct EagerPceLayer {
  int64_t ph, pw, k;
  std::vector<int64_t> levels;
  double tau;
  int64_t topK; ///< 0 = dense
  torch::Tensor We, be, keys;                         ///< [De,C+4], [De], [E,D]
  torch::Tensor kernels;                              ///< [E,Co,C+4,k,k]
  torch::Tensor gamma, beta, runningMean, runningVar; ///< [E,Co]
  /// The four coordinate planes of every patch [P,4,ph+2r,pw+2r]: they depend
  /// only on the shape, so they are built once, not per call (setCoordinates).
  torch::Tensor coordinates;

  void setCoordinates(int64_t h, int64_t w);
  torch::Tensor forward(const torch::Tensor &x) const; ///< [B,C,H,W] -> [B,Co,H,W]
  /// With `training`, each expert's BN normalises with the batch statistics
  /// (biased variance) of the patches routed to it: all patches for a dense
  /// router, the top-k choosers otherwise (the running statistics when none
  /// chose it), as the float64 reference does. Differentiable by autograd
  /// when the tensors require grad (R4).
  torch::Tensor forward(const torch::Tensor &x, bool training) const;
};

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_BASELINES_H
