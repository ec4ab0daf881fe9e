//===- CenterNet.h - centre-point detection targets and decoding ----------===//
//
// The anchor-free head of "Objects as Points" (Zhou et al., 2019) on a
// feature map of stride R: a class heatmap [K,h,w], box sizes [2,h,w] and
// centre offsets [2,h,w]. An object with box (x0, y0, x1, y1) in input pixels
// has its centre c = ((x0 + x1) / 2, (y0 + y1) / 2) / R, its peak at
// p = floor(c), offset c - p and size ((x1 - x0) / R, (y1 - y0) / R).
//
// Targets: the heatmap of class k is the maximum over k's objects of a
// Gaussian exp(-d^2 / (2 sigma^2)) around p, sigma = (2 r + 1) / 6, with r the
// largest shift of a box of that size that keeps IoU >= 0.7 in each of three
// ways (both corners moved the same way, the box shrunk on every side, or
// grown on every side; gaussianRadius). Boxes marked difficult are left out.
//
// Decoding: a peak is a heatmap value equal to the maximum of its 3x3
// neighbourhood (the max-pool trick); the `maxDetections` highest peaks over
// every class whose score reaches `threshold` become boxes, in input pixels.
// MLIR- and LibTorch-free.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DENSE_CENTERNET_H
#define PCE_RUNTIME_DENSE_CENTERNET_H

#include "runtime/metrics/Detection.h"

#include <cstdint>
#include <vector>

namespace pce::rt {

// The radius (in feature-map pixels) for a box of `height` x `width` there.
double gaussianRadius(double height, double width, double minOverlap = 0.7);

struct CenterNetTargets {
  int64_t classes = 0, height = 0, width = 0;
  std::vector<float> heatmap;    // [K,h,w]
  std::vector<float> size;       // [2,h,w]: width, height at peaks, 0 elsewhere
  std::vector<float> offset;     // [2,h,w]: x, y at peaks, 0 elsewhere
  std::vector<uint8_t> mask;     // [h,w]: 1 at a peak of some object
};

struct TargetBox {
  DetectionBox box;  // input pixels
  bool difficult = false;
};

// Targets of one image for a feature map of `height` x `width` at `stride`.
CenterNetTargets centerNetTargets(const std::vector<TargetBox> &boxes, int64_t classes, int64_t height,
                                  int64_t width, int64_t stride);

// Boxes from one image's outputs: `heat` [K,h,w] probabilities (after the
// sigmoid), `size` and `offset` [2,h,w]; boxes clipped to the input
// (inputHeight x inputWidth). Highest score first (ties: class, then
// position order).
std::vector<Detection> decodeCenterNet(const float *heat, const float *size, const float *offset, int64_t classes,
                                       int64_t height, int64_t width, int64_t stride, int64_t inputHeight,
                                       int64_t inputWidth, int64_t maxDetections, float threshold,
                                       int64_t image = 0);

} // namespace pce::rt

#endif // PCE_RUNTIME_DENSE_CENTERNET_H
