//===- CondConv.h - the CondConv twin of a PCE layer -----------------------===//
//
// `pce-train --condconv` replaces every PCE layer by a CondConv layer (Yang
// et al., "CondConv: Conditionally Parameterized Convolutions", 2019): E
// expert kernels W_e [Co, Cin, k, k] mixed per image by r = sigmoid(Wr
// GAP(x) + br) [E], one convolution of x with sum_e r_e W_e (padding k/2),
// then BN and ReLU. It has the PCE layer's experts, routed per image
// instead of per patch and without coordinates.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_CONDCONV_H
#define PCE_RUNTIME_TRAIN_CONDCONV_H

#include <torch/types.h>

namespace pce::train {

struct CondConvOutput {
  torch::Tensor y;       // [B, Co, H, W], before BN
  torch::Tensor routing; // [B, E]
};

// x [B, Cin, H, W], kernels [E, Co, Cin, k, k], router weight [E, Cin] and
// bias [E]: every image convolved with its own mixture, as one grouped
// convolution.
CondConvOutput condConv(const torch::Tensor &x, const torch::Tensor &kernels, const torch::Tensor &routerWeight,
                        const torch::Tensor &routerBias);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_CONDCONV_H
