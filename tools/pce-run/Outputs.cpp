//===- Outputs.cpp - what pce-run writes: results, routing report, errors -===//

#include "tools/pce-run/Outputs.h"

#include "runtime/Npy.h"
#include "runtime/RoutingReport.h"
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

Status writeRoutingReportFiles(const Options &o, const EntryPoint &ep, const TensorMap &results,
                               const ReportContext &ctx) {
  if (!o.routing)
    return Status::success();
  RoutingReport report;
  report.imageSize = ctx.imageSize;
  report.classes = ctx.labels ? ctx.classes : 0;
  bool any = false;
  for (const auto &r : ep.results) {
    if (r.kind != ArgKind::Routing)
      continue;
    any = true;
    const HostTensor &w = results.at(r.name);
    auto layer = computeRoutingReport(r.name, w, ctx.labels, ctx.labels ? ctx.classes : 0);
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
  if (Status s = writeRoutingReport(report, *o.routing); !s)
    return s;
  for (const std::string &line : routingSummaryLines(report))
    std::printf("%s\n", line.c_str());
  return Status::success();
}

} // namespace pce::run
