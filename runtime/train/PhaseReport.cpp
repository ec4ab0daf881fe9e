//===- PhaseReport.cpp - the routing report at the end of each phase ------===//

#include "runtime/train/PhaseReport.h"

#include "runtime/RoutingReport.h"
#include "runtime/torch/TensorConvert.h"
#include "runtime/train/Evaluate.h"

#if PCE_HAVE_DATASETS
#include "runtime/datasets/RoutingExamples.h"
#endif

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace pce::train {

std::vector<std::string> writePhaseReport(const std::string &dir, Network &net, const Dataset &validation,
                                          int64_t batch, int64_t chunks, int64_t classes,
                                          const std::vector<rt::JsonValue> &log) {
  std::map<std::string, torchrt::RoutingStats> stats;
  std::map<std::string, std::vector<torch::Tensor>> parts;
  forEachChunk(
      net, validation, batch, chunks, stats, [](int64_t, int64_t, const torch::Tensor &) {},
      [&](const std::string &layer, const torch::Tensor &w) { parts[layer].push_back(w.to(torch::kFloat)); });
  const std::vector<int64_t> item = validation.itemShape();
  rt::RoutingReport report;
  report.imageSize = std::make_pair(item[1], item[2]);
  // Classification labels (a dense split's are -1: no image-level class).
  const bool labelled = classes > 0 && validation.size() > 0 && validation.labels.min().item<int64_t>() >= 0;
  rt::HostTensor labels;
  if (labelled) {
    labels = torchrt::toHost(validation.labels.to(torch::kLong).contiguous(), "labels");
    report.classes = classes;
  }
  std::map<std::string, rt::HostTensor> weights;
  std::vector<const rt::HostTensor *> ordered;
  std::vector<std::pair<int64_t, int64_t>> grids;
  for (const auto &layer : net.pceLayers()) {
    auto it = parts.find(layer->layerName());
    if (it == parts.end())
      continue;
    const std::string name = layer->layerName() + ".routing";
    rt::HostTensor &w = weights[name] = torchrt::toHost(torch::cat(it->second).contiguous(), name);
    auto r = rt::computeRoutingReport(name, w, labelled ? &labels : nullptr, labelled ? classes : 0);
    if (!r) {
      report.skipped.emplace_back(name, r.error());
      continue;
    }
    r->grid = rt::inferPatchGrid(r->patches, item[1], item[2]);
    report.items = std::max(report.items, r->items);
    if (r->grid)
      grids.push_back(*r->grid);
    report.layers.push_back(std::move(*r));
    ordered.push_back(&w);
  }
  if (!ordered.empty()) {
    auto clusters = rt::clusterRoutes(ordered, report.items, 4);
    if (clusters)
      report.clusters = std::move(*clusters);
    if (ordered.size() >= 2 && grids.size() == ordered.size())
      if (auto paths = rt::computeRoutingPaths(ordered, grids, report.items))
        report.paths = std::move(*paths);
  }
#if PCE_HAVE_DATASETS // the PNG encoder
  // Example images from the first validation images, and each route
  // cluster's exemplar (decoded one by one: a split may not fit in memory).
  if (!ordered.empty()) {
    const int64_t shown = std::min<int64_t>(report.items, 512);
    rt::HostTensor images = torchrt::toHost(validation.imagesIn(0, shown).contiguous(), "images");
    report.examples = rt::routingExamples(images, shown, labelled ? &labels : nullptr, ordered);
    if (report.clusters)
      for (int64_t i : report.clusters->exemplars) {
        if (i < 0 || i >= validation.size()) // an empty cluster (a collapsed router gives several)
          continue;
        rt::HostTensor image =
            torchrt::toHost(validation.imagesAt(torch::tensor({i}, torch::kLong)).contiguous(), "exemplar");
        if (auto ex = rt::routingExampleOf(image, 0, i, labelled ? &labels : nullptr, ordered))
          report.clusterExemplars.push_back(std::move(*ex));
      }
  }
#endif
  report.trainingLog = log;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error(dir + ": cannot create directory: " + ec.message());
  if (rt::Status s = rt::writeRoutingReport(report, dir); !s)
    throw std::runtime_error(s.message());
  return rt::routingSummaryLines(report);
}

} // namespace pce::train
