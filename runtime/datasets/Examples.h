//===- Examples.h - a data source's examples as a model's input -----------===//
//
// The one rule by which pce-train and pce-run turn decoded examples into
// input planes: the image through fitView to the model's height x width
// (shorter side to the input, centre window), its channels matched to the
// model's (grayscale replicated to RGB; RGBA's alpha dropped; colour into a
// one-channel model is an error, not a silent conversion), laid out as
// 8-bit planes [C,H,W]. Decoding runs on worker threads.
//
// The image data formats by name (training.data.format, --data-format;
// runtime/DataDescription.h says which they are).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_EXAMPLES_H
#define PCE_RUNTIME_DATASETS_EXAMPLES_H

#include "runtime/DataDescription.h"
#include "runtime/datasets/DataSource.h"
#include "runtime/datasets/Transform.h"
#include "runtime/metrics/Detection.h"

#include <functional>

#include <optional>

namespace pce::rt {

// The labels of dense examples through the same view as their images.
struct FittedLabels {
  std::vector<uint8_t> masks;          // segmentation: [n, height, width], void outside the image
  std::vector<std::vector<Box>> boxes; // detection: in the view's pixels (boxes cut off dropped)
  // Detection evaluation maps detections back into the image they came from.
  std::vector<std::vector<Box>> imageBoxes; // as the data set gives them
  std::vector<View> views;
  std::vector<std::pair<int64_t, int64_t>> imageSizes; // height, width
  std::vector<std::string> sources;                    // the file each example came from
  std::vector<std::string> groups;                     // Sample::group of each example
};

// Examples `examples` of `source` as u8 [n, channels, height, width] into
// `out` (n * channels * height * width bytes), on up to `threads` threads;
// the first error (by example order) is returned, naming the file. With
// `labels`, the masks (a segmentation source; an example without one is an
// error) or boxes (a detection source) of the examples too.
Status fitExamples(const DataSource &source, const std::vector<int64_t> &examples, int64_t channels, int64_t height,
                   int64_t width, int threads, uint8_t *out, FittedLabels *labels = nullptr);

// Example k's objects as the detection metric takes them: the data set's
// own boxes in its image's pixels (difficult ones marked).
std::vector<GroundTruthObject> truthOf(const FittedLabels &labels, size_t k);
// A box in the model's input pixels mapped back into example k's image
// (boxToImage through its view).
std::function<DetectionBox(const DetectionBox &)> toImageOf(const FittedLabels &labels, size_t k);

// Opens `split` ("train", "val" or "test") of a data set in format
// tiny-imagenet, pcam, voc or camelyon16 under `path`; `task` chooses
// between VOC's detection and segmentation sets (default segmentation).
// `options` are the reader's (DataDescription.h: camelyon16's tiling, by
// CamelyonOptions' names); one the format does not take is an error.
Expected<std::unique_ptr<DataSource>> openDataSource(const std::string &format, const std::string &path,
                                                     const std::string &split,
                                                     std::optional<Task> task = std::nullopt,
                                                     const DataOptions &options = {});

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_EXAMPLES_H
