//===- ImageData.cpp - image data sets (runtime/datasets) for training ----===//

#include "runtime/train/ImageData.h"

#include <stdexcept>

#if PCE_HAVE_DATASETS
#include "runtime/ThreadPool.h"
#include "runtime/datasets/Examples.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#endif

namespace pce::train {

#if !PCE_HAVE_DATASETS

DataSplit loadImageData(const rt::TrainingConfig &t, int64_t, const std::vector<int64_t> &, const ImageDataOptions &) {
  throw std::runtime_error("training.data_format " + t.dataFormat +
                           ": this PCE was built without the image data-set readers (apt-get install libjpeg-dev "
                           "libpng-dev libxml2-dev libhdf5-dev libopenslide-dev, then rebuild)");
}

#else

namespace {

using SourcePtr = std::shared_ptr<const rt::DataSource>;

class SourceStream final : public ImageStream {
public:
  SourceStream(SourcePtr source, std::vector<int64_t> examples, std::vector<int64_t> item, int threads)
      : source_(std::move(source)), examples_(std::move(examples)), item_(std::move(item)), threads_(threads) {}

  torch::Tensor pixels(const std::vector<int64_t> &positions) const override {
    std::vector<int64_t> chosen;
    chosen.reserve(positions.size());
    for (int64_t p : positions)
      chosen.push_back(examples_.at(size_t(p)));
    return decode(*source_, chosen, item_, threads_);
  }
  std::vector<int64_t> itemShape() const override { return item_; }

  static torch::Tensor decode(const rt::DataSource &source, const std::vector<int64_t> &examples,
                              const std::vector<int64_t> &item, int threads) {
    torch::Tensor out = torch::empty({int64_t(examples.size()), item[0], item[1], item[2]}, torch::kUInt8);
    rt::Status s = rt::fitExamples(source, examples, item[0], item[1], item[2], threads, out.data_ptr<uint8_t>());
    if (!s)
      throw std::runtime_error(s.message());
    return out;
  }

private:
  SourcePtr source_;
  std::vector<int64_t> examples_;
  std::vector<int64_t> item_;
  int threads_;
};

rt::Task taskOf(rt::HeadKind head) {
  switch (head) {
  case rt::HeadKind::Classification: return rt::Task::Classification;
  case rt::HeadKind::Segmentation: return rt::Task::Segmentation;
  case rt::HeadKind::Detection: return rt::Task::Detection;
  }
  return rt::Task::Classification;
}

const char *taskName(rt::Task task) {
  switch (task) {
  case rt::Task::Classification: return "classification";
  case rt::Task::Segmentation: return "segmentation";
  case rt::Task::Detection: return "detection";
  }
  return "?";
}

SourcePtr open(const rt::TrainingConfig &t, const std::string &split, rt::HeadKind head) {
  const rt::Task task = taskOf(head);
  auto source = rt::openDataSource(t.dataFormat, t.data, split, task, t.dataOptions);
  if (!source)
    throw std::runtime_error(source.error() + " (training.data or --data names the data set's directory)");
  if ((*source)->task() != task)
    throw std::runtime_error(t.dataFormat + " (" + t.data + ") is a " + taskName((*source)->task()) +
                             " data set; the model's head is a " + rt::headKindName(head) + " head");
  return SourcePtr(std::move(*source));
}

torch::Tensor labelsOf(const rt::DataSource &source, const std::vector<int64_t> &examples) {
  if (source.task() != rt::Task::Classification)
    return torch::full({int64_t(examples.size())}, -1, torch::kLong);
  torch::Tensor labels = torch::empty({int64_t(examples.size())}, torch::kLong);
  int64_t *out = labels.data_ptr<int64_t>();
  for (size_t k = 0; k < examples.size(); ++k) {
    auto c = source.classOf(examples[k]);
    if (!c)
      throw std::runtime_error(c.error());
    out[k] = *c;
  }
  return labels;
}

std::vector<int64_t> toVector(const torch::Tensor &t) {
  torch::Tensor c = t.to(torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Per-channel mean and (population) std of u8 pixels [n,C,H,W], scaled to [0, 1].
void measure(const torch::Tensor &pixels, rt::DataDescription &d) {
  torch::Tensor x = pixels.transpose(0, 1).reshape({pixels.size(1), -1}).to(torch::kFloat64).div_(255.0);
  torch::Tensor mean = x.mean(1), std = x.std(1, /*unbiased=*/false);
  for (int64_t c = 0; c < pixels.size(1); ++c) {
    d.mean.push_back(float(mean[c].item<double>()));
    d.std.push_back(float(std::max(std[c].item<double>(), 1e-6)));
  }
}

} // namespace

DataSplit loadImageData(const rt::TrainingConfig &t, int64_t limitTrain, const std::vector<int64_t> &item,
                        const ImageDataOptions &options) {
  if (item.size() != 3)
    throw std::runtime_error("internal error: image data needs the model's input shape [C,H,W]");
  const int loadThreads = rt::defaultThreadCount();
  SourcePtr train = open(t, "train", options.head), test = open(t, rt::heldOutSplit(t.dataFormat), options.head);
  SourcePtr validation = train;
  std::vector<int64_t> trainIdx, valIdx;
  if (rt::hasValidationSplit(t.dataFormat)) {
    // The data set's own validation split; a seeded subset when
    // training.validation asks for fewer.
    validation = open(t, "val", options.head);
    trainIdx = toVector(torch::arange(train->size(), torch::kLong));
    at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(t.seed));
    torch::Tensor perm = torch::randperm(validation->size(), gen, torch::kLong);
    valIdx = toVector(std::get<0>(perm.slice(0, 0, std::min<int64_t>(t.validation, validation->size())).sort()));
  } else {
    auto [tr, va] = splitIndices(train->size(), t.validation, static_cast<uint64_t>(t.seed));
    trainIdx = toVector(tr);
    valIdx = toVector(va);
  }
  // Statistics before --limit-train, as for the other formats.
  const std::vector<int64_t> statsIdx(trainIdx.begin(),
                                      trainIdx.begin() + std::min<int64_t>(int64_t(trainIdx.size()), options.statsImages));
  if (limitTrain > 0 && limitTrain < int64_t(trainIdx.size()))
    trainIdx.resize(size_t(limitTrain));
  std::vector<int64_t> testIdx = toVector(torch::arange(test->size(), torch::kLong));

  DataSplit s;
  s.trainFile = train->source();
  s.testFile = test->source();
  s.description.format = t.dataFormat;
  s.description.classes = train->classes();
  s.description.options = t.dataOptions;
  const int64_t itemBytes = item[0] * item[1] * item[2];
  const int64_t total = int64_t(trainIdx.size() + valIdx.size() + testIdx.size());
  const bool cache = total * itemBytes <= options.cacheBytes;
  const bool dense = options.head != rt::HeadKind::Classification;
  if (dense && !cache)
    throw std::runtime_error(t.dataFormat + " (" + t.data + "): the three splits need " +
                             std::to_string((total * itemBytes) >> 20) +
                             " MiB at the model's input size; detection and segmentation splits are held in memory "
                             "(raise --data-cache-mb, or train on fewer examples with --limit-train)");

  auto make = [&](const SourcePtr &source, const std::vector<int64_t> &examples) {
    Dataset d;
    d.labels = labelsOf(*source, examples);
    if (dense) {
      auto labels = std::make_shared<rt::FittedLabels>();
      d.images = torch::empty({int64_t(examples.size()), item[0], item[1], item[2]}, torch::kUInt8);
      rt::Status s = rt::fitExamples(*source, examples, item[0], item[1], item[2], loadThreads,
                                     d.images.data_ptr<uint8_t>(), labels.get());
      if (!s)
        throw std::runtime_error(s.message());
      if (!labels->masks.empty()) {
        d.masks = torch::from_blob(labels->masks.data(), {int64_t(examples.size()), item[1], item[2]}, torch::kUInt8)
                      .clone();
        labels->masks = {};
      }
      d.dense = std::move(labels);
    } else if (cache)
      d.images = SourceStream::decode(*source, examples, item, loadThreads);
    else
      d.stream = std::make_shared<SourceStream>(source, examples, item, options.threads);
    return d;
  };
  s.train = make(train, trainIdx);
  s.validation = make(validation, valIdx);
  s.test = make(test, testIdx);

  if (!t.dataMean.empty()) {
    if (int64_t(t.dataMean.size()) != item[0])
      throw std::runtime_error("training.data: " + std::to_string(t.dataMean.size()) + " means for the " +
                               std::to_string(item[0]) + " channels of the model's input");
    s.description.mean.assign(t.dataMean.begin(), t.dataMean.end());
    s.description.std.assign(t.dataStd.begin(), t.dataStd.end());
  } else {
    measure(SourceStream::decode(*train, statsIdx, item, loadThreads), s.description);
  }
  torch::Tensor mean = torch::tensor(s.description.mean).view({1, -1, 1, 1});
  torch::Tensor std = torch::tensor(s.description.std).view({1, -1, 1, 1});
  for (Dataset *d : {&s.train, &s.validation, &s.test})
    d->mean = mean, d->std = std;
  return s;
}

#endif

} // namespace pce::train
