//===- Examples.cpp - a data source's examples as a model's input ---------===//

#include "runtime/datasets/Examples.h"

#include "runtime/ThreadPool.h"
#include "runtime/datasets/Camelyon.h"
#include "runtime/datasets/PCam.h"
#include "runtime/datasets/TinyImageNet.h"
#include "runtime/datasets/Voc.h"
#include "runtime/datasets/Transform.h"

#include <algorithm>
#include <cmath>
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
                   int64_t width, int threads, uint8_t *out, FittedLabels *labels) {
  const size_t plane = size_t(height * width), item = size_t(channels) * plane;
  const size_t n = examples.size();
  const bool masks = labels && source.task() == Task::Segmentation;
  const bool boxes = labels && source.task() == Task::Detection;
  if (labels) {
    labels->masks.assign(masks ? n * plane : 0, kVoidLabel);
    labels->boxes.assign(boxes ? n : 0, {});
    labels->imageBoxes.assign(boxes ? n : 0, {});
    labels->views.assign(n, View{});
    labels->imageSizes.assign(n, {0, 0});
    labels->sources.assign(n, "");
    labels->groups.assign(n, "");
  }
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
    if (masks && (sample->mask.height != image->height || sample->mask.width != image->width))
      return fail(sample->source + ": no segmentation mask of the image's size");
    Sample fitted;
    fitted.image = std::move(*image);
    if (masks)
      fitted.mask = std::move(sample->mask);
    if (boxes)
      fitted.boxes = sample->boxes;
    const View view = fitView(fitted.image.height, fitted.image.width, height, width);
    Sample viewed = applyView(fitted, view);
    const Image &pixels = viewed.image;
    if (labels) {
      labels->views[size_t(k)] = view;
      labels->imageSizes[size_t(k)] = {fitted.image.height, fitted.image.width};
      labels->sources[size_t(k)] = sample->source;
      labels->groups[size_t(k)] = sample->group;
      if (masks)
        std::copy(viewed.mask.pixels.begin(), viewed.mask.pixels.end(), labels->masks.begin() + long(size_t(k) * plane));
      if (boxes) {
        labels->boxes[size_t(k)] = std::move(viewed.boxes);
        labels->imageBoxes[size_t(k)] = std::move(sample->boxes);
      }
    }
    uint8_t *dst = out + size_t(k) * item;
    for (size_t p = 0; p < plane; ++p)
      for (size_t c = 0; c < size_t(channels); ++c)
        dst[c * plane + p] = pixels.pixels[p * size_t(channels) + c];
  });
  return firstBad < 0 ? Status::success() : Status::error(message);
}

std::vector<GroundTruthObject> truthOf(const FittedLabels &labels, size_t k) {
  std::vector<GroundTruthObject> out;
  for (const Box &b : labels.imageBoxes.at(k))
    out.push_back({DetectionBox{b.xmin, b.ymin, b.xmax, b.ymax, b.label}, b.difficult});
  return out;
}

std::function<DetectionBox(const DetectionBox &)> toImageOf(const FittedLabels &labels, size_t k) {
  const View view = labels.views.at(k);
  const auto [height, width] = labels.imageSizes.at(k);
  return [view, height = height, width = width](const DetectionBox &d) {
    Box b;
    b.xmin = d.xmin, b.ymin = d.ymin, b.xmax = d.xmax, b.ymax = d.ymax;
    b = boxToImage(b, view, height, width);
    return DetectionBox{b.xmin, b.ymin, b.xmax, b.ymax, d.label};
  };
}

Expected<std::unique_ptr<DataSource>> openDataSource(const std::string &format, const std::string &path,
                                                     const std::string &split, std::optional<Task> task,
                                                     const DataOptions &options) {
  if (Status s = checkDataOptions(format, options); !s)
    return s;
  if (format == "camelyon16") {
    CamelyonOptions o;
    auto integer = [&](const char *name, int64_t min, int64_t &out) -> Status {
      auto it = options.find(name);
      if (it == options.end())
        return Status::success();
      if (it->second != std::floor(it->second) || it->second < double(min) || it->second > 1e9)
        return Status::error(std::string("data option '") + name + "' must be a whole number >= " +
                             std::to_string(min));
      out = int64_t(it->second);
      return Status::success();
    };
    int64_t level = o.level;
    if (Status s = integer("level", 0, level); !s)
      return s;
    if (Status s = integer("tile_size", 1, o.tileSize); !s)
      return s;
    if (Status s = integer("stride", 0, o.stride); !s)
      return s;
    o.level = int(std::min<int64_t>(level, 64));
    if (auto it = options.find("min_tissue"); it != options.end()) {
      if (!(it->second >= 0 && it->second <= 1))
        return Status::error("data option 'min_tissue' must be in [0, 1]");
      o.minTissue = it->second;
    }
    return openCamelyon16(path, split, o);
  }
  if (format == "tiny-imagenet")
    return openTinyImageNet(path, split);
  if (format == "pcam")
    return openPCam(path, split);
  if (format == "voc")
    return openVoc(path, split, task.value_or(Task::Segmentation));
  return Status::error("unknown image data format '" + format + "'");
}

} // namespace pce::rt
