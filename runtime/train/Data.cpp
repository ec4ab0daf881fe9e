//===- Data.cpp - the data set for training --------------------------------===//

#include "runtime/train/Data.h"

#include "runtime/train/ImageData.h"

#include "runtime/Cifar.h"
#include "runtime/Idx.h"
#include "runtime/NpyPairs.h"
#include "runtime/torch/TensorConvert.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <stdexcept>

namespace pce::train {

namespace fs = std::filesystem;

std::string findIdxFile(const std::string &dir, const std::string &name) {
  auto path = rt::findIdxFile(dir, name);
  if (!path)
    throw std::runtime_error(path.error() + " (training.data or --data names the Fashion-MNIST directory)");
  return *path;
}

Dataset loadIdxPair(const std::string &images, const std::string &labels, float mean, float std) {
  rt::IdxDatasetOptions options;
  options.normalization = rt::IdxNormalization{mean, std};
  auto ds = rt::readIdxDataset(images, labels, options);
  if (!ds)
    throw std::runtime_error(ds.error());
  if (ds->images.shape.size() != 4)
    throw std::runtime_error(images + ": expected images [N,H,W]");
  Dataset out;
  out.images = torchrt::toTorch(std::move(ds->images));
  out.labels = torchrt::toTorch(std::move(*ds->labels));
  return out;
}

std::pair<torch::Tensor, torch::Tensor> splitIndices(int64_t n, int64_t validation, uint64_t seed) {
  if (validation >= n)
    throw std::runtime_error("validation holds " + std::to_string(validation) + " images but the training file has only " +
                             std::to_string(n));
  at::Generator gen = at::detail::createCPUGenerator(seed);
  torch::Tensor perm = torch::randperm(n, gen, torch::kLong);
  return {perm.slice(0, 0, n - validation), perm.slice(0, n - validation, n)};
}

DataSplit loadFashionMnist(const std::string &dir, int64_t validation, uint64_t seed, int64_t limitTrain, float mean,
                           float std) {
  DataSplit s;
  s.description = {"idx", {mean}, {std}, {}};
  s.trainFile = findIdxFile(dir, "train-images-idx3-ubyte");
  Dataset all = loadIdxPair(s.trainFile, findIdxFile(dir, "train-labels-idx1-ubyte"), mean, std);
  auto [train, val] = splitIndices(all.size(), validation, seed);
  if (limitTrain > 0 && limitTrain < train.size(0))
    train = train.slice(0, 0, limitTrain);
  s.train = {all.images.index_select(0, train), all.labels.index_select(0, train)};
  s.validation = {all.images.index_select(0, val), all.labels.index_select(0, val)};
  s.testFile = findIdxFile(dir, "t10k-images-idx3-ubyte");
  s.test = loadIdxPair(s.testFile, findIdxFile(dir, "t10k-labels-idx1-ubyte"), mean, std);
  return s;
}

std::vector<int64_t> Dataset::itemShape() const {
  if (stream)
    return stream->itemShape();
  return images.defined() ? images.sizes().slice(1).vec() : std::vector<int64_t>{};
}

torch::Tensor Dataset::pixelsAt(const torch::Tensor &indices) const {
  if (!stream)
    return images.index_select(0, indices);
  torch::Tensor idx = indices.to(torch::kLong).contiguous();
  const int64_t *p = idx.data_ptr<int64_t>();
  return stream->pixels(std::vector<int64_t>(p, p + idx.numel()));
}

torch::Tensor Dataset::normalise(const torch::Tensor &pixels) const {
  if (pixels.scalar_type() == torch::kFloat32)
    return pixels;
  return (pixels.to(torch::kFloat32).div_(255.0f) - mean) / std; // as finishSplit does for whole sets
}

torch::Tensor Dataset::imagesAt(const torch::Tensor &indices) const { return normalise(pixelsAt(indices)); }

torch::Tensor Dataset::imagesIn(int64_t start, int64_t end) const {
  if (!stream)
    return normalise(images.slice(0, start, end));
  return imagesAt(torch::arange(start, end, torch::kLong));
}

BatchPrefetcher::BatchPrefetcher(const Dataset &data, const std::vector<torch::Tensor> &batches)
    : data_(data), batches_(batches) {
  if (data_.stream && !batches_.empty())
    next_ = std::async(std::launch::async, [this] { return data_.pixelsAt(batches_[0]); });
}

BatchPrefetcher::~BatchPrefetcher() {
  if (next_.valid())
    next_.wait();
}

torch::Tensor BatchPrefetcher::take(size_t b) {
  if (!data_.stream)
    return data_.imagesAt(batches_[b]);
  torch::Tensor pixels = next_.get(); // rethrows a decoding error
  if (b + 1 < batches_.size())
    next_ = std::async(std::launch::async, [this, b] { return data_.pixelsAt(batches_[b + 1]); });
  return data_.normalise(pixels);
}

std::vector<float> DataSplit::black() const {
  std::vector<float> out;
  for (size_t c = 0; c < description.mean.size(); ++c)
    out.push_back(static_cast<float>((0.0 - description.mean[c]) / description.std[c])); // in double, as before

  return out;
}

namespace {
// CIFAR records as f32 [N,3,32,32] in [0,1] and i64 labels.
Dataset cifarTensors(rt::CifarRecords &records) {
  torch::Tensor pixels = torch::from_blob(records.pixels.data(), {records.count, rt::kCifarChannels,
                                                                  rt::kCifarSide, rt::kCifarSide},
                                          torch::kUInt8);
  torch::Tensor labels = torch::from_blob(records.labels.data(), {records.count}, torch::kUInt8);
  return {pixels.to(torch::kFloat32).div_(255.0f), labels.to(torch::kLong)};
}

// Splits `all` (the training set, pixels in [0,1]) into training and
// validation, normalises every split with the given statistics or the
// training split's, and keeps the rest of `s` (files, format, classes).
DataSplit finishSplit(DataSplit s, Dataset all, const rt::TrainingConfig &t, int64_t limitTrain) {
  const int64_t channels = all.images.size(1);
  auto [trainIdx, valIdx] = splitIndices(all.size(), t.validation, static_cast<uint64_t>(t.seed));
  if (!t.dataMean.empty()) {
    if (static_cast<int64_t>(t.dataMean.size()) != channels)
      throw std::runtime_error("training.data: " + std::to_string(t.dataMean.size()) + " means for the " +
                               std::to_string(channels) + " channels of " + s.trainFile);
    s.description.mean.assign(t.dataMean.begin(), t.dataMean.end());
    s.description.std.assign(t.dataStd.begin(), t.dataStd.end());
  } else {
    // The statistics of the whole training split (before --limit-train).
    torch::Tensor x = all.images.index_select(0, trainIdx).transpose(0, 1).reshape({channels, -1});
    torch::Tensor mean = x.to(torch::kFloat64).mean(1), std = x.to(torch::kFloat64).std(1, /*unbiased=*/false);
    for (int64_t c = 0; c < channels; ++c) {
      s.description.mean.push_back(static_cast<float>(mean[c].item<double>()));
      s.description.std.push_back(static_cast<float>(std::max(std[c].item<double>(), 1e-6)));
    }
  }
  torch::Tensor m = torch::tensor(s.description.mean).view({1, -1, 1, 1});
  torch::Tensor d = torch::tensor(s.description.std).view({1, -1, 1, 1});
  all.images = (all.images - m) / d;
  s.test.images = (s.test.images - m) / d;
  if (limitTrain > 0 && limitTrain < trainIdx.size(0))
    trainIdx = trainIdx.slice(0, 0, limitTrain);
  s.train = {all.images.index_select(0, trainIdx), all.labels.index_select(0, trainIdx)};
  s.validation = {all.images.index_select(0, valIdx), all.labels.index_select(0, valIdx)};
  return s;
}

DataSplit loadCifar(const rt::TrainingConfig &t, rt::CifarVariant variant, int64_t limitTrain) {
  auto files = rt::findCifarFiles(t.data, variant);
  if (!files)
    throw std::runtime_error(files.error() + " (training.data or --data names the directory)");
  rt::CifarRecords train, test;
  for (const std::string &f : files->train)
    if (rt::Status s = rt::readCifarFile(f, variant, train); !s)
      throw std::runtime_error(s.message());
  if (rt::Status s = rt::readCifarFile(files->test, variant, test); !s)
    throw std::runtime_error(s.message());
  auto names = rt::readCifarNames(files->names, rt::cifarClasses(variant));
  if (!names)
    throw std::runtime_error(names.error());
  DataSplit s;
  s.trainFile = files->train.front();
  s.testFile = files->test;
  s.description.format = t.dataFormat;
  s.description.classes = *names;
  s.test = cifarTensors(test);
  return finishSplit(std::move(s), cifarTensors(train), t, limitTrain);
}

DataSplit loadNpy(const rt::TrainingConfig &t, int64_t limitTrain) {
  auto read = [&](const char *split) {
    auto pair = rt::readNpyPair(t.data, split);
    if (!pair)
      throw std::runtime_error(pair.error());
    return pair;
  };
  auto train = read("train"), test = read("test");
  DataSplit s;
  s.trainFile = train->source;
  s.testFile = test->source;
  s.description.format = "npy";
  std::vector<int64_t> trainItem(train->images.shape.begin() + 1, train->images.shape.end()),
      testItem(test->images.shape.begin() + 1, test->images.shape.end());
  if (trainItem != testItem)
    throw std::runtime_error(s.testFile + ": images are " + rt::shapeToString(testItem) + ", " + s.trainFile +
                             "'s are " + rt::shapeToString(trainItem));
  s.test = {torchrt::toTorch(std::move(test->images)), torchrt::toTorch(std::move(test->labels))};
  Dataset all{torchrt::toTorch(std::move(train->images)), torchrt::toTorch(std::move(train->labels))};
  return finishSplit(std::move(s), std::move(all), t, limitTrain);
}

} // namespace

DataSplit loadData(const rt::TrainingConfig &t, int64_t limitTrain, const std::vector<int64_t> &item,
                   const ImageDataOptions &imageOptions) {
  const uint64_t seed = static_cast<uint64_t>(t.seed);
  if (rt::isImageDataFormat(t.dataFormat))
    return loadImageData(t, limitTrain, item, imageOptions);
  if (imageOptions.head != rt::HeadKind::Classification)
    throw std::runtime_error("training.data_format " + t.dataFormat + " holds class labels; a " +
                             rt::headKindName(imageOptions.head) +
                             " head needs a data set with " +
                             (imageOptions.head == rt::HeadKind::Detection ? "boxes (voc)" : "masks (voc, camelyon16)"));
  if (t.dataFormat == "cifar10")
    return loadCifar(t, rt::CifarVariant::Cifar10, limitTrain);
  if (t.dataFormat == "cifar100")
    return loadCifar(t, rt::CifarVariant::Cifar100, limitTrain);
  if (t.dataFormat == "npy")
    return loadNpy(t, limitTrain);
  if (t.dataFormat != "idx")
    throw std::runtime_error("training.data_format: unknown data format '" + t.dataFormat + "'");
  // IDX files (MNIST-like, one channel): the given statistics, else
  // Fashion-MNIST's (the embedded default's, kept so its documented runs
  // stay bit for bit; another IDX data set should give its own).
  if (t.dataMean.size() > 1)
    throw std::runtime_error("training.data: " + std::to_string(t.dataMean.size()) +
                             " means for one-channel IDX images (give one mean and one std)");
  if (!t.dataMean.empty())
    return loadFashionMnist(t.data, t.validation, seed, limitTrain, float(t.dataMean[0]), float(t.dataStd[0]));
  return loadFashionMnist(t.data, t.validation, seed, limitTrain);
}

torch::Tensor augment(const torch::Tensor &images, int64_t pad, bool hflip, at::Generator gen,
                      const std::vector<float> &black) {
  torch::NoGradGuard noGrad;
  torch::Tensor x = images;
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  if (pad > 0) {
    torch::Tensor fill = torch::tensor(
        black.empty() ? std::vector<float>{static_cast<float>((0.0 - kPixelMean) / kPixelStd)} : black);
    if (fill.numel() != 1 && fill.numel() != x.size(1))
      throw std::runtime_error("augment: " + std::to_string(fill.numel()) + " fill values for " +
                               std::to_string(x.size(1)) + " channels");
    torch::Tensor padded = fill.to(x.dtype()).view({1, -1, 1, 1}).expand({B, x.size(1), H + 2 * pad, W + 2 * pad})
                               .contiguous();
    padded.narrow(2, pad, H).narrow(3, pad, W).copy_(x);
    torch::Tensor offsets = torch::randint(2 * pad + 1, {B, 2}, gen, torch::kLong);
    auto off = offsets.accessor<int64_t, 2>();
    torch::Tensor out = torch::empty_like(x);
    for (int64_t b = 0; b < B; ++b)
      out[b].copy_(padded[b].narrow(1, off[b][0], H).narrow(2, off[b][1], W));
    x = out;
  }
  if (hflip) {
    torch::Tensor flip = torch::rand({B}, gen, torch::kFloat64) < 0.5;
    x = torch::where(flip.view({B, 1, 1, 1}), x.flip({3}), x);
  }
  return x.contiguous();
}

std::vector<torch::Tensor> epochBatches(int64_t n, int64_t batch, at::Generator gen) {
  torch::Tensor perm = torch::randperm(n, gen, torch::kLong);
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start + batch <= n; start += batch)
    out.push_back(perm.slice(0, start, start + batch));
  return out;
}

} // namespace pce::train
