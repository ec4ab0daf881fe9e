//===- DenseEvaluation.cpp - a split's segmentation or detection score ----===//

#include "runtime/dense/DenseEvaluation.h"

#include "runtime/dense/CenterNet.h"

#include <cmath>
#include <cstdio>

namespace pce::rt {

namespace {

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * v);
  return buf;
}

JsonValue perClass(const std::vector<double> &values, const std::vector<bool> &present,
                   const std::vector<std::string> &names) {
  JsonValue o = JsonValue::object();
  for (size_t k = 0; k < values.size(); ++k)
    o.set(k < names.size() ? names[k] : std::to_string(k),
          present[k] ? JsonValue::number(values[k]) : JsonValue());
  return o;
}

} // namespace

double DenseScores::headline() const {
  return kind == HeadKind::Detection ? detection.map11 : segmentation.meanIoU;
}

std::string DenseScores::headlineName() const {
  return kind == HeadKind::Detection ? "mAP@0.5 (11-point)" : "mIoU";
}

std::string DenseScores::summary() const {
  if (kind == HeadKind::Detection)
    return "mAP@0.5 " + percent(detection.map11) + " (11-point), " + percent(detection.mapAll) + " (all-point)";
  return "mIoU " + percent(segmentation.meanIoU) + "  pixel acc " + percent(segmentation.pixelAccuracy);
}

JsonValue DenseScores::json(const std::vector<std::string> &classNames) const {
  JsonValue j = JsonValue::object();
  j.set("task", JsonValue::string(headKindName(kind)));
  j.set("images", JsonValue::integer(images));
  if (kind == HeadKind::Detection) {
    j.set("map11", JsonValue::number(detection.map11));
    j.set("map_all", JsonValue::number(detection.mapAll));
    j.set("detections", JsonValue::integer(detections));
    j.set("ap11", perClass(detection.ap11, detection.present, classNames));
    j.set("ap_all", perClass(detection.apAll, detection.present, classNames));
    JsonValue positives = JsonValue::object();
    for (size_t k = 0; k < detection.positives.size(); ++k)
      positives.set(k < classNames.size() ? classNames[k] : std::to_string(k),
                    JsonValue::integer(detection.positives[k]));
    j.set("positives", std::move(positives));
  } else {
    j.set("miou", JsonValue::number(segmentation.meanIoU));
    j.set("pixel_accuracy", JsonValue::number(segmentation.pixelAccuracy));
    j.set("pixels", JsonValue::integer(segmentation.pixels));
    j.set("iou", perClass(segmentation.iou, segmentation.present, classNames));
  }
  return j;
}

DenseEvaluator::DenseEvaluator(const HeadSpec &head, int64_t inputHeight, int64_t inputWidth)
    : head_(head), height_(inputHeight), width_(inputWidth), confusion_(head.classes) {}

void argmaxClasses(const float *logits, int64_t classes, int64_t pixels, int64_t *out) {
  for (int64_t p = 0; p < pixels; ++p) {
    int64_t best = 0;
    float bestValue = logits[p];
    for (int64_t k = 1; k < classes; ++k) {
      const float v = logits[k * pixels + p];
      // NaN never wins; the lower class wins a tie.
      if (v > bestValue || (std::isnan(bestValue) && !std::isnan(v))) {
        best = k;
        bestValue = v;
      }
    }
    out[p] = best;
  }
}

Status DenseEvaluator::addSegmentation(const float *logits, const uint8_t *mask) {
  const int64_t plane = height_ * width_;
  predicted_.assign(size_t(plane), 0);
  argmaxClasses(logits, head_.classes, plane, predicted_.data());
  ++images_;
  return confusion_.add(mask, predicted_.data(), plane);
}

Expected<std::vector<Detection>> DenseEvaluator::addDetection(
    const float *output, std::vector<GroundTruthObject> truth,
    const std::function<DetectionBox(const DetectionBox &)> &toImage) {
  const int64_t K = head_.classes, h = height_ / head_.stride, w = width_ / head_.stride, plane = h * w;
  const int64_t image = static_cast<int64_t>(truth_.size());
  std::vector<Detection> found =
      decodeCenterNet(output, output + K * plane, output + (K + 2) * plane, K, h, w, head_.stride, height_, width_,
                      head_.maxDetections, static_cast<float>(head_.scoreThreshold), image);
  for (Detection &d : found)
    d.box = toImage(d.box);
  detections_.insert(detections_.end(), found.begin(), found.end());
  truth_.push_back(std::move(truth));
  ++images_;
  return found;
}

Expected<DenseScores> DenseEvaluator::finish() const {
  DenseScores s;
  s.kind = head_.kind;
  s.images = images_;
  if (head_.kind == HeadKind::Detection) {
    auto scores = evaluateDetections(truth_, detections_, head_.classes);
    if (!scores)
      return Status::error(scores.error());
    s.detection = std::move(*scores);
    s.detections = static_cast<int64_t>(detections_.size());
  } else {
    s.segmentation = confusion_.scores();
  }
  return s;
}

} // namespace pce::rt
