//===- CenterNet.cpp - centre-point detection targets and decoding --------===//

#include "runtime/dense/CenterNet.h"

#include <algorithm>
#include <cmath>

namespace pce::rt {

namespace {
// The smallest non-negative root of a r^2 + b r + c = 0 (the largest root
// when `largest`); 0 when there is none.
double root(double a, double b, double c, bool largest) {
  const double disc = b * b - 4 * a * c;
  if (disc < 0)
    return 0;
  const double s = std::sqrt(disc);
  double r1 = (-b - s) / (2 * a), r2 = (-b + s) / (2 * a);
  if (r1 > r2)
    std::swap(r1, r2);
  return std::max(0.0, largest ? r2 : r1);
}
} // namespace

double gaussianRadius(double h, double w, double t) {
  // Moved by r in x and y: (w - r)(h - r) / (2wh - (w - r)(h - r)) >= t.
  const double moved = root(1, -(w + h), w * h * (1 - 2 * t / (1 + t)), false);
  // Shrunk by r on every side: (w - 2r)(h - 2r) / (wh) >= t.
  const double shrunk = root(4, -2 * (w + h), w * h * (1 - t), false);
  // Grown by r on every side: wh / ((w + 2r)(h + 2r)) >= t.
  const double grown = root(4 * t, 2 * t * (w + h), (t - 1) * w * h, true);
  return std::min({moved, shrunk, grown});
}

CenterNetTargets centerNetTargets(const std::vector<TargetBox> &boxes, int64_t classes, int64_t height,
                                  int64_t width, int64_t stride) {
  CenterNetTargets t;
  t.classes = classes, t.height = height, t.width = width;
  const size_t plane = size_t(height * width);
  t.heatmap.assign(size_t(classes) * plane, 0.0f);
  t.size.assign(2 * plane, 0.0f);
  t.offset.assign(2 * plane, 0.0f);
  t.mask.assign(plane, 0);
  for (const TargetBox &tb : boxes) {
    const DetectionBox &b = tb.box;
    if (tb.difficult || b.label < 0 || b.label >= classes)
      continue;
    const double w = double(b.xmax - b.xmin) / double(stride), h = double(b.ymax - b.ymin) / double(stride);
    if (w <= 0 || h <= 0)
      continue;
    const double cx = double(b.xmin + b.xmax) / (2.0 * double(stride));
    const double cy = double(b.ymin + b.ymax) / (2.0 * double(stride));
    const int64_t px = std::clamp<int64_t>(int64_t(std::floor(cx)), 0, width - 1);
    const int64_t py = std::clamp<int64_t>(int64_t(std::floor(cy)), 0, height - 1);
    const int64_t r = int64_t(gaussianRadius(h, w));
    const double sigma = double(2 * r + 1) / 6.0;
    float *heat = t.heatmap.data() + size_t(b.label) * plane;
    for (int64_t y = std::max<int64_t>(0, py - r); y <= std::min(height - 1, py + r); ++y)
      for (int64_t x = std::max<int64_t>(0, px - r); x <= std::min(width - 1, px + r); ++x) {
        const double d2 = double((x - px) * (x - px) + (y - py) * (y - py));
        float &v = heat[y * width + x];
        v = std::max(v, float(std::exp(-d2 / (2 * sigma * sigma))));
      }
    const size_t at = size_t(py * width + px);
    t.size[at] = float(w), t.size[plane + at] = float(h);
    t.offset[at] = float(cx - double(px)), t.offset[plane + at] = float(cy - double(py));
    t.mask[at] = 1;
  }
  return t;
}

std::vector<Detection> decodeCenterNet(const float *heat, const float *size, const float *offset, int64_t classes,
                                       int64_t height, int64_t width, int64_t stride, int64_t inputHeight,
                                       int64_t inputWidth, int64_t maxDetections, float threshold, int64_t image) {
  struct Peak {
    float score;
    int64_t k, y, x;
  };
  std::vector<Peak> peaks;
  const int64_t plane = height * width;
  for (int64_t k = 0; k < classes; ++k)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) {
        const float v = heat[k * plane + y * width + x];
        if (v < threshold)
          continue;
        bool peak = true;
        for (int64_t dy = -1; dy <= 1 && peak; ++dy)
          for (int64_t dx = -1; dx <= 1; ++dx) {
            const int64_t yy = y + dy, xx = x + dx;
            if (yy >= 0 && yy < height && xx >= 0 && xx < width && heat[k * plane + yy * width + xx] > v) {
              peak = false;
              break;
            }
          }
        if (peak)
          peaks.push_back({v, k, y, x});
      }
  std::stable_sort(peaks.begin(), peaks.end(), [](const Peak &a, const Peak &b) { return a.score > b.score; });
  if (int64_t(peaks.size()) > maxDetections)
    peaks.resize(size_t(std::max<int64_t>(maxDetections, 0)));
  std::vector<Detection> out;
  const float R = float(stride);
  for (const Peak &p : peaks) {
    const int64_t at = p.y * width + p.x;
    const float cx = (float(p.x) + offset[at]) * R, cy = (float(p.y) + offset[plane + at]) * R;
    const float w = size[at] * R, h = size[plane + at] * R;
    Detection d;
    d.image = image;
    d.score = p.score;
    d.box.label = p.k;
    d.box.xmin = std::clamp(cx - w / 2, 0.0f, float(inputWidth));
    d.box.xmax = std::clamp(cx + w / 2, 0.0f, float(inputWidth));
    d.box.ymin = std::clamp(cy - h / 2, 0.0f, float(inputHeight));
    d.box.ymax = std::clamp(cy + h / 2, 0.0f, float(inputHeight));
    out.push_back(d);
  }
  return out;
}

} // namespace pce::rt
