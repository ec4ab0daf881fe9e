//===- CondConv.cpp - the CondConv twin of a PCE layer ---------------------===//

#include "runtime/train/CondConv.h"

#include <torch/torch.h>

namespace pce::train {

CondConvOutput condConv(const torch::Tensor &x, const torch::Tensor &kernels, const torch::Tensor &routerWeight,
                        const torch::Tensor &routerBias) {
  const int64_t B = x.size(0), Cin = x.size(1), E = kernels.size(0), Co = kernels.size(1);
  const int64_t kh = kernels.size(3), kw = kernels.size(4);
  torch::Tensor r = torch::sigmoid(torch::addmm(routerBias, x.mean({2, 3}), routerWeight.t())); // [B, E]
  // Per image sum_e r_e W_e, then all images at once as B groups.
  torch::Tensor mixed = torch::mm(r, kernels.reshape({E, -1})).reshape({B * Co, Cin, kh, kw});
  torch::Tensor y = torch::conv2d(x.reshape({1, B * Cin, x.size(2), x.size(3)}), mixed, {}, 1, {kh / 2, kw / 2}, 1, B);
  return {y.reshape({B, Co, y.size(2), y.size(3)}), r};
}

} // namespace pce::train
