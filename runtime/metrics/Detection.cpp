//===- Detection.cpp - Pascal VOC mAP@0.5 by the official devkit's rules --===//

#include "runtime/metrics/Detection.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace pce::rt {

double boxIoU(const DetectionBox &a, const DetectionBox &b) {
  const double iw = double(std::min(a.xmax, b.xmax)) - double(std::max(a.xmin, b.xmin));
  const double ih = double(std::min(a.ymax, b.ymax)) - double(std::max(a.ymin, b.ymin));
  if (iw <= 0 || ih <= 0)
    return 0;
  const double areaA = double(a.xmax - a.xmin) * double(a.ymax - a.ymin);
  const double areaB = double(b.xmax - b.xmin) * double(b.ymax - b.ymin);
  return iw * ih / (areaA + areaB - iw * ih);
}

namespace {

// VOC2007: the mean over t = 0, 0.1, ..., 1 of max precision at recall >= t.
double elevenPoint(const std::vector<double> &recall, const std::vector<double> &precision) {
  double ap = 0;
  for (int k = 0; k <= 10; ++k) {
    const double t = k / 10.0;
    double best = 0;
    for (size_t i = 0; i < recall.size(); ++i)
      if (recall[i] >= t)
        best = std::max(best, precision[i]);
    ap += best;
  }
  return ap / 11.0; // summed first: a perfect curve is exactly 1
}

// VOC2010+: precision made monotone from the right, integrated over the
// recall steps.
double allPoint(const std::vector<double> &recall, const std::vector<double> &precision) {
  std::vector<double> r{0.0}, p{0.0};
  r.insert(r.end(), recall.begin(), recall.end());
  p.insert(p.end(), precision.begin(), precision.end());
  r.push_back(1.0);
  p.push_back(0.0);
  for (size_t i = p.size() - 1; i-- > 0;)
    p[i] = std::max(p[i], p[i + 1]);
  double ap = 0;
  for (size_t i = 1; i < r.size(); ++i)
    if (r[i] != r[i - 1])
      ap += (r[i] - r[i - 1]) * p[i];
  return ap;
}

} // namespace

Expected<DetectionScores> evaluateDetections(const std::vector<std::vector<GroundTruthObject>> &truth,
                                             const std::vector<Detection> &detections, int64_t classes,
                                             double minOverlap) {
  if (classes < 1)
    return Status::error("detection evaluation: " + std::to_string(classes) + " classes");
  for (size_t d = 0; d < detections.size(); ++d) {
    const Detection &det = detections[d];
    if (det.image < 0 || det.image >= int64_t(truth.size()))
      return Status::error("detection " + std::to_string(d) + ": image " + std::to_string(det.image) +
                           " is not one of the " + std::to_string(truth.size()) + " images");
    if (det.box.label < 0 || det.box.label >= classes)
      return Status::error("detection " + std::to_string(d) + ": class " + std::to_string(det.box.label) +
                           " is not one of the " + std::to_string(classes) + " classes");
  }
  for (size_t i = 0; i < truth.size(); ++i)
    for (const GroundTruthObject &o : truth[i])
      if (o.box.label < 0 || o.box.label >= classes)
        return Status::error("image " + std::to_string(i) + ": an object of class " +
                             std::to_string(o.box.label) + " is not one of the " + std::to_string(classes) +
                             " classes");

  DetectionScores s;
  const size_t K = size_t(classes);
  s.ap11.assign(K, 0.0);
  s.apAll.assign(K, 0.0);
  s.positives.assign(K, 0);
  s.present.assign(K, false);
  int64_t present = 0;
  for (size_t c = 0; c < K; ++c) {
    // This class's objects per image, and which are taken.
    std::vector<std::vector<const GroundTruthObject *>> objects(truth.size());
    std::vector<std::vector<bool>> taken(truth.size());
    for (size_t i = 0; i < truth.size(); ++i) {
      for (const GroundTruthObject &o : truth[i])
        if (size_t(o.box.label) == c) {
          objects[i].push_back(&o);
          s.positives[c] += !o.difficult;
        }
      taken[i].assign(objects[i].size(), false);
    }
    std::vector<size_t> order;
    for (size_t d = 0; d < detections.size(); ++d)
      if (size_t(detections[d].box.label) == c)
        order.push_back(d);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return detections[a].score > detections[b].score; });
    std::vector<double> recall, precision;
    int64_t tp = 0, fp = 0;
    for (size_t d : order) {
      const Detection &det = detections[d];
      const auto &objs = objects[size_t(det.image)];
      double best = -1;
      size_t match = 0;
      for (size_t j = 0; j < objs.size(); ++j) {
        const double ov = boxIoU(det.box, objs[j]->box);
        if (ov > best)
          best = ov, match = j;
      }
      if (best >= minOverlap) {
        if (objs[match]->difficult)
          continue; // neither true nor false
        if (!taken[size_t(det.image)][match]) {
          taken[size_t(det.image)][match] = true;
          ++tp;
        } else {
          ++fp;
        }
      } else {
        ++fp;
      }
      recall.push_back(s.positives[c] > 0 ? double(tp) / double(s.positives[c]) : 0.0);
      precision.push_back(double(tp) / double(tp + fp));
    }
    if (s.positives[c] == 0)
      continue;
    s.present[c] = true;
    s.ap11[c] = elevenPoint(recall, precision);
    s.apAll[c] = allPoint(recall, precision);
    s.map11 += s.ap11[c];
    s.mapAll += s.apAll[c];
    ++present;
  }
  if (present > 0) {
    s.map11 /= double(present);
    s.mapAll /= double(present);
  }
  return s;
}

} // namespace pce::rt
