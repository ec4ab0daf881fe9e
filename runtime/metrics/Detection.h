//===- Detection.h - Pascal VOC mAP@0.5 by the official devkit's rules ----===//
//
// VOCevaldet's procedure, per class: the class's detections over the whole
// split sorted by score (ties keep their given order, as MATLAB's stable
// sort does); each matched to the ground-truth box of its image with the
// highest overlap (the first such box on ties); a match at IoU >= 0.5 is a
// true positive unless that object was already matched (then a false
// positive); an object marked `difficult` is no positive: a detection
// matched to it is neither true nor false. Below 0.5: a false positive.
// Recall is over the class's non-difficult objects.
//
// Boxes are PCE's half-open pixel boxes (runtime/datasets/Image.h, VOC's
// 1-based inclusive [x1, x2] is [x1 - 1, x2)), so the devkit's "+1" widths
// are plain differences here: width = xmax - xmin.
//
// AP: VOC2007's 11-point interpolation (mean over recall 0, 0.1, .., 1 of
// the best precision at recall >= r) and VOC2010+'s all-point area under the
// monotone precision envelope. mAP is the mean over classes that have at
// least one non-difficult object in the split. MLIR- and LibTorch-free.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_METRICS_DETECTION_H
#define PCE_RUNTIME_METRICS_DETECTION_H

#include "runtime/Status.h"

#include <cstdint>
#include <vector>

namespace pce::rt {

struct DetectionBox {
  float xmin = 0, ymin = 0, xmax = 0, ymax = 0; // half-open pixel box
  int64_t label = 0;
};

struct GroundTruthObject {
  DetectionBox box;
  bool difficult = false;
};

struct Detection {
  int64_t image = 0; // index into the ground truth's images
  DetectionBox box;
  float score = 0;
};

struct DetectionScores {
  std::vector<double> ap11, apAll; // per class; 0 where !present
  std::vector<int64_t> positives;  // non-difficult objects per class
  std::vector<bool> present;       // positives > 0
  double map11 = 0, mapAll = 0;    // over present classes
};

// IoU of two half-open boxes (0 when they do not overlap).
double boxIoU(const DetectionBox &a, const DetectionBox &b);

// `truth[i]` holds image i's objects; every detection names an image in
// range and a class in [0, classes) (else an error).
Expected<DetectionScores> evaluateDetections(const std::vector<std::vector<GroundTruthObject>> &truth,
                                             const std::vector<Detection> &detections, int64_t classes,
                                             double minOverlap = 0.5);

} // namespace pce::rt

#endif // PCE_RUNTIME_METRICS_DETECTION_H
