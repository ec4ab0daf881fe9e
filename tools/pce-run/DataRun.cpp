//===- DataRun.cpp - pce-run on a whole data set --------------------------===//

#include "tools/pce-run/DataRun.h"
#include "tools/pce-run/Outputs.h"

#include "runtime/Cifar.h"
#include "runtime/Idx.h"
#include "runtime/NpyPairs.h"
#include "runtime/ThreadPool.h"
#if PCE_HAVE_DATASETS
#include "runtime/datasets/Examples.h"
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace pce::run {

using namespace pce::rt;

namespace {

// "87.31%": the form the accuracy line uses (tests format it the same way).
std::string percent(int64_t hits, int64_t total) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * double(hits) / double(total));
  return buf;
}

// The first `n` items (along dimension 0) of t.
Expected<HostTensor> firstItems(const HostTensor &t, int64_t n) {
  std::vector<int64_t> shape = t.shape;
  shape[0] = n;
  auto out = HostTensor::create(t.dtype, shape);
  if (out)
    std::memcpy(out->data.data(), t.data.data(), out->nbytes());
  return out;
}

// Whether `label` is among the k largest of logits[0..classes): classes are
// ordered by logit (largest first), lower index first on ties; NaN ranks
// below every number.
bool inTopK(const HostTensor &logits, int64_t item, int64_t classes, int64_t label, int64_t k) {
  auto value = [&](int64_t c) {
    int64_t i = item * classes + c;
    return logits.f32() ? double(logits.f32()[i]) : logits.f64()[i];
  };
  double l = value(label);
  int64_t ahead = 0;
  for (int64_t c = 0; c < classes; ++c) {
    if (c == label)
      continue;
    double v = value(c);
    bool before = std::isnan(v) ? (std::isnan(l) && c < label)
                                : (std::isnan(l) || v > l || (v == l && c < label));
    ahead += before;
  }
  return ahead < k;
}

} // namespace

namespace {

/// The normalisation of IDX images: --normalize, else the weights'; nullopt
/// after reporting weights that cannot be (another channel count).
std::optional<std::optional<IdxNormalization>> normalizationFor(const Options &o,
                                                               const std::optional<DataDescription> &trained) {
  std::optional<IdxNormalization> fromWeights;
  if (trained) {
    if (trained->mean.size() != 1) {
      runtimeError("the weights were trained on " + std::to_string(trained->mean.size()) +
                   "-channel images (" + trained->format + "); IDX images have 1 channel");
      return std::nullopt;
    }
    fromWeights = IdxNormalization{trained->mean[0], trained->std[0]};
  }
  if (o.normalization) {
    if (fromWeights && (fromWeights->mean != o.normalization->mean || fromWeights->std != o.normalization->std))
      std::fprintf(stderr,
                   "pce-run: warning: --normalize %s,%s differs from the normalisation the weights were "
                   "trained with (mean %s, std %s); using --normalize\n",
                   formatFloats({o.normalization->mean}).c_str(), formatFloats({o.normalization->std}).c_str(),
                   formatFloats({fromWeights->mean}).c_str(), formatFloats({fromWeights->std}).c_str());
    return o.normalization;
  }
  if (!fromWeights && o.weights)
    std::fprintf(stderr, "pce-run: warning: %s does not say how its training normalised the images (no pce.data.* "
                         "metadata): pixels are only scaled to [0, 1]; pass --normalize MEAN,STD if it did\n",
                 o.weights->c_str());
  return fromWeights;
}

} // namespace

namespace {

/// Images (f32 [N,C,H,W], normalised) and labels of the data set asked for.
struct Loaded {
  HostTensor images;
  std::optional<HostTensor> labels;
  std::string source, labelSource; // for messages
};

Expected<Loaded> loadIdx(const std::string &images, const std::string &labels, const Options &o,
                         const std::optional<DataDescription> &trained) {
  auto normalization = normalizationFor(o, trained);
  if (!normalization)
    return Status::error(""); // reported
  IdxDatasetOptions options;
  options.limit = o.limit;
  options.normalization = *normalization;
  auto ds = readIdxDataset(images, labels, options);
  if (!ds)
    return ds.status();
  return Loaded{std::move(ds->images), std::move(ds->labels), images, labels};
}

#if PCE_HAVE_DATASETS
// An image data set (runtime/datasets) fitted to the model's input `item`
// by the rule pce-train used, normalised by its statistics with the same
// float arithmetic: x / 255, then (x - mean) / std.
Expected<Loaded> loadImages(const Options &o, const DataDescription &trained, const std::string &split,
                            const std::vector<int64_t> &item) {
  auto source = openDataSource(trained.format, *o.data, split, std::nullopt, trained.options);
  if (!source)
    return source.status();
  const DataSource &ds = **source;
  if (ds.task() != Task::Classification)
    return Status::error(ds.source() + ": a detection / segmentation data set; pce-run measures classification "
                         "accuracy only");
  if (int64_t(trained.mean.size()) != item[0])
    return Status::error("the weights' pce.data.mean has " + std::to_string(trained.mean.size()) +
                         " values for a model input of " + std::to_string(item[0]) + " channels");
  const int64_t n = o.limit > 0 ? std::min(o.limit, ds.size()) : ds.size();
  std::vector<int64_t> examples(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    examples[static_cast<size_t>(i)] = i;
  const size_t plane = static_cast<size_t>(item[1] * item[2]), itemSize = static_cast<size_t>(item[0]) * plane;
  std::vector<uint8_t> pixels(static_cast<size_t>(n) * itemSize);
  if (Status s = fitExamples(ds, examples, item[0], item[1], item[2], defaultThreadCount(), pixels.data()); !s)
    return s;
  auto images = HostTensor::create(DType::F32, {n, item[0], item[1], item[2]});
  auto labels = HostTensor::create(DType::I64, {n});
  if (!images || !labels)
    return Status::error(images ? labels.error() : images.error());
  float *x = images->f32();
  for (size_t i = 0; i < pixels.size(); ++i) {
    const size_t c = (i / plane) % static_cast<size_t>(item[0]);
    x[i] = (static_cast<float>(pixels[i]) / 255.0f - trained.mean[c]) / trained.std[c];
  }
  for (int64_t i = 0; i < n; ++i) {
    auto c = ds.classOf(i);
    if (!c)
      return c.status();
    labels->i64()[i] = *c;
  }
  return Loaded{std::move(*images), std::move(*labels), ds.source(), ds.source()};
}
#endif

Expected<Loaded> load(const Options &o, const std::optional<DataDescription> &trained,
                      const std::vector<int64_t> &item) {
  if (o.idxImages)
    return loadIdx(*o.idxImages, o.idxLabels.value_or(""), o, trained);
  std::string format = o.dataFormat ? *o.dataFormat : trained ? trained->format : "";
  if (format.empty())
    return Status::error("--data: say --data-format (the weights do not name the format of their data)");
  const bool imageFormat = isImageDataFormat(format);
  const std::string split = o.split ? *o.split : heldOutSplit(format);
  if (split == "val" && !imageFormat)
    return Status::error("--split val: " + format + " ships no validation split (pce-train carves its validation "
                         "images from the training split)");
  const bool train = split == "train";
  if (format == "idx") {
    const char *prefix = train ? "train" : "t10k";
    auto images = findIdxFile(*o.data, std::string(prefix) + "-images-idx3-ubyte");
    auto labels = findIdxFile(*o.data, std::string(prefix) + "-labels-idx1-ubyte");
    if (!images || !labels)
      return Status::error(images ? labels.error() : images.error());
    return loadIdx(*images, *labels, o, trained);
  }
  if (o.normalization)
    return Status::error("--normalize MEAN,STD is for one-channel IDX images; " + format +
                         " images are normalised as the weights' pce.data.* metadata says");
  if (!trained || trained->format != format)
    return Status::error("--data in " + format + ": the weights carry no " + format +
                         " normalisation (pce.data.* metadata written by pce-train)");
  if (format == "npy") {
    auto pair = readNpyPair(*o.data, split);
    if (!pair)
      return pair.status();
    if (o.limit > 0 && o.limit < pair->images.shape[0]) {
      auto images = firstItems(pair->images, o.limit), labels = firstItems(pair->labels, o.limit);
      if (!images || !labels)
        return Status::error(images ? labels.error() : images.error());
      pair->images = std::move(*images);
      pair->labels = std::move(*labels);
    }
    if (Status s = normalizeChannels(pair->images, trained->mean, trained->std); !s)
      return Status::error(pair->source + ": " + s.message());
    return Loaded{std::move(pair->images), std::move(pair->labels), pair->source, pair->source};
  }
  if (imageFormat) {
#if PCE_HAVE_DATASETS
    return loadImages(o, *trained, split, item);
#else
    return Status::error("--data-format " + format + ": this pce-run was built without the image data-set readers "
                         "(apt-get install libjpeg-dev libpng-dev libxml2-dev libhdf5-dev libopenslide-dev, then "
                         "rebuild)");
#endif
  }
  auto cifar = readCifarSplit(*o.data, format == "cifar10" ? CifarVariant::Cifar10 : CifarVariant::Cifar100, train,
                              trained->mean, trained->std, o.limit);
  if (!cifar)
    return cifar.status();
  return Loaded{std::move(cifar->images), std::move(cifar->labels), cifar->source, cifar->source};
}

} // namespace

int runData(const Options &o, const Artifact &art, const EntryPoint &ep, const BufferSpec &output,
            const std::optional<DataDescription> &trained) {
  std::vector<const BufferSpec *> inputs;
  std::string names;
  for (const auto &a : ep.arguments)
    if (a.kind == ArgKind::Input) {
      inputs.push_back(&a);
      names += (names.empty() ? "" : ", ") + a.name;
    }
  const char *mode = o.idxImages ? "--idx-images" : "--data";
  if (inputs.size() != 1)
    return runtimeError(std::string(mode) + " needs an entry point with exactly one input; '" + ep.name + "' has " +
                        (names.empty() ? std::string("none") : names));
  const BufferSpec *input = inputs[0];

  if (input->shape.size() != 4)
    return runtimeError("entry point '" + ep.name + "': input '" + input->name + "' is " + input->typeString() +
                        ", not a batch of images [N,C,H,W]");
  auto ds = load(o, trained, std::vector<int64_t>(input->shape.begin() + 1, input->shape.end()));
  if (!ds)
    return ds.error().empty() ? 1 : runtimeError(ds.error());
  HostTensor &images = ds->images; // f32 [N,C,H,W]
  const int64_t n = images.shape[0];
  std::vector<int64_t> item(images.shape.begin() + 1, images.shape.end());
  if (input->dtype != DType::F32 || input->shape.size() != 4 || input->shape[0] < 1 ||
      std::vector<int64_t>(input->shape.begin() + 1, input->shape.end()) != item)
    return runtimeError("entry point '" + ep.name + "': input '" + input->name + "' expects " +
                        input->typeString() + ", which does not take the images of " + ds->source +
                        " (f32 " + shapeToString(item) + " each)");

  // Pad to whole compiled batches with zero images; their results are dropped.
  const int64_t batch = input->shape[0];
  const int64_t chunks = (n + batch - 1) / batch;
  TensorMap feed;
  if (chunks * batch == n) {
    feed.emplace(input->name, std::move(images));
  } else {
    std::vector<int64_t> shape = images.shape;
    shape[0] = chunks * batch;
    auto padded = HostTensor::create(DType::F32, shape);
    if (!padded)
      return runtimeError(padded.error());
    std::memcpy(padded->data.data(), images.data.data(), images.nbytes());
    feed.emplace(input->name, std::move(*padded));
  }

  auto start = std::chrono::steady_clock::now();
  auto results = art.run(ep.name, feed);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!results)
    return runtimeError(results.error());
  for (auto &[name, t] : *results) {
    if (t.shape.empty() || t.shape[0] != chunks * batch)
      return runtimeError("entry point '" + ep.name + "': result '" + name + "' " + t.typeString() +
                          " does not lead with the batch, so its padding cannot be dropped");
    auto kept = firstItems(t, n);
    if (!kept)
      return runtimeError(kept.error());
    t = std::move(*kept);
  }

  int64_t top1 = 0, top5 = 0, classes = 0;
  if (ds->labels) {
    const HostTensor &logits = results->at(output.name);
    if (logits.shape.size() != 2 || (!logits.f32() && !logits.f64()))
      return runtimeError("accuracy needs output '" + output.name + "' as f32 or f64 [N,classes], found " +
                          logits.typeString());
    classes = logits.shape[1];
    for (int64_t i = 0; i < n; ++i) {
      int64_t label = ds->labels->i64()[i];
      if (label < 0 || label >= classes)
        return runtimeError(ds->labelSource + ": label " + std::to_string(label) + " of item " + std::to_string(i) +
                            " is not one of the " + std::to_string(classes) + " classes of output '" +
                            output.name + "'");
      top1 += inTopK(logits, i, classes, label, 1);
      top5 += classes >= 5 && inTopK(logits, i, classes, label, 5);
    }
  }

  if (Status s = writeResults(o, ep, output, *results); !s)
    return runtimeError(s.message());

  // Threads that actually ran: no more than there were chunks.
  int threads = static_cast<int>(std::min<int64_t>(art.threads(), chunks));
  char speed[128];
  std::snprintf(speed, sizeof speed, "%lld images, %.0f images/s, %d %s", static_cast<long long>(n),
                double(n) / std::max(seconds, 1e-9), threads, threads == 1 ? "thread" : "threads");
  if (ds->labels) {
    std::string line = "accuracy: top-1 " + percent(top1, n);
    if (classes >= 5)
      line += "  top-5 " + percent(top5, n);
    std::printf("%s  (%s)\n", line.c_str(), speed);
  } else {
    std::printf("ran %s\n", speed);
  }

  ReportContext ctx;
  if (ds->labels) {
    ctx.labels = &*ds->labels;
    ctx.classes = classes;
  }
  ctx.imageSize = std::make_pair(item[1], item[2]);
  ctx.images = &feed.at(input->name);
  if (Status s = writeRoutingReportFiles(o, ep, *results, ctx); !s)
    return runtimeError(s.message());
  return 0;
}

} // namespace pce::run
