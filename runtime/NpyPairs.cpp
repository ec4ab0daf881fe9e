//===- NpyPairs.cpp - a data set as .npy files: images and labels ---------===//

#include "runtime/NpyPairs.h"

#include "runtime/Npy.h"

#include <filesystem>

namespace pce::rt {

namespace {
bool isChannelCount(int64_t c) { return c == 1 || c == 3 || c == 4; }

Expected<HostTensor> imagesAsNchw(const HostTensor &in, const std::string &path) {
  if (in.shape.size() != 4)
    return Status::error(path + ": images must be [N,C,H,W] or [N,H,W,C], found " + in.typeString());
  if (!in.u8() && !in.f32() && !in.f64())
    return Status::error(path + ": images must be u8, f32 or f64, found " + in.typeString());
  const int64_t n = in.shape[0];
  bool nchw = isChannelCount(in.shape[1]), nhwc = isChannelCount(in.shape[3]);
  if (nchw == nhwc)
    return Status::error(path + ": cannot tell the channels of " + in.typeString() +
                         " (expected 1, 3 or 4 of them in dimension 1 or 3, not both)");
  const int64_t c = nchw ? in.shape[1] : in.shape[3], h = nchw ? in.shape[2] : in.shape[1],
                w = nchw ? in.shape[3] : in.shape[2];
  auto out = HostTensor::create(DType::F32, {n, c, h, w});
  if (!out)
    return out.status();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          int64_t from = nchw ? ((i * c + ch) * h + y) * w + x : ((i * h + y) * w + x) * c + ch;
          double v = in.u8() ? in.u8()[from] / 255.0 : in.f32() ? in.f32()[from] : in.f64()[from];
          if (!in.u8() && !(v >= 0.0 && v <= 1.0))
            return Status::error(path + ": image " + std::to_string(i) + " holds " + std::to_string(v) +
                                 ": float images must be in [0, 1] (u8 pixels are divided by 255)");
          out->f32()[((i * c + ch) * h + y) * w + x] =
              in.u8() ? static_cast<float>(in.u8()[from]) / 255.0f : static_cast<float>(v);
        }
  return std::move(*out);
}

Expected<HostTensor> labelsAsI64(const HostTensor &in, const std::string &path, int64_t n) {
  if (in.shape.size() != 1 || (!in.u8() && !in.i32() && !in.i64()))
    return Status::error(path + ": labels must be an integer [N] (u8, i32 or i64), found " + in.typeString());
  if (in.shape[0] != n)
    return Status::error(path + ": " + std::to_string(in.shape[0]) + " labels for " + std::to_string(n) + " images");
  auto out = HostTensor::create(DType::I64, {n});
  if (!out)
    return out.status();
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = in.u8() ? in.u8()[i] : in.i32() ? in.i32()[i] : in.i64()[i];
    if (v < 0)
      return Status::error(path + ": label " + std::to_string(v) + " of item " + std::to_string(i) + " is negative");
    out->i64()[i] = v;
  }
  return std::move(*out);
}
} // namespace

Expected<NpyPair> readNpyPair(const std::string &dir, const std::string &split) {
  std::filesystem::path base = std::filesystem::path(dir) / split;
  std::string imagesPath = (base / "images.npy").string(), labelsPath = (base / "labels.npy").string();
  auto images = readNpy(imagesPath);
  if (!images)
    return images.status();
  auto labels = readNpy(labelsPath);
  if (!labels)
    return labels.status();
  auto nchw = imagesAsNchw(*images, imagesPath);
  if (!nchw)
    return nchw.status();
  auto y = labelsAsI64(*labels, labelsPath, nchw->shape[0]);
  if (!y)
    return y.status();
  return NpyPair{std::move(*nchw), std::move(*y), imagesPath};
}

Status normalizeChannels(HostTensor &images, const std::vector<float> &mean, const std::vector<float> &std) {
  if (!images.f32() || images.shape.size() != 4)
    return Status::error("normalizeChannels: expected f32 [N,C,H,W] images, found " + images.typeString());
  const int64_t n = images.shape[0], c = images.shape[1], plane = images.shape[2] * images.shape[3];
  if (static_cast<int64_t>(mean.size()) != c || static_cast<int64_t>(std.size()) != c)
    return Status::error("the images have " + std::to_string(c) + " channels; the normalisation has " +
                         std::to_string(mean.size()) + " means and " + std::to_string(std.size()) + " stds");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      float *p = images.f32() + (i * c + ch) * plane;
      for (int64_t k = 0; k < plane; ++k)
        p[k] = (p[k] - mean[ch]) / std[ch];
    }
  return Status::success();
}

} // namespace pce::rt
