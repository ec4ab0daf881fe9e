//===- Examples.cpp - a data source's examples as a model's input ---------===//

#include "runtime/datasets/Examples.h"

#include "runtime/ThreadPool.h"
#include "runtime/datasets/Camelyon.h"
#include "runtime/datasets/PCam.h"
#include "runtime/datasets/TinyImageNet.h"
#include "runtime/datasets/Voc.h"
#include "runtime/datasets/Transform.h"

#include <mutex>

namespace pce::rt {

namespace {

// `image` with `channels` channels under the rule in the header.
Expected<Image> matchChannels(Image image, int64_t channels, const std::string &source) {
  if (image.channels == channels)
    return image;
  if (image.channels == 1 && channels == 3) {
    Image rgb(image.height, image.width, 3);
    for (size_t p = 0; p < image.pixels.size(); ++p)
      rgb.pixels[3 * p] = rgb.pixels[3 * p + 1] = rgb.pixels[3 * p + 2] = image.pixels[p];
    return rgb;
  }
  if (image.channels == 4 && channels == 3) {
    Image rgb(image.height, image.width, 3);
    for (size_t p = 0; p < size_t(image.height * image.width); ++p)
      for (size_t c = 0; c < 3; ++c)
        rgb.pixels[3 * p + c] = image.pixels[4 * p + c];
    return rgb;
  }
  return Status::error(source + ": the image has " + std::to_string(image.channels) + " channels, the model takes " +
                       std::to_string(channels));
}

} // namespace

Status fitExamples(const DataSource &source, const std::vector<int64_t> &examples, int64_t channels, int64_t height,
                   int64_t width, int threads, uint8_t *out) {
  const size_t plane = size_t(height * width), item = size_t(channels) * plane;
  std::mutex mu;
  int64_t firstBad = -1;
  std::string message;
  parallelFor(int64_t(examples.size()), threads, [&](int64_t k) {
    auto fail = [&](const std::string &m) {
      std::lock_guard<std::mutex> lock(mu);
      if (firstBad < 0 || k < firstBad)
        firstBad = k, message = m;
    };
    auto sample = source.load(examples[size_t(k)]);
    if (!sample)
      return fail(sample.error());
    if (sample->image.empty())
      return fail(sample->source + ": an image with no pixels");
    auto image = matchChannels(std::move(sample->image), channels, sample->source);
    if (!image)
      return fail(image.error());
    Sample fitted;
    fitted.image = std::move(*image);
    Image pixels = applyView(fitted, fitView(fitted.image.height, fitted.image.width, height, width)).image;
    uint8_t *dst = out + size_t(k) * item;
    for (size_t p = 0; p < plane; ++p)
      for (size_t c = 0; c < size_t(channels); ++c)
        dst[c * plane + p] = pixels.pixels[p * size_t(channels) + c];
  });
  return firstBad < 0 ? Status::success() : Status::error(message);
}

Expected<std::unique_ptr<DataSource>> openDataSource(const std::string &format, const std::string &path,
                                                     const std::string &split, std::optional<Task> task) {
  if (format == "tiny-imagenet")
    return openTinyImageNet(path, split);
  if (format == "pcam")
    return openPCam(path, split);
  if (format == "camelyon16")
    return openCamelyon16(path, split);
  if (format == "voc")
    return openVoc(path, split, task.value_or(Task::Segmentation));
  return Status::error("unknown image data format '" + format + "'");
}

} // namespace pce::rt
