//===- DenseRun.cpp - pce-run's segmentation and detection evaluation -----===//

#include "tools/pce-run/DenseRun.h"
#include "tools/pce-run/Outputs.h"

#include "runtime/Failure.h"
#include "runtime/FileIO.h"
#include "runtime/ThreadPool.h"
#include "runtime/dense/DenseEvaluation.h"
#if PCE_HAVE_DATASETS
#include "runtime/datasets/Examples.h"
#include "runtime/datasets/ImageCodec.h"
#include "runtime/datasets/Voc.h"
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

namespace pce::run {

using namespace pce::rt;

#if !PCE_HAVE_DATASETS

int runDense(const Options &, const Artifact &, const EntryPoint &, const BufferSpec &, const DataDescription &,
             const HeadSpec &head) {
  return runtimeError(std::string("a ") + headKindName(head.kind) +
                      " head reads image data sets; this pce-run was built without their readers (apt-get install "
                      "libjpeg-dev libpng-dev libxml2-dev libhdf5-dev libopenslide-dev, then rebuild)");
}

#else

namespace {

namespace fs = std::filesystem;

Task taskOf(HeadKind kind) { return kind == HeadKind::Detection ? Task::Detection : Task::Segmentation; }

std::string stem(const std::string &path) { return fs::path(path).stem().string(); }

Status writeText(const std::string &path, const std::string &text) {
  return detail::guardStatus([&] { detail::writeFileAtomic(path, {{text.data(), text.size()}}); });
}

// The argmax mask of one image's logits [K,H,W] as a palette PNG in `dir`.
Status writeMask(const std::string &dir, const std::string &id, const float *logits, int64_t K, int64_t H,
                 int64_t W) {
  std::vector<int64_t> classes(static_cast<size_t>(H * W));
  argmaxClasses(logits, K, H * W, classes.data());
  Image mask(H, W, 1);
  for (size_t p = 0; p < classes.size(); ++p)
    mask.pixels[p] = uint8_t(classes[p]);
  auto png = encodePalettePng(mask, vocPalette());
  if (!png)
    return png.status();
  return writeText(dir + "/" + id + ".png", *png);
}

// "  tumour IoU 61.20%" for the positive (last) class of a two-class set,
// "" otherwise.
std::string positiveIoU(const SegmentationScores &seg, const std::vector<std::string> &classes) {
  if (classes.size() != 2)
    return "";
  char buf[96];
  if (seg.present[1])
    std::snprintf(buf, sizeof buf, "  %s IoU %.2f%%", classes[1].c_str(), 100 * seg.iou[1]);
  else
    std::snprintf(buf, sizeof buf, "  no %s", classes[1].c_str());
  return buf;
}

} // namespace

int runDense(const Options &o, const Artifact &art, const EntryPoint &ep, const BufferSpec &output,
             const DataDescription &trained, const HeadSpec &head) {
  const BufferSpec *input = nullptr;
  for (const auto &a : ep.arguments)
    if (a.kind == ArgKind::Input)
      input = input ? nullptr : &a;
  if (!input || input->shape.size() != 4 || input->dtype != DType::F32)
    return runtimeError("entry point '" + ep.name + "' needs one f32 input [B,C,H,W]");
  const int64_t batch = input->shape[0], C = input->shape[1], H = input->shape[2], W = input->shape[3];
  const std::vector<int64_t> perImage = head.outputShape(H, W);
  std::vector<int64_t> expected = {batch};
  expected.insert(expected.end(), perImage.begin(), perImage.end());
  if (output.shape != expected || output.dtype != DType::F32)
    return runtimeError("output '" + output.name + "' is " + output.typeString() + "; the manifest's " +
                        headKindName(head.kind) + " head gives f32" + shapeToString(expected));
  const std::string format = o.dataFormat ? *o.dataFormat : trained.format;
  if (!isImageDataFormat(format))
    return runtimeError("--data-format " + format + " holds class labels; a " + headKindName(head.kind) +
                        " head needs " + (head.kind == HeadKind::Detection ? "boxes (voc)" : "masks (voc, camelyon16)"));
  if (trained.format != format || int64_t(trained.mean.size()) != C)
    return runtimeError("--data in " + format + ": the weights carry no " + format + " normalisation for " +
                        std::to_string(C) + " channels (pce.data.* metadata written by pce-train)");
  const std::string split = o.split ? *o.split : heldOutSplit(format);
  auto opened = openDataSource(format, *o.data, split, taskOf(head.kind), trained.options);
  if (!opened)
    return runtimeError(opened.error());
  const DataSource &ds = **opened;
  if (ds.task() != taskOf(head.kind))
    return runtimeError(ds.source() + ": not a " + headKindName(head.kind) + " data set");

  const int64_t n = o.limit > 0 ? std::min(o.limit, ds.size()) : ds.size();
  std::vector<int64_t> examples(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    examples[size_t(i)] = i;
  const size_t plane = size_t(H * W), itemSize = size_t(C) * plane;
  std::vector<uint8_t> pixels(size_t(n) * itemSize);
  FittedLabels labels;
  if (Status s = fitExamples(ds, examples, C, H, W, defaultThreadCount(), pixels.data(), &labels); !s)
    return runtimeError(s.message());

  // Whole compiled batches (the last padded with zero images), normalised
  // as pce-train did: x / 255, then (x - mean) / std.
  const int64_t chunks = (n + batch - 1) / batch;
  auto images = HostTensor::create(DType::F32, {chunks * batch, C, H, W});
  if (!images)
    return runtimeError(images.error());
  std::memset(images->data.data(), 0, images->nbytes());
  float *x = images->f32();
  for (size_t i = 0; i < pixels.size(); ++i) {
    const size_t c = (i / plane) % size_t(C);
    x[i] = (float(pixels[i]) / 255.0f - trained.mean[c]) / trained.std[c];
  }
  TensorMap feed;
  feed.emplace(input->name, std::move(*images));
  auto start = std::chrono::steady_clock::now();
  auto results = art.run(ep.name, feed);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!results)
    return runtimeError(results.error());
  // The padding's results dropped (--output and --routing receive n items).
  for (auto &[name, t] : *results) {
    std::vector<int64_t> shape = t.shape;
    if (shape.empty() || shape[0] != chunks * batch)
      return runtimeError("entry point '" + ep.name + "': result '" + name + "' " + t.typeString() +
                          " does not lead with the batch");
    shape[0] = n;
    auto kept = HostTensor::create(t.dtype, shape);
    if (!kept)
      return runtimeError(kept.error());
    std::memcpy(kept->data.data(), t.data.data(), kept->nbytes());
    t = std::move(*kept);
  }
  if (Status s = writeResults(o, ep, output, *results); !s)
    return runtimeError(s.message());
  const HostTensor &out = results->at(output.name);
  int64_t perItem = 1;
  for (int64_t d : perImage)
    perItem *= d;

  if (o.masks) {
    std::error_code ec;
    fs::create_directories(*o.masks, ec);
    if (ec)
      return runtimeError("--masks: cannot create " + *o.masks + ": " + ec.message());
  }
  DenseEvaluator evaluator(head, H, W);
  // Per group (a Camelyon slide) as well, where the data set has groups.
  std::map<std::string, DenseEvaluator> byGroup;
  JsonValue boxes = JsonValue::array();
  const std::vector<std::string> &classes = ds.classes();
  for (int64_t i = 0; i < n; ++i) {
    const float *item = out.f32() + i * perItem;
    const std::string id = stem(labels.sources[size_t(i)]);
    if (head.kind == HeadKind::Segmentation) {
      const uint8_t *mask = labels.masks.data() + size_t(i) * plane;
      if (Status s = evaluator.addSegmentation(item, mask); !s)
        return runtimeError(labels.sources[size_t(i)] + ": " + s.message());
      if (const std::string &g = labels.groups[size_t(i)]; !g.empty())
        if (Status s = byGroup.try_emplace(g, head, H, W).first->second.addSegmentation(item, mask); !s)
          return runtimeError(labels.sources[size_t(i)] + ": " + s.message());
      if (o.masks)
        if (Status s = writeMask(*o.masks, id, item, head.classes, H, W); !s)
          return runtimeError(s.message());
      continue;
    }
    auto found = evaluator.addDetection(item, truthOf(labels, size_t(i)), toImageOf(labels, size_t(i)));
    if (!found)
      return runtimeError(found.error());
    for (const Detection &d : *found) {
      JsonValue b = JsonValue::object();
      b.set("image", JsonValue::string(id));
      b.set("class", JsonValue::string(size_t(d.box.label) < classes.size() ? classes[size_t(d.box.label)]
                                                                            : std::to_string(d.box.label)));
      b.set("score", JsonValue::number(d.score));
      JsonValue box = JsonValue::array();
      for (float v : {d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax})
        box.push(JsonValue::number(v));
      b.set("box", std::move(box));
      boxes.push(std::move(b));
    }
  }
  auto scores = evaluator.finish();
  if (!scores)
    return runtimeError(scores.error());
  if (o.detections) {
    if (head.kind != HeadKind::Detection)
      return runtimeError("--detections needs a detection head; this artifact's is a segmentation head");
    if (Status s = writeText(*o.detections, writeJson(boxes, 1) + "\n"); !s)
      return runtimeError(s.message());
  }
  JsonValue groups = JsonValue::object();
  std::vector<std::string> groupLines;
  for (const auto &[g, e] : byGroup) {
    auto gs = e.finish();
    if (!gs)
      return runtimeError(gs.error());
    groups.set(g, gs->json(classes));
    groupLines.push_back("  " + g + ": " + gs->summary() + " (" + std::to_string(gs->images) + " tiles)" +
                         positiveIoU(gs->segmentation, classes));
  }
  if (o.scores) {
    JsonValue j = scores->json(classes);
    if (!byGroup.empty())
      j.set("groups", std::move(groups));
    j.set("split", JsonValue::string(split));
    j.set("data", JsonValue::string(*o.data));
    if (Status s = writeText(*o.scores, writeJson(j, 1) + "\n"); !s)
      return runtimeError(s.message());
  }
  // The routing report's classes: each patch's majority class of the mask;
  // for detection, of the boxes painted background 0, class + 1 inside
  // (smaller boxes on top).
  ReportContext ctx;
  ctx.imageSize = std::make_pair(H, W);
  ctx.images = &feed.at(input->name);
  std::vector<uint8_t> painted;
  if (head.kind == HeadKind::Segmentation) {
    ctx.masks = labels.masks.data();
    ctx.maskItems = n;
    ctx.classes = head.classes;
  } else {
    painted.assign(size_t(n) * plane, 0);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<Box> order = labels.boxes[size_t(i)];
      std::sort(order.begin(), order.end(), [](const Box &a, const Box &b) {
        return (a.xmax - a.xmin) * (a.ymax - a.ymin) > (b.xmax - b.xmin) * (b.ymax - b.ymin);
      });
      for (const Box &b : order)
        for (int64_t y = int64_t(b.ymin); y < std::min<int64_t>(H, int64_t(std::ceil(b.ymax))); ++y)
          for (int64_t x = int64_t(b.xmin); x < std::min<int64_t>(W, int64_t(std::ceil(b.xmax))); ++x)
            painted[size_t(i) * plane + size_t(y * W + x)] = uint8_t(std::min<int64_t>(b.label + 1, 254));
    }
    ctx.masks = painted.data();
    ctx.maskItems = n;
    ctx.classes = head.classes + 1;
  }
  if (Status s = writeRoutingReportFiles(o, ep, *results, ctx); !s)
    return runtimeError(s.message());
  const int threads = static_cast<int>(std::min<int64_t>(art.threads(), chunks));
  std::string overall = scores->summary();
  if (head.kind == HeadKind::Segmentation)
    overall += positiveIoU(scores->segmentation, classes);
  std::printf("%s: %s  (%lld images, %.0f images/s, %d %s)\n", headKindName(head.kind), overall.c_str(),
              static_cast<long long>(n), double(n) / std::max(seconds, 1e-9), threads,
              threads == 1 ? "thread" : "threads");
  for (const std::string &line : groupLines)
    std::printf("%s\n", line.c_str());
  return 0;
}

#endif

} // namespace pce::run
