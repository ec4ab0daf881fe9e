//===- Training.h - pce-bench's R4: one training step ---------------------===//
#ifndef PCE_TOOLS_PCE_BENCH_TRAINING_H
#define PCE_TOOLS_PCE_BENCH_TRAINING_H

#include "tools/pce-bench/Models.h"

#include <torch/torch.h>

namespace pce::bench {

/// R4 for one router (`topK` 0: dense, as R2; 1: top-1). The compiled side is
/// the layer as a `pce.differentiable` model compiled for the whole batch (the
/// batch statistics of training BN couple the items, so the batch is one call,
/// whose parallel loops run on the runtime's threads): one `forward_train`
/// call, then one
/// `forward_backward` call with its `saved.*` values, a random cotangent of
/// `out` and zero cotangents for the other results. The baseline is R2's eager
/// layer in training mode (batch-statistic BN), `forward` + `backward()` of
/// `sum(out * cotangent)` with x and every parameter requiring grad, on the
/// LibTorch threads of the other lines and, as a third side, on one thread.
void benchTraining(const Context &ctx, const torch::Tensor &xInference, int64_t topK, const std::string &tag);

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_TRAINING_H
