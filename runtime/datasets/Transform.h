//===- Transform.h - fitting examples to a model's input, augmentation ----===//
//
// A compiled model takes one input size; data sets come in any. An example
// is brought to it by a View: resize the image (bilinearly, as PyTorch's
// interpolate with align_corners=False) to cover the input, cut a window of
// the input's size (pixels outside the resized image are padding), and
// optionally mirror it. Boxes and masks go through the same View: boxes are
// scaled, shifted, clipped (a box left with no area is dropped) and
// mirrored; masks are resized by nearest neighbour (PyTorch's "nearest") and
// padded with void (kVoidLabel), so a label never moves off its pixels.
//
// Evaluation uses fitView: the shorter side scaled to the input (the longer
// side overflowing), the centre window. Training may use randomView: a
// scale jitter on top of that cover scale, a window anywhere within
// `padding` pixels beyond the resized image, a mirror with probability 1/2.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_TRANSFORM_H
#define PCE_RUNTIME_DATASETS_TRANSFORM_H

#include "runtime/datasets/Image.h"

#include <cstdint>
#include <random>
#include <vector>

namespace pce::rt {

// Resampling, as torch.nn.functional.interpolate on the same pixels (its
// float result rounded half away from zero to 8 bits for bilinear).
Image resizeBilinear(const Image &image, int64_t height, int64_t width);
Image resizeNearest(const Image &image, int64_t height, int64_t width);
// The window rows [y0, y0 + height), columns [x0, x0 + width) of `image`;
// pixels outside it take `fill` (one value per channel, or one for all).
Image cropImage(const Image &image, int64_t y0, int64_t x0, int64_t height, int64_t width,
                const std::vector<uint8_t> &fill);
Image mirrorImage(const Image &image);

struct View {
  int64_t resizedHeight = 0, resizedWidth = 0; // the image is resized to this first
  int64_t y0 = 0, x0 = 0;                     // then this window of the output's size is cut
  int64_t height = 0, width = 0;              // the output size
  bool mirror = false;                        // then mirrored left-right
};

// The shorter side scaled to cover height x width, centred.
View fitView(int64_t imageHeight, int64_t imageWidth, int64_t height, int64_t width);

struct AugmentOptions {
  int64_t padding = 0;                 // the window may reach this far beyond the resized image
  double scaleMin = 1.0, scaleMax = 1.0; // jitter on the cover scale
  bool mirror = false;                 // mirror with probability 1/2
};
// A random view; `rng` is consumed in a fixed order (scale, y0, x0, mirror)
// through integer draws, so the same seed gives the same views everywhere.
View randomView(int64_t imageHeight, int64_t imageWidth, int64_t height, int64_t width,
                const AugmentOptions &options, std::mt19937_64 &rng);

// The sample through `view`: its image (padding `fill`), boxes and mask.
Sample applyView(const Sample &sample, const View &view, const std::vector<uint8_t> &fill = {0});

// The inverse of applyView for a box: `box` in the view's pixels back in
// the pixels of the imageHeight x imageWidth image it came from (unmirrored,
// shifted by the window, scaled back, clipped to the image).
Box boxToImage(Box box, const View &view, int64_t imageHeight, int64_t imageWidth);
// A uniform integer in [lo, hi] from raw 64-bit draws (rejection sampling,
// independent of the standard library's distributions).
int64_t uniformInteger(std::mt19937_64 &rng, int64_t lo, int64_t hi);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_TRANSFORM_H
