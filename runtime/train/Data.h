//===- Data.h - the data set for training: split, augmentation, batches ---===//
//
// training.data in its format: IDX files (Fashion-MNIST's names, plain or
// .gz, runtime/Idx.h) or CIFAR-10/100's binary version (runtime/Cifar.h).
// Pixels /255, then (x - mean) / std per channel: the given statistics, IDX's
// default 0.2860 / 0.3530, or for CIFAR those of the training split. The
// training set is split (the last `validation` images of a permutation
// seeded by training.seed are held out) and the test set is kept for one
// evaluation at the end.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_DATA_H
#define PCE_RUNTIME_TRAIN_DATA_H

#include "runtime/DataDescription.h"
#include "runtime/TrainingPlan.h"
#include "runtime/datasets/Examples.h"

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

namespace pce::train {

constexpr float kPixelMean = 0.2860f, kPixelStd = 0.3530f;

// Examples decoded on demand (a data set too large for memory): u8
// [n, C, H, W] planes of the examples at `positions` of the split.
class ImageStream {
public:
  virtual ~ImageStream() = default;
  virtual torch::Tensor pixels(const std::vector<int64_t> &positions) const = 0;
  virtual std::vector<int64_t> itemShape() const = 0; // [C, H, W]
};

// A split's images and labels. Images are either f32 [N,C,H,W] already
// normalised (IDX, CIFAR, npy), or u8 [N,C,H,W] pixels, or a stream of
// them, normalised per batch with `mean` and `std` ([1,C,1,1]) by the same
// arithmetic: x / 255, then (x - mean) / std.
struct Dataset {
  torch::Tensor images;
  torch::Tensor labels; // i64 [N]; -1 for the examples of a dense split
  // A detection / segmentation split (image data sets, in memory): masks
  // u8 [N,H,W] of a segmentation split, and the boxes, views and image sizes
  // (runtime/datasets/Examples.h) in the model's input geometry.
  torch::Tensor masks;
  std::shared_ptr<const rt::FittedLabels> dense;
  torch::Tensor mean, std;
  std::shared_ptr<const ImageStream> stream;

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  std::vector<int64_t> itemShape() const;
  // f32 normalised images of the examples at `indices` (i64 [n]) / in [start, end).
  torch::Tensor imagesAt(const torch::Tensor &indices) const;
  torch::Tensor imagesIn(int64_t start, int64_t end) const;
  // u8 pixels (not normalised) of `indices`, for a prefetching thread;
  // normalise() finishes them on the training thread.
  torch::Tensor pixelsAt(const torch::Tensor &indices) const;
  torch::Tensor normalise(const torch::Tensor &pixels) const;
  bool normalisedInMemory() const { return images.defined() && images.scalar_type() == torch::kFloat32; }
};

// The images of the batches of an epoch, fetched one batch ahead on a
// background thread when the split decodes its images (a stream); read
// inline otherwise.
class BatchPrefetcher {
public:
  BatchPrefetcher(const Dataset &data, const std::vector<torch::Tensor> &batches);
  ~BatchPrefetcher();
  torch::Tensor take(size_t b); // f32 normalised images of batch b (in order)

private:
  const Dataset &data_;
  const std::vector<torch::Tensor> &batches_;
  std::future<torch::Tensor> next_;
};

struct DataSplit {
  Dataset train, validation, test;
  std::string trainFile, testFile; // the files read (for messages)
  rt::DataDescription description; // format, mean, std, class names
  // The normalised value of a black pixel, per channel (crop padding).
  std::vector<float> black() const;
};

// DIR/NAME.gz if it exists, else DIR/NAME; an error naming both when neither does.
std::string findIdxFile(const std::string &dir, const std::string &name);

// Images and labels of one pair of IDX files; throws std::runtime_error with
// the reader's message (file and byte offset).
Dataset loadIdxPair(const std::string &images, const std::string &labels, float mean = kPixelMean,
                    float std = kPixelStd);

// The training/validation split: a permutation of [0, n) from `seed`; the
// last `validation` indices are held out. Returns {train, validation}.
std::pair<torch::Tensor, torch::Tensor> splitIndices(int64_t n, int64_t validation, uint64_t seed);

// Loads DIR's training and test files and splits the training file;
// limitTrain > 0 keeps only the first limitTrain training images.
DataSplit loadFashionMnist(const std::string &dir, int64_t validation, uint64_t seed, int64_t limitTrain,
                           float mean = kPixelMean, float std = kPixelStd);

// How image data sets (runtime/datasets) are held: decoded once into u8
// memory when the three splits fit in `cacheBytes`, else decoded batch by
// batch; `threads` decode (all of them at load, while nothing else runs).
struct ImageDataOptions {
  rt::HeadKind head = rt::HeadKind::Classification; // which labels to read
  int64_t cacheBytes = int64_t(4) << 30;
  int threads = 1;
  int64_t statsImages = 20000; // a stream's normalisation is measured on this many training images
};

// training.data in training.data_format, split as above, images fitted to
// the model's input `item` ([C,H,W]; image data sets are resized to it,
// the others must match); throws std::runtime_error naming the file (and
// byte offset) of bad data.
DataSplit loadData(const rt::TrainingConfig &config, int64_t limitTrain, const std::vector<int64_t> &item = {},
                   const ImageDataOptions &imageOptions = {});

// Random crop with padding `pad` (filled with `black`, the value of a black
// pixel per channel, as torchvision's RandomCrop before Normalize; empty:
// Fashion-MNIST's) and horizontal flips (p = 1/2).
torch::Tensor augment(const torch::Tensor &images, int64_t pad, bool hflip, at::Generator gen,
                      const std::vector<float> &black = {});

// A shuffled epoch: batches of exactly `batch` indices, the last incomplete one dropped.
std::vector<torch::Tensor> epochBatches(int64_t n, int64_t batch, at::Generator gen);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_DATA_H
