//===- Segmentation.cpp - mIoU from a confusion matrix, VOC's rules -------===//

#include "runtime/metrics/Segmentation.h"

#include <stdexcept>
#include <string>

namespace pce::rt {

namespace {
constexpr uint8_t kVoid = 255;
} // namespace

ConfusionMatrix::ConfusionMatrix(int64_t classes) : classes_(classes) {
  if (classes < 1 || classes > kVoid)
    throw std::invalid_argument("ConfusionMatrix: " + std::to_string(classes) + " classes (1..255)");
  counts_.assign(size_t(classes * classes), 0);
}

Status ConfusionMatrix::add(const uint8_t *truth, const int64_t *predicted, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (truth[i] == kVoid)
      continue;
    if (truth[i] >= classes_)
      return Status::error("pixel " + std::to_string(i) + ": ground truth " + std::to_string(truth[i]) +
                           " is not one of the " + std::to_string(classes_) + " classes or 255 (void)");
    if (predicted[i] < 0 || predicted[i] >= classes_)
      return Status::error("pixel " + std::to_string(i) + ": prediction " + std::to_string(predicted[i]) +
                           " is not one of the " + std::to_string(classes_) + " classes");
    ++counts_[size_t(truth[i] * classes_ + predicted[i])];
  }
  return Status::success();
}

void ConfusionMatrix::merge(const ConfusionMatrix &other) {
  if (other.classes_ != classes_)
    throw std::invalid_argument("ConfusionMatrix::merge: different class counts");
  for (size_t i = 0; i < counts_.size(); ++i)
    counts_[i] += other.counts_[i];
}

SegmentationScores ConfusionMatrix::scores() const {
  SegmentationScores s;
  const size_t K = size_t(classes_);
  s.iou.assign(K, 0.0);
  s.present.assign(K, false);
  std::vector<int64_t> truthTotal(K, 0), predictedTotal(K, 0);
  int64_t correct = 0;
  for (size_t t = 0; t < K; ++t)
    for (size_t p = 0; p < K; ++p) {
      const int64_t c = counts_[t * K + p];
      truthTotal[t] += c;
      predictedTotal[p] += c;
      s.pixels += c;
      if (t == p)
        correct += c;
    }
  int64_t present = 0;
  for (size_t k = 0; k < K; ++k) {
    const int64_t tp = counts_[k * K + k], denominator = truthTotal[k] + predictedTotal[k] - tp;
    if (denominator == 0)
      continue;
    s.present[k] = true;
    s.iou[k] = double(tp) / double(denominator);
    s.meanIoU += s.iou[k];
    ++present;
  }
  if (present > 0)
    s.meanIoU /= double(present);
  if (s.pixels > 0)
    s.pixelAccuracy = double(correct) / double(s.pixels);
  return s;
}

} // namespace pce::rt
