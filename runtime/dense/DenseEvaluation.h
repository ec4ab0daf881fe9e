//===- DenseEvaluation.h - a split's segmentation or detection score ------===//
//
// The one evaluation of dense heads that pce-train (after each epoch and on
// the test split) and pce-run (standalone) share, so both report the same
// number for the same weights. It takes the compiled forward's output per
// image (runtime/dense/HeadSpec.h):
//   segmentation: argmax over the K logits of each pixel (ties: the lower
//     class) against the image's mask in the model's input geometry (the
//     mask through the same fit view as the image, void where the view
//     padded), into one confusion matrix (runtime/metrics/Segmentation.h);
//   detection: decodeCenterNet (runtime/dense/CenterNet.h), each box mapped
//     back into the pixels of the image it came from by the caller's
//     mapping, matched against the data set's own boxes
//     (runtime/metrics/Detection.h: VOC's rules, both AP variants).
// MLIR- and LibTorch-free.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DENSE_DENSEEVALUATION_H
#define PCE_RUNTIME_DENSE_DENSEEVALUATION_H

#include "runtime/Json.h"
#include "runtime/dense/HeadSpec.h"
#include "runtime/metrics/Detection.h"
#include "runtime/metrics/Segmentation.h"

#include <functional>
#include <string>
#include <vector>

namespace pce::rt {

struct DenseScores {
  HeadKind kind = HeadKind::Segmentation;
  int64_t images = 0;
  SegmentationScores segmentation;
  DetectionScores detection;
  int64_t detections = 0; // boxes decoded over the split

  // mIoU or VOC2007 11-point mAP@0.5: the number the progress line shows.
  double headline() const;
  std::string headlineName() const; // "mIoU" or "mAP@0.5 (11-point)"
  std::string summary() const;      // "mIoU 61.20%  pixel acc 90.01%", ...
  // Every number, with per-class values under the class names given.
  JsonValue json(const std::vector<std::string> &classNames) const;
};

// The class of each of `pixels` pixels of logits [K, pixels]: the argmax,
// ties to the lower class, NaN never winning (what the evaluator scores and
// pce-run writes as masks).
void argmaxClasses(const float *logits, int64_t classes, int64_t pixels, int64_t *out);

class DenseEvaluator {
public:
  DenseEvaluator(const HeadSpec &head, int64_t inputHeight, int64_t inputWidth);

  // One image's segmentation logits [K, H, W] and mask [H, W] (class or 255).
  Status addSegmentation(const float *logits, const uint8_t *mask);
  // One image's detection output [K + 4, h, w] and its objects in the
  // image's own pixels; `toImage` maps a box from input pixels to those.
  // Returns the boxes decoded (in the image's pixels).
  Expected<std::vector<Detection>> addDetection(const float *output, std::vector<GroundTruthObject> truth,
                                                const std::function<DetectionBox(const DetectionBox &)> &toImage);
  Expected<DenseScores> finish() const;

private:
  HeadSpec head_;
  int64_t height_, width_;
  ConfusionMatrix confusion_;
  std::vector<int64_t> predicted_; // scratch
  std::vector<std::vector<GroundTruthObject>> truth_;
  std::vector<Detection> detections_;
  int64_t images_ = 0;
};

} // namespace pce::rt

#endif // PCE_RUNTIME_DENSE_DENSEEVALUATION_H
