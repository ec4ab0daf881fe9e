//===- pce-run.cpp - Run a compiled PCE artifact on .npy inputs or IDX data ===//
//
//   pce-run DIR --weights W.safetensors --input X.npy --output Y.npy
//           [--routing RDIR] [--entry forward]
//   pce-run DIR --weights W.safetensors --idx-images IMAGES [--idx-labels LABELS]
//           [--limit N] [--normalize MEAN,STD] [--output Y.npy] [--routing RDIR]
//
// The IDX mode runs a whole data set (MNIST / Fashion-MNIST files, plain or
// gzip) in batches of the compiled size and, given labels, prints accuracy.
//
// With --routing, RDIR also receives report.json and report.md: the routing
// statistics of docs/SEMANTICS.md §5 per routing result (runtime/RoutingReport.h),
// with I(expert; class) when --idx-labels is given; one summary line per
// layer goes to stdout.
//
// Exit codes: 0 success, 1 runtime error (files, artifact, shapes), 2 usage
// error (anything wrong with the command line itself). See docs/Runtime.md.
//
//===----------------------------------------------------------------------===//

#include "tools/pce-run/DataRun.h"
#include "tools/pce-run/DenseRun.h"
#include "tools/pce-run/Options.h"
#include "tools/pce-run/Outputs.h"

#include "runtime/Artifact.h"
#include "runtime/Npy.h"
#include "runtime/Safetensors.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

using namespace pce::rt;
using namespace pce::run;

namespace {

// Matches --input values to the entry point's "input" arguments.
Expected<std::vector<std::pair<std::string, std::string>>>
resolveInputs(const EntryPoint &ep, const std::vector<std::string> &raw) {
  std::vector<std::string> names;
  for (const auto &a : ep.arguments)
    if (a.kind == ArgKind::Input)
      names.push_back(a.name);
  auto isInput = [&](const std::string &n) {
    for (const auto &x : names)
      if (x == n)
        return true;
    return false;
  };
  std::string list;
  for (const auto &n : names)
    list += (list.empty() ? "" : ", ") + n;
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  for (const std::string &r : raw) {
    size_t eq = r.find('=');
    std::string name, file;
    if (eq != std::string::npos && isInput(r.substr(0, eq))) {
      name = r.substr(0, eq);
      file = r.substr(eq + 1);
    } else if (raw.size() == 1 && names.size() == 1) {
      name = names[0];
      file = r;
    } else if (eq != std::string::npos) {
      return Status::error("entry point '" + ep.name + "' has no input named '" + r.substr(0, eq) +
                           "' (inputs: " + list + ")");
    } else {
      return Status::error("entry point '" + ep.name + "' has " + std::to_string(names.size()) +
                           " inputs (" + list + "): pass each as --input NAME=FILE.npy");
    }
    if (!seen.insert(name).second)
      return Status::error("input '" + name + "' given twice");
    out.emplace_back(name, file);
  }
  return out;
}

// H, W of the entry point's single rank-4 input (the images), if it has one.
std::optional<std::pair<int64_t, int64_t>> imageSizeOf(const EntryPoint &ep) {
  std::optional<std::pair<int64_t, int64_t>> size;
  int rank4 = 0;
  for (const auto &a : ep.arguments)
    if (a.kind == ArgKind::Input && a.shape.size() == 4) {
      ++rank4;
      size = std::make_pair(a.shape[2], a.shape[3]);
    }
  return rank4 == 1 ? size : std::nullopt;
}

int runTool(const Options &o) {
  auto art = Artifact::open(o.dir);
  if (!art)
    return runtimeError(art.error());
  if (o.threads > 0)
    art->setThreads(o.threads);
  const EntryPoint *ep = art->manifest().findEntry(o.entry);
  if (!ep) {
    std::string names;
    for (const auto &e : art->manifest().entryPoints)
      names += (names.empty() ? "" : ", ") + e.name;
    return runtimeError("artifact " + o.dir + " has no entry point '" + o.entry + "' (available: " + names + ")");
  }
  const BufferSpec *output = nullptr;
  for (const auto &r : ep->results)
    if (r.kind == ArgKind::Output) {
      output = &r;
      break;
    }
  if (!output)
    return runtimeError("entry point '" + ep->name + "' has no result of kind output");

  bool needsWeights = false;
  for (const auto &a : ep->arguments)
    needsWeights |= a.kind == ArgKind::Parameter;
  std::optional<DataDescription> trained;
  if (o.weights) {
    auto weights = readSafetensors(*o.weights);
    if (!weights)
      return runtimeError(weights.error());
    auto data = readDataMetadata(weights->metadata, *o.weights);
    if (!data)
      return runtimeError(data.error());
    trained = *data;
    if (Status s = art->bindParameters(*weights); !s)
      return runtimeError(s.message());
    for (const auto &w : art->warnings())
      std::fprintf(stderr, "pce-run: warning: %s\n", w.c_str());
  } else if (needsWeights) {
    return runtimeError("entry point '" + ep->name + "' takes parameters: pass --weights FILE.safetensors");
  }

  const std::optional<HeadSpec> &head = art->manifest().head;
  const bool dense = head && head->kind != HeadKind::Classification && ep->name == "forward";
  if (o.data && dense) {
    if (!trained)
      return runtimeError("--data: the weights do not say how their training normalised the images (no pce.data.* "
                          "metadata written by pce-train)");
    return runDense(o, *art, *ep, *output, *trained, *head);
  }
  if (o.masks || o.detections || o.scores)
    return runtimeError("--masks, --detections and --scores need --data and an artifact with a segmentation or "
                        "detection head");
  if (o.idxImages || o.data)
    return runData(o, *art, *ep, *output, trained);

  auto inputs = resolveInputs(*ep, o.inputs);
  if (!inputs)
    return runtimeError(inputs.error());
  TensorMap feed;
  for (const auto &[name, file] : *inputs) {
    auto t = readNpy(file);
    if (!t)
      return runtimeError(t.error());
    feed.emplace(name, std::move(*t));
  }

  auto results = art->run(ep->name, feed);
  if (!results)
    return runtimeError(results.error());

  if (Status s = writeResults(o, *ep, *output, *results); !s)
    return runtimeError(s.message());
  if (o.repeat) {
    // The first call above was the warm-up.
    std::vector<double> ms;
    for (int i = 0; i < o.repeat; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto again = art->run(ep->name, feed);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                       .count());
      if (!again)
        return runtimeError(again.error());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("time: entry point '%s', %s target: median %.3f ms, min %.3f ms over %d calls "
                "(after 1 untimed)\n",
                ep->name.c_str(), art->manifest().target.c_str(), ms[ms.size() / 2], ms.front(),
                o.repeat);
  }
  ReportContext ctx;
  ctx.imageSize = imageSizeOf(*ep);
  if (Status s = writeRoutingReportFiles(o, *ep, *results, ctx); !s)
    return runtimeError(s.message());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    Options o;
    if (std::optional<int> exit = parseCommandLine(argc, argv, o))
      return *exit;
    return runTool(o);
  } catch (const std::exception &e) {
    return runtimeError(std::string("internal error: ") + e.what());
  }
}
