//===- DenseTask.h - segmentation and detection in pce-train --------------===//
//
// What the two dense heads add to the training loop (docs/Training.md §9):
//   - augmentation of images with their masks / boxes by the same draws as
//     augment() (a window shifted within `pad`, a mirror);
//   - segmentation: per-pixel cross-entropy over the K logits, void (255)
//     ignored, optional class weights (mean over the weights of the pixels
//     counted, as PyTorch's nll_loss);
//   - detection: CenterNet's penalty-reduced focal loss (alpha 2, beta 4) on
//     Gaussian-splatted heatmaps (runtime/dense/CenterNet.h), normalised by
//     the number of objects, plus L1 on size (weight 0.1) and offset
//     (weight 1) at the objects' peak cells, normalised by twice that
//     number; boxes marked difficult are not targets;
//   - evaluation of a split by runtime/dense/DenseEvaluation.h, the code
//     pce-run runs.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_DENSETASK_H
#define PCE_RUNTIME_TRAIN_DENSETASK_H

#include "runtime/dense/DenseEvaluation.h"
#include "runtime/torch/RouterStats.h"
#include "runtime/train/Data.h"
#include "runtime/train/Evaluate.h"
#include "runtime/train/Network.h"

#include <map>
#include <string>
#include <vector>

namespace pce::train {

struct DenseBatch {
  torch::Tensor images;                   // f32 [B,C,H,W]
  torch::Tensor masks;                    // i64 [B,H,W] (segmentation)
  std::vector<std::vector<rt::Box>> boxes; // input pixels (detection)
};

// Throws unless every label fits the head: classes below K, mask values
// below K or void (255), box classes below K; names the split and example.
void checkLabels(const DataSplit &data, const rt::HeadSpec &head);

// The batch `indices` of a dense split, images already normalised.
DenseBatch denseBatch(const Dataset &data, const torch::Tensor &images, const torch::Tensor &indices);

// Shifts (within `pad`, the border filled with `black` and masks with void)
// and mirrors (p = 1/2) each image with its labels; boxes cut off entirely
// are dropped, the rest clipped.
void augmentDense(DenseBatch &batch, int64_t pad, bool hflip, at::Generator gen, const std::vector<float> &black);

struct DenseLoss {
  torch::Tensor total;
  double heatmap = 0, size = 0, offset = 0; // detection's parts
};

DenseLoss denseLoss(const rt::HeadSpec &head, const torch::Tensor &logits, const DenseBatch &batch);

// Eval mode, no gradients, in chunks as evaluate() (Evaluate.h); `loss` the
// head's loss, mean per image; `dense` the scores.
EvalResult evaluateDense(Network &net, const Dataset &data, const rt::HeadSpec &head, int64_t batch,
                              int64_t chunks);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_DENSETASK_H
