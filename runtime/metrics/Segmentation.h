//===- Segmentation.h - mIoU from a confusion matrix, VOC's rules ---------===//
//
// Pascal VOC's segmentation measure: a confusion matrix over every pixel of
// a split (void pixels, value 255 in the ground truth, are ignored), then
// per class IoU = TP / (TP + FP + FN), their mean, and the pixel accuracy
// TP / (non-void pixels). A class with no pixel in either the ground truth
// or the predictions has no IoU (its denominator is 0) and is left out of
// the mean; `present` says which classes counted. MLIR- and LibTorch-free.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_METRICS_SEGMENTATION_H
#define PCE_RUNTIME_METRICS_SEGMENTATION_H

#include "runtime/Status.h"

#include <cstdint>
#include <vector>

namespace pce::rt {

struct SegmentationScores {
  std::vector<double> iou;    // per class; 0 where !present
  std::vector<bool> present;  // TP + FP + FN > 0
  double meanIoU = 0;         // over present classes
  double pixelAccuracy = 0;   // over non-void pixels
  int64_t pixels = 0;         // non-void pixels counted
};

class ConfusionMatrix {
public:
  explicit ConfusionMatrix(int64_t classes);
  int64_t classes() const { return classes_; }
  // Adds `n` pixels: truth[i] a class or 255 (void), predicted[i] a class.
  // A truth value that is neither, or a prediction outside the classes, is
  // an error naming the pixel.
  Status add(const uint8_t *truth, const int64_t *predicted, int64_t n);
  // counts[t * classes + p]: pixels of true class t predicted as p.
  const std::vector<int64_t> &counts() const { return counts_; }
  void merge(const ConfusionMatrix &other);
  SegmentationScores scores() const;

private:
  int64_t classes_;
  std::vector<int64_t> counts_;
};

} // namespace pce::rt

#endif // PCE_RUNTIME_METRICS_SEGMENTATION_H
