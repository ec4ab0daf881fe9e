//===- Data.cpp - Fashion-MNIST for training ------------------------------===//

#include "runtime/train/Data.h"

#include "runtime/Idx.h"
#include "runtime/torch/TensorConvert.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <stdexcept>

namespace pce::train {

namespace fs = std::filesystem;

std::string findIdxFile(const std::string &dir, const std::string &name) {
  fs::path plain = fs::path(dir) / name, gz = fs::path(dir) / (name + ".gz");
  if (fs::exists(gz))
    return gz.string();
  if (fs::exists(plain))
    return plain.string();
  throw std::runtime_error("data file not found: neither " + gz.string() + " nor " + plain.string() +
                           " exists (training.data or --data names the Fashion-MNIST directory)");
}

Dataset loadIdxPair(const std::string &images, const std::string &labels) {
  rt::IdxDatasetOptions options;
  options.normalization = rt::IdxNormalization{kPixelMean, kPixelStd};
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

DataSplit loadFashionMnist(const std::string &dir, int64_t validation, uint64_t seed, int64_t limitTrain) {
  DataSplit s;
  s.trainFile = findIdxFile(dir, "train-images-idx3-ubyte");
  Dataset all = loadIdxPair(s.trainFile, findIdxFile(dir, "train-labels-idx1-ubyte"));
  auto [train, val] = splitIndices(all.size(), validation, seed);
  if (limitTrain > 0 && limitTrain < train.size(0))
    train = train.slice(0, 0, limitTrain);
  s.train = {all.images.index_select(0, train), all.labels.index_select(0, train)};
  s.validation = {all.images.index_select(0, val), all.labels.index_select(0, val)};
  s.testFile = findIdxFile(dir, "t10k-images-idx3-ubyte");
  s.test = loadIdxPair(s.testFile, findIdxFile(dir, "t10k-labels-idx1-ubyte"));
  return s;
}

torch::Tensor augment(const torch::Tensor &images, int64_t pad, bool hflip, at::Generator gen) {
  torch::NoGradGuard noGrad;
  torch::Tensor x = images;
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  if (pad > 0) {
    const double black = (0.0 - kPixelMean) / kPixelStd;
    torch::Tensor padded = torch::full({B, x.size(1), H + 2 * pad, W + 2 * pad}, black, x.options());
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
