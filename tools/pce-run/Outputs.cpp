//===- Outputs.cpp - what pce-run writes: results, routing report, errors -===//

#include "tools/pce-run/Outputs.h"

#include "runtime/Npy.h"
#include "runtime/RoutingReport.h"
#if PCE_HAVE_DATASETS
#include "runtime/datasets/RoutingExamples.h"
#endif
#include "tools/support/CommandLine.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace pce::run {

using namespace pce::rt;

int runtimeError(const std::string &message) {
  std::fflush(stdout);
  std::fprintf(stderr, "pce-run: error: %s\n", message.c_str());
  return tool::kExitError;
}

Status writeResults(const Options &o, const EntryPoint &ep, const BufferSpec &output, const TensorMap &results) {
  if (o.output)
    if (Status s = writeNpy(*o.output, results.at(output.name)); !s)
      return s;
  if (o.routing) {
    std::error_code ec;
    std::filesystem::create_directories(*o.routing, ec);
    if (ec)
      return Status::error(*o.routing + ": cannot create directory: " + ec.message());
    bool any = false;
    for (const auto &r : ep.results) {
      if (r.kind != ArgKind::Routing)
        continue;
      any = true;
      if (Status s = writeNpy(*o.routing + "/" + r.name + ".npy", results.at(r.name)); !s)
        return s;
    }
    if (!any)
      std::fprintf(stderr, "pce-run: warning: entry point '%s' has no routing results\n", ep.name.c_str());
  }
  return Status::success();
}

namespace {

// i64 [N, gh*gw]: the majority class of each patch's pixels in masks
// [N, H, W] (patch (i, j) covers rows [i*H/gh, (i+1)*H/gh), likewise
// columns), -1 for a patch of void only.
Expected<HostTensor> patchClasses(const uint8_t *masks, int64_t N, int64_t H, int64_t W, int64_t gh, int64_t gw,
                                  int64_t classes) {
  auto out = HostTensor::create(DType::I64, {N, gh * gw});
  if (!out)
    return out;
  std::vector<int64_t> count(static_cast<size_t>(classes));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < gh; ++i)
      for (int64_t j = 0; j < gw; ++j) {
        std::fill(count.begin(), count.end(), 0);
        for (int64_t y = i * H / gh; y < (i + 1) * H / gh; ++y)
          for (int64_t x = j * W / gw; x < (j + 1) * W / gw; ++x) {
            const uint8_t v = masks[(n * H + y) * W + x];
            if (v < classes)
              ++count[v];
          }
        int64_t best = -1;
        for (int64_t k = 0; k < classes; ++k)
          if (count[size_t(k)] > 0 && (best < 0 || count[size_t(k)] > count[size_t(best)]))
            best = k;
        out->i64()[n * gh * gw + i * gw + j] = best;
      }
  return out;
}

} // namespace

Status writeRoutingReportFiles(const Options &o, const EntryPoint &ep, const TensorMap &results,
                               const ReportContext &ctx) {
  if (!o.routing)
    return Status::success();
  RoutingReport report;
  report.imageSize = ctx.imageSize;
  report.classes = ctx.labels || ctx.masks ? ctx.classes : 0;
  bool any = false;
  for (const auto &r : ep.results) {
    if (r.kind != ArgKind::Routing)
      continue;
    any = true;
    const HostTensor &w = results.at(r.name);
    std::optional<HostTensor> perPatch;
    if (ctx.masks && ctx.imageSize && w.shape.size() == 3) {
      const auto [H, W] = *ctx.imageSize;
      auto grid = inferPatchGrid(w.shape[1], H, W);
      if (!grid)
        return Status::error(r.name + ": cannot tell the patch grid of " + std::to_string(w.shape[1]) +
                             " patches on " + std::to_string(H) + "x" + std::to_string(W) + " images");
      auto classes = patchClasses(ctx.masks, w.shape[0], H, W, grid->first, grid->second, ctx.classes);
      if (!classes)
        return classes.status();
      perPatch = std::move(*classes);
    }
    const HostTensor *labels = perPatch ? &*perPatch : ctx.labels;
    auto layer = computeRoutingReport(r.name, w, labels, labels ? ctx.classes : 0);
    if (!layer) {
      std::fprintf(stderr, "pce-run: warning: no routing report: %s\n", layer.error().c_str());
      report.skipped.emplace_back(r.name, layer.error());
      continue;
    }
    if (ctx.imageSize)
      layer->grid = inferPatchGrid(layer->patches, ctx.imageSize->first, ctx.imageSize->second);
    report.items = std::max(report.items, layer->items);
    report.layers.push_back(std::move(*layer));
  }
  if (!any)
    return Status::success(); // writeResults warned already
  if (report.layers.empty())
    for (const auto &r : ep.results)
      if (r.kind == ArgKind::Routing && !results.at(r.name).shape.empty())
        report.items = std::max(report.items, results.at(r.name).shape[0]);
  std::vector<const HostTensor *> weights;
  for (const auto &layer : report.layers)
    weights.push_back(&results.at(layer.name));
#if PCE_HAVE_DATASETS // the PNG encoder
  if (ctx.images && report.imageSize && !weights.empty())
    report.examples = routingExamples(*ctx.images, report.items, ctx.labels, weights);
#endif
  std::vector<std::pair<int64_t, int64_t>> grids;
  for (const auto &layer : report.layers)
    if (layer.grid)
      grids.push_back(*layer.grid);
  if (weights.size() >= 2 && grids.size() == weights.size()) {
    auto paths = computeRoutingPaths(weights, grids, report.items);
    if (!paths)
      return paths.status();
    report.paths = std::move(*paths);
  }
  if (o.clusters > 0 && !weights.empty()) {
    auto clusters = clusterRoutes(weights, report.items, o.clusters);
    if (!clusters)
      return clusters.status();
#if PCE_HAVE_DATASETS
    if (ctx.images && report.imageSize)
      for (int64_t i : clusters->exemplars)
        if (auto ex = routingExampleOf(*ctx.images, i, i, ctx.labels, weights))
          report.clusterExemplars.push_back(std::move(*ex));
#endif
    report.clusters = std::move(*clusters);
  }
  if (o.run) {
    auto log = readJsonLines(*o.run + "/log.jsonl");
    if (!log)
      return log.status();
    report.trainingLog = std::move(*log);
  }
  if (ctx.labels)
    if (Status s = writeNpy(*o.routing + "/labels.npy", *ctx.labels); !s)
      return s;
  if (ctx.masks && ctx.imageSize && ctx.maskItems > 0) {
    auto masks = HostTensor::create(DType::U8, {ctx.maskItems, ctx.imageSize->first, ctx.imageSize->second});
    if (!masks)
      return masks.status();
    std::copy_n(ctx.masks, masks->nbytes(), masks->data.data());
    if (Status s = writeNpy(*o.routing + "/masks.npy", *masks); !s)
      return s;
  }
  if (Status s = writeRoutingReport(report, *o.routing); !s)
    return s;
  for (const std::string &line : routingSummaryLines(report))
    std::printf("%s\n", line.c_str());
  return Status::success();
}

} // namespace pce::run
