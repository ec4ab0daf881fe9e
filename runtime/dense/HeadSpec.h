//===- HeadSpec.h - what a model's head computes and how it is decoded ----===//
//
// The one definition of a head as the compiler, training and pce-run share
// it: the importer records it on the module (`pce.head`, JSON text), the
// compiler copies it into the manifest (`head`), the training plan carries
// it, and pce-run decodes the forward's output by it. The forward's output:
//   classification  `logits`     [B, K]
//   segmentation    `logits`     [B, K, H, W]   at the input's resolution
//   detection       `detections` [B, K + 4, h, w]: channels [0, K) the class
//                   heatmaps (probabilities, after the sigmoid), K and K+1
//                   the box width and height, K+2 and K+3 the centre offset
//                   x and y, all in heatmap cells of `stride` input pixels
//                   (runtime/dense/CenterNet.h).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DENSE_HEADSPEC_H
#define PCE_RUNTIME_DENSE_HEADSPEC_H

#include "runtime/Json.h"
#include "runtime/JsonReader.h"
#include "runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pce::rt {

enum class HeadKind { Classification, Segmentation, Detection };

const char *headKindName(HeadKind kind);
std::optional<HeadKind> parseHeadKind(const std::string &name);

constexpr int64_t kDefaultMaxDetections = 100;
// Low on purpose: a detection below the threshold cannot raise VOC AP, one
// above it can only extend the precision/recall curve.
constexpr double kDefaultScoreThreshold = 0.01;
// The size/offset L1 weights of the detection loss (CenterNet's).
constexpr double kSizeLossWeight = 0.1, kOffsetLossWeight = 1.0;

struct HeadSpec {
  HeadKind kind = HeadKind::Classification;
  int64_t classes = 0;              // K (segmentation: background included)
  std::vector<int64_t> in;          // per-image shape of the head's input
  int64_t stride = 1;               // detection: input pixels per heatmap cell
  int64_t maxDetections = kDefaultMaxDetections;
  double scoreThreshold = kDefaultScoreThreshold;
  std::vector<double> classWeights; // segmentation loss; empty: all 1

  // The name of the forward's output and its per-image shape for an input
  // of `height` x `width`.
  const char *outputName() const;
  std::vector<int64_t> outputShape(int64_t height, int64_t width) const;
};

JsonValue headSpecJson(const HeadSpec &head);
// Reads and checks a head written by headSpecJson (throws detail::Failure
// through `r`, naming the path).
HeadSpec readHeadSpec(const JsonReader &r, const JsonValue &v, const std::string &path);
// The same from JSON text (the module attribute).
Expected<HeadSpec> parseHeadSpec(const std::string &text, const std::string &source);

} // namespace pce::rt

#endif // PCE_RUNTIME_DENSE_HEADSPEC_H
