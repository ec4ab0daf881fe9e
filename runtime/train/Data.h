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

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace pce::train {

constexpr float kPixelMean = 0.2860f, kPixelStd = 0.3530f;

struct Dataset {
  torch::Tensor images; // f32 [N,1,H,W], normalised
  torch::Tensor labels; // i64 [N]
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
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
Dataset loadIdxPair(const std::string &images, const std::string &labels);

// The training/validation split: a permutation of [0, n) from `seed`; the
// last `validation` indices are held out. Returns {train, validation}.
std::pair<torch::Tensor, torch::Tensor> splitIndices(int64_t n, int64_t validation, uint64_t seed);

// Loads DIR's training and test files and splits the training file;
// limitTrain > 0 keeps only the first limitTrain training images.
DataSplit loadFashionMnist(const std::string &dir, int64_t validation, uint64_t seed, int64_t limitTrain);

// training.data in training.data_format, split as above; throws
// std::runtime_error naming the file (and byte offset) of bad data.
DataSplit loadData(const rt::TrainingConfig &config, int64_t limitTrain);

// Random crop with padding `pad` (filled with `black`, the value of a black
// pixel per channel, as torchvision's RandomCrop before Normalize; empty:
// Fashion-MNIST's) and horizontal flips (p = 1/2).
torch::Tensor augment(const torch::Tensor &images, int64_t pad, bool hflip, at::Generator gen,
                      const std::vector<float> &black = {});

// A shuffled epoch: batches of exactly `batch` indices, the last incomplete one dropped.
std::vector<torch::Tensor> epochBatches(int64_t n, int64_t batch, at::Generator gen);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_DATA_H
