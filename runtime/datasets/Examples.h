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

#include <optional>

namespace pce::rt {

// Examples `examples` of `source` as u8 [n, channels, height, width] into
// `out` (n * channels * height * width bytes), on up to `threads` threads;
// the first error (by example order) is returned, naming the file.
Status fitExamples(const DataSource &source, const std::vector<int64_t> &examples, int64_t channels, int64_t height,
                   int64_t width, int threads, uint8_t *out);

// Opens `split` ("train", "val" or "test") of a data set in format
// tiny-imagenet, pcam, voc or camelyon16 under `path`; `task` chooses
// between VOC's detection and segmentation sets (default segmentation).
Expected<std::unique_ptr<DataSource>> openDataSource(const std::string &format, const std::string &path,
                                                     const std::string &split,
                                                     std::optional<Task> task = std::nullopt);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_EXAMPLES_H
