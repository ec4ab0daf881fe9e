//===- Transform.cpp - fitting examples to a model's input ----------------===//

#include "runtime/datasets/Transform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pce::rt {

namespace {
// PyTorch computes resampling coordinates in float for float tensors; so do
// we, so that the same source pixels are chosen.
float sourceScale(int64_t in, int64_t out) { return float(in) / float(out); }
} // namespace

Image resizeBilinear(const Image &image, int64_t height, int64_t width) {
  if (height == image.height && width == image.width)
    return image; // every source coordinate is a pixel centre: a copy
  Image out(height, width, image.channels);
  const float sy = sourceScale(image.height, height), sx = sourceScale(image.width, width);
  const size_t n = size_t(width);
  std::vector<int64_t> x0(n), x1(n);
  std::vector<float> lx(n);
  for (int64_t x = 0; x < width; ++x) {
    float src = std::max(sx * (float(x) + 0.5f) - 0.5f, 0.0f);
    x0[size_t(x)] = std::min(int64_t(src), image.width - 1);
    x1[size_t(x)] = std::min(x0[size_t(x)] + 1, image.width - 1);
    lx[size_t(x)] = src - float(x0[size_t(x)]);
  }
  for (int64_t y = 0; y < height; ++y) {
    float src = std::max(sy * (float(y) + 0.5f) - 0.5f, 0.0f);
    const int64_t y0 = std::min(int64_t(src), image.height - 1), y1 = std::min(y0 + 1, image.height - 1);
    const float ly = src - float(y0);
    for (int64_t x = 0; x < width; ++x) {
      const size_t i = size_t(x);
      for (int64_t c = 0; c < image.channels; ++c) {
        float top = (1 - lx[i]) * image.at(y0, x0[i], c) + lx[i] * image.at(y0, x1[i], c);
        float bottom = (1 - lx[i]) * image.at(y1, x0[i], c) + lx[i] * image.at(y1, x1[i], c);
        float v = (1 - ly) * top + ly * bottom;
        out.at(y, x, c) = uint8_t(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

Image resizeNearest(const Image &image, int64_t height, int64_t width) {
  if (height == image.height && width == image.width)
    return image;
  Image out(height, width, image.channels);
  const float sy = sourceScale(image.height, height), sx = sourceScale(image.width, width);
  for (int64_t y = 0; y < height; ++y) {
    const int64_t ys = std::min(int64_t(std::floor(float(y) * sy)), image.height - 1);
    for (int64_t x = 0; x < width; ++x) {
      const int64_t xs = std::min(int64_t(std::floor(float(x) * sx)), image.width - 1);
      for (int64_t c = 0; c < image.channels; ++c)
        out.at(y, x, c) = image.at(ys, xs, c);
    }
  }
  return out;
}

Image cropImage(const Image &image, int64_t y0, int64_t x0, int64_t height, int64_t width,
                const std::vector<uint8_t> &fill) {
  if (fill.size() != 1 && int64_t(fill.size()) != image.channels)
    throw std::invalid_argument("cropImage: " + std::to_string(fill.size()) + " fill values for " +
                                std::to_string(image.channels) + " channels");
  Image out(height, width, image.channels);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      const int64_t ys = y + y0, xs = x + x0;
      const bool inside = ys >= 0 && ys < image.height && xs >= 0 && xs < image.width;
      for (int64_t c = 0; c < image.channels; ++c)
        out.at(y, x, c) = inside ? image.at(ys, xs, c) : fill[fill.size() == 1 ? 0 : size_t(c)];
    }
  return out;
}

Image mirrorImage(const Image &image) {
  Image out(image.height, image.width, image.channels);
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x)
      for (int64_t c = 0; c < image.channels; ++c)
        out.at(y, image.width - 1 - x, c) = image.at(y, x, c);
  return out;
}

namespace {
// The size of a side after scaling by `scale`, at least the output's so the
// window is covered (rounding could leave it a pixel short).
int64_t scaledSide(int64_t side, double scale, int64_t atLeast) {
  return std::max<int64_t>(std::llround(double(side) * scale), atLeast);
}

Box mirrored(Box b, int64_t width) {
  const float xmin = float(width) - b.xmax;
  b.xmax = float(width) - b.xmin;
  b.xmin = xmin;
  return b;
}
} // namespace

View fitView(int64_t imageHeight, int64_t imageWidth, int64_t height, int64_t width) {
  const double cover = std::max(double(height) / double(imageHeight), double(width) / double(imageWidth));
  View v;
  v.height = height, v.width = width;
  v.resizedHeight = scaledSide(imageHeight, cover, height);
  v.resizedWidth = scaledSide(imageWidth, cover, width);
  v.y0 = (v.resizedHeight - height) / 2;
  v.x0 = (v.resizedWidth - width) / 2;
  return v;
}

int64_t uniformInteger(std::mt19937_64 &rng, int64_t lo, int64_t hi) {
  if (hi <= lo)
    return lo;
  const uint64_t span = uint64_t(hi - lo) + 1;
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % span;
  uint64_t r;
  do
    r = rng();
  while (r >= limit);
  return lo + int64_t(r % span);
}

View randomView(int64_t imageHeight, int64_t imageWidth, int64_t height, int64_t width,
                const AugmentOptions &options, std::mt19937_64 &rng) {
  const double cover = std::max(double(height) / double(imageHeight), double(width) / double(imageWidth));
  // The jitter in steps of 1/1024 of its range: an integer draw, so no
  // floating-point distribution decides it.
  const double t = double(uniformInteger(rng, 0, 1024)) / 1024.0;
  const double scale = cover * (options.scaleMin + t * (options.scaleMax - options.scaleMin));
  View v;
  v.height = height, v.width = width;
  // A jitter below 1 may leave the image smaller than the window: padding.
  v.resizedHeight = std::max<int64_t>(std::llround(double(imageHeight) * scale), 1);
  v.resizedWidth = std::max<int64_t>(std::llround(double(imageWidth) * scale), 1);
  auto offset = [&](int64_t resized, int64_t out) {
    const int64_t lo = std::min<int64_t>(0, resized - out) - options.padding;
    const int64_t hi = std::max<int64_t>(0, resized - out) + options.padding;
    return uniformInteger(rng, lo, hi);
  };
  v.y0 = offset(v.resizedHeight, height);
  v.x0 = offset(v.resizedWidth, width);
  v.mirror = options.mirror && uniformInteger(rng, 0, 1) == 1;
  return v;
}

Sample applyView(const Sample &sample, const View &view, const std::vector<uint8_t> &fill) {
  Sample out;
  out.label = sample.label;
  out.source = sample.source;
  const Image &img = sample.image;
  out.image = cropImage(resizeBilinear(img, view.resizedHeight, view.resizedWidth), view.y0, view.x0, view.height,
                        view.width, fill);
  if (!sample.mask.empty())
    out.mask = cropImage(resizeNearest(sample.mask, view.resizedHeight, view.resizedWidth), view.y0, view.x0,
                         view.height, view.width, {kVoidLabel});
  const float sx = float(view.resizedWidth) / float(img.width), sy = float(view.resizedHeight) / float(img.height);
  for (Box b : sample.boxes) {
    b.xmin = std::clamp(b.xmin * sx - float(view.x0), 0.0f, float(view.width));
    b.xmax = std::clamp(b.xmax * sx - float(view.x0), 0.0f, float(view.width));
    b.ymin = std::clamp(b.ymin * sy - float(view.y0), 0.0f, float(view.height));
    b.ymax = std::clamp(b.ymax * sy - float(view.y0), 0.0f, float(view.height));
    if (b.xmax <= b.xmin || b.ymax <= b.ymin)
      continue; // cut off entirely
    if (view.mirror)
      b = mirrored(b, view.width);
    out.boxes.push_back(b);
  }
  if (view.mirror) {
    out.image = mirrorImage(out.image);
    if (!out.mask.empty())
      out.mask = mirrorImage(out.mask);
  }
  return out;
}

Box boxToImage(Box b, const View &view, int64_t imageHeight, int64_t imageWidth) {
  if (view.mirror)
    b = mirrored(b, view.width);
  const float sx = float(view.resizedWidth) / float(imageWidth), sy = float(view.resizedHeight) / float(imageHeight);
  b.xmin = std::clamp((b.xmin + float(view.x0)) / sx, 0.0f, float(imageWidth));
  b.xmax = std::clamp((b.xmax + float(view.x0)) / sx, 0.0f, float(imageWidth));
  b.ymin = std::clamp((b.ymin + float(view.y0)) / sy, 0.0f, float(imageHeight));
  b.ymax = std::clamp((b.ymax + float(view.y0)) / sy, 0.0f, float(imageHeight));
  return b;
}

} // namespace pce::rt
