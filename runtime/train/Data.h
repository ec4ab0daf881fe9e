//===- Data.h - Fashion-MNIST for training: split, augmentation, batches --===//
//
// The IDX files of training.data (plain or .gz, runtime/Idx.h), pixels /255
// then (x - 0.2860) / 0.3530. The 60k training file is split 55k/5k (the last
// `validation` images of a permutation seeded by training.seed) and the test
// file is kept for one evaluation at the end.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_DATA_H
#define PCE_RUNTIME_TRAIN_DATA_H

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
  std::string trainFile, testFile; // the image files read (for messages)
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

// Random crop with padding `pad` (filled with the value of a black pixel,
// as torchvision's RandomCrop before Normalize) and horizontal flips (p = 1/2).
torch::Tensor augment(const torch::Tensor &images, int64_t pad, bool hflip, at::Generator gen);

// A shuffled epoch: batches of exactly `batch` indices, the last incomplete one dropped.
std::vector<torch::Tensor> epochBatches(int64_t n, int64_t batch, at::Generator gen);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_DATA_H
