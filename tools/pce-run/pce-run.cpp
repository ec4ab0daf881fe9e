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

#include "runtime/Artifact.h"
#include "runtime/Idx.h"
#include "runtime/Npy.h"
#include "runtime/RoutingReport.h"
#include "runtime/Safetensors.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace pce::rt;

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

const char *kUsage =
    "usage: pce-run DIR --input X.npy --output Y.npy [--weights W.safetensors]\n"
    "               [--routing RDIR] [--entry NAME]\n"
    "       pce-run DIR --idx-images IMAGES [--idx-labels LABELS] [--limit N]\n"
    "               [--normalize MEAN,STD] [--weights W.safetensors]\n"
    "               [--output Y.npy] [--routing RDIR] [--entry NAME]\n"
    "\n"
    "Runs entry point NAME (default: forward) of the compiled artifact in DIR.\n"
    "\n"
    "  --weights W.safetensors  parameters of the model (needed when the entry\n"
    "                           point takes parameters)\n"
    "  --input X.npy            the entry point's single \"input\" argument\n"
    "  --input NAME=X.npy       one input by name (repeat for several inputs)\n"
    "  --output Y.npy           where to write the first \"output\" result\n"
    "  --routing RDIR           create RDIR and write every \"routing\" result\n"
    "                           as RDIR/<result name>.npy, and the routing\n"
    "                           statistics (entropy, expert usage, routing map,\n"
    "                           mutual information) as RDIR/report.json and\n"
    "                           RDIR/report.md; a summary line per layer goes\n"
    "                           to stdout\n"
    "  --entry NAME             entry point to run (default: forward)\n"
    "  --threads N              threads for inputs holding several compiled batches\n"
    "                           (default: $PCE_NUM_THREADS, else all cores)\n"
    "  --repeat N               after the call whose results are written, time N\n"
    "                           more calls of the entry point on the same inputs\n"
    "                           and print their median and minimum (with --input;\n"
    "                           e.g. a CUDA artifact's time for R5, docs/GPU.md)\n"
    "  --help                   show this help\n"
    "\n"
    "Data sets in the IDX format (MNIST, Fashion-MNIST; plain or .gz), instead of\n"
    "--input; the entry point must take one f32 input [B,1,H,W]:\n"
    "  --idx-images IMAGES      u8 images [N,H,W], scaled to [0,1] (x/255), run in\n"
    "                           batches of B (the last one padded with zeros)\n"
    "  --idx-labels LABELS      labels [N]: print top-1 (and, with >= 5 classes,\n"
    "                           top-5) accuracy of the first output [N,classes];\n"
    "                           with --routing, also I(expert; class)\n"
    "  --limit N                use only the first N images\n"
    "  --normalize MEAN,STD     after scaling, x = (x - MEAN) / STD\n"
    "  --output, --routing      optional here; they receive all N items\n"
    "\n"
    "Exit status: 0 success, 1 runtime error, 2 usage error.\n";

struct Options {
  std::string dir;
  std::optional<std::string> weights, output, routing;
  std::string entry = "forward";
  bool entryGiven = false;
  std::vector<std::string> inputs;
  int threads = 0; // 0: the runtime's default
  // IDX mode (--idx-images instead of --input).
  std::optional<std::string> idxImages, idxLabels, limitText, normalizeText;
  int64_t limit = 0; // 0: every image
  int repeat = 0;    // --repeat: timed calls after the first
  std::optional<IdxNormalization> normalization;
};

struct UsageError {
  std::string message;
};

int usageError(const std::string &message) {
  std::fprintf(stderr, "pce-run: %s\n(run 'pce-run --help' for usage)\n", message.c_str());
  return kExitUsage;
}

int runtimeError(const std::string &message) {
  std::fprintf(stderr, "pce-run: error: %s\n", message.c_str());
  return kExitRuntime;
}

// "MEAN,STD": two finite numbers, STD > 0.
IdxNormalization parseNormalization(const std::string &value) {
  auto bad = [&] {
    return UsageError{"option '--normalize' needs MEAN,STD (two numbers, STD > 0), found '" + value + "'"};
  };
  size_t comma = value.find(',');
  if (comma == std::string::npos)
    throw bad();
  auto number = [&](const std::string &text) {
    char *end = nullptr;
    float v = std::strtof(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v))
      throw bad();
    return v;
  };
  IdxNormalization n{number(value.substr(0, comma)), number(value.substr(comma + 1))};
  if (!(n.std > 0))
    throw bad();
  return n;
}

// "87.31%": the form the accuracy line uses (tests format it the same way).
std::string percent(int64_t hits, int64_t total) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * double(hits) / double(total));
  return buf;
}

// Returns nullopt after printing help (exit 0); throws UsageError.
std::optional<Options> parseArgs(int argc, char **argv) {
  Options o;
  bool haveDir = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return std::nullopt;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg.rfind("-", 0) == 0 && arg != "-")
        throw UsageError{"unknown option '" + arg + "'"};
      if (haveDir)
        throw UsageError{"unexpected extra argument '" + arg + "' (the artifact directory is '" + o.dir + "')"};
      o.dir = arg;
      haveDir = true;
      continue;
    }
    // --flag VALUE or --flag=VALUE
    std::string flag = arg, value;
    bool inlineValue = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inlineValue = true;
    }
    static const std::set<std::string> known = {"--weights", "--input",      "--output",     "--routing",
                                                "--entry",   "--threads",    "--idx-images", "--idx-labels",
                                                "--limit",   "--normalize", "--repeat"};
    if (!known.count(flag))
      throw UsageError{"unknown option '" + flag + "'"};
    if (!inlineValue) {
      if (i + 1 >= argc)
        throw UsageError{"option '" + flag + "' needs a value"};
      value = argv[++i];
    }
    if (value.empty())
      throw UsageError{"option '" + flag + "' needs a non-empty value"};
    auto once = [&](std::optional<std::string> &slot) {
      if (slot)
        throw UsageError{"option '" + flag + "' given twice"};
      slot = value;
    };
    if (flag == "--weights")
      once(o.weights);
    else if (flag == "--output")
      once(o.output);
    else if (flag == "--routing")
      once(o.routing);
    else if (flag == "--input")
      o.inputs.push_back(value);
    else if (flag == "--idx-images")
      once(o.idxImages);
    else if (flag == "--idx-labels")
      once(o.idxLabels);
    else if (flag == "--limit") {
      once(o.limitText);
      char *end = nullptr;
      errno = 0;
      long long n = std::strtoll(value.c_str(), &end, 10);
      if (*end != '\0' || errno == ERANGE || n < 1)
        throw UsageError{"option '--limit' needs a positive count, found '" + value + "'"};
      o.limit = n;
    } else if (flag == "--normalize") {
      once(o.normalizeText);
      o.normalization = parseNormalization(value);
    }
    else if (flag == "--repeat") {
      char *end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 100000 || o.repeat)
        throw UsageError{o.repeat ? "option '--repeat' given twice"
                                  : "option '--repeat' needs a count in [1, 100000], found '" + value + "'"};
      o.repeat = static_cast<int>(n);
    }
    else if (flag == "--threads") {
      char *end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 1024)
        throw UsageError{"option '--threads' needs a count in [1, 1024], found '" + value + "'"};
      o.threads = static_cast<int>(n);
    }
    else if (flag == "--entry") {
      if (o.entryGiven)
        throw UsageError{"option '--entry' given twice"};
      o.entry = value;
      o.entryGiven = true;
    }
  }
  if (!haveDir)
    throw UsageError{"missing the artifact directory"};
  if (o.idxImages) {
    if (!o.inputs.empty())
      throw UsageError{"--input and --idx-images are alternatives: give one of them"};
    if (o.repeat)
      throw UsageError{"option '--repeat' needs --input (it times one call on the same inputs)"};
    return o; // --output is optional: the accuracy may be all one wants
  }
  if (o.idxLabels)
    throw UsageError{"option '--idx-labels' needs --idx-images"};
  if (o.limitText)
    throw UsageError{"option '--limit' needs --idx-images"};
  if (o.normalizeText)
    throw UsageError{"option '--normalize' needs --idx-images"};
  if (o.inputs.empty())
    throw UsageError{"missing --input (or --idx-images)"};
  if (!o.output)
    throw UsageError{"missing --output"};
  return o;
}

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

// Writes --output (the first output result) and --routing (every routing
// result) when they were asked for.
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

// What the routing report knows beyond the routing results themselves.
struct ReportContext {
  const HostTensor *labels = nullptr; // i64 [N], each in [0, classes)
  int64_t classes = 0;
  std::optional<std::pair<int64_t, int64_t>> imageSize; // H, W of the input images
};

// --routing: RDIR/report.json and RDIR/report.md from every routing result
// (already written as .npy by writeResults), and one summary line per layer
// on stdout. A result that is not a routing distribution (NaN, negative
// weights...) is left out of the report with a warning, not an error: its
// .npy is written all the same.
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

// --idx-images: the whole data set through the entry point's single input,
// k compiled batches in one run() (the runtime spreads them over threads).
int runIdx(const Options &o, const Artifact &art, const EntryPoint &ep, const BufferSpec &output) {
  std::vector<const BufferSpec *> inputs;
  std::string names;
  for (const auto &a : ep.arguments)
    if (a.kind == ArgKind::Input) {
      inputs.push_back(&a);
      names += (names.empty() ? "" : ", ") + a.name;
    }
  if (inputs.size() != 1)
    return runtimeError("--idx-images needs an entry point with exactly one input; '" + ep.name + "' has " +
                        (names.empty() ? std::string("none") : names));
  const BufferSpec *input = inputs[0];

  IdxDatasetOptions options;
  options.limit = o.limit;
  options.normalization = o.normalization;
  auto ds = readIdxDataset(*o.idxImages, o.idxLabels.value_or(""), options);
  if (!ds)
    return runtimeError(ds.error());
  HostTensor &images = ds->images; // f32 [N,1,H,W]
  const int64_t n = images.shape[0];
  std::vector<int64_t> item(images.shape.begin() + 1, images.shape.end());
  if (input->dtype != DType::F32 || input->shape.size() != 4 || input->shape[0] < 1 ||
      std::vector<int64_t>(input->shape.begin() + 1, input->shape.end()) != item)
    return runtimeError("entry point '" + ep.name + "': input '" + input->name + "' expects " +
                        input->typeString() + ", which does not take the images of " + *o.idxImages +
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
        return runtimeError(*o.idxLabels + ": label " + std::to_string(label) + " of item " + std::to_string(i) +
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
  if (Status s = writeRoutingReportFiles(o, ep, *results, ctx); !s)
    return runtimeError(s.message());
  return 0;
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
  if (o.weights) {
    auto weights = readSafetensors(*o.weights);
    if (!weights)
      return runtimeError(weights.error());
    if (Status s = art->bindParameters(*weights); !s)
      return runtimeError(s.message());
    for (const auto &w : art->warnings())
      std::fprintf(stderr, "pce-run: warning: %s\n", w.c_str());
  } else if (needsWeights) {
    return runtimeError("entry point '" + ep->name + "' takes parameters: pass --weights FILE.safetensors");
  }

  if (o.idxImages)
    return runIdx(o, *art, *ep, *output);

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
    std::optional<Options> o;
    try {
      o = parseArgs(argc, argv);
    } catch (const UsageError &e) {
      return usageError(e.message);
    }
    if (!o)
      return 0;
    return runTool(*o);
  } catch (const std::exception &e) {
    return runtimeError(std::string("internal error: ") + e.what());
  }
}
