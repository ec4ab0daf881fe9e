//===- Image.h - decoded images and the labels of each task ---------------===//
//
// What every data-set reader yields: 8-bit pixels, interleaved (HWC), any
// size and channel count, and the labels of the data set's task (a class,
// boxes, or a mask). Readers of compressed formats decode through Debian's
// libraries (ImageCodec.h); nothing here links LibTorch or MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_IMAGE_H
#define PCE_RUNTIME_DATASETS_IMAGE_H

#include <cstdint>
#include <string>
#include <vector>

namespace pce::rt {

// 8-bit pixels, row-major, channels interleaved: pixel (y, x) channel c is
// pixels[(y * width + x) * channels + c].
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  Image(int64_t h, int64_t w, int64_t c, uint8_t fill = 0)
      : height(h), width(w), channels(c), pixels(static_cast<size_t>(h * w * c), fill) {}
  bool empty() const { return pixels.empty(); }
  uint8_t &at(int64_t y, int64_t x, int64_t c = 0) { return pixels[static_cast<size_t>((y * width + x) * channels + c)]; }
  uint8_t at(int64_t y, int64_t x, int64_t c = 0) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
};

// A box in pixel coordinates of its image, 0-based, corners inclusive-exclusive:
// the object covers x in [xmin, xmax), y in [ymin, ymax). VOC's 1-based
// inclusive bndbox (x1..x2) is [x1 - 1, x2).
struct Box {
  float xmin = 0, ymin = 0, xmax = 0, ymax = 0;
  int64_t label = 0;      // index into the data set's classes
  bool difficult = false; // kept out of training targets and of mAP
  bool truncated = false;
};

// The value of a mask pixel that belongs to no class (VOC's object borders,
// Camelyon's exclusion regions and glass): ignored by losses and metrics.
constexpr uint8_t kVoidLabel = 255;

enum class Task { Classification, Detection, Segmentation };

// One example: the image and the labels of its task.
struct Sample {
  Image image;
  int64_t label = -1;     // classification
  std::vector<Box> boxes; // detection
  Image mask;             // segmentation: 1 channel, image-sized, class or kVoidLabel
  std::string source;     // the file it came from, for messages
  std::string group;      // what results are also reported by (a Camelyon tile's slide); empty elsewhere
};

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_IMAGE_H
