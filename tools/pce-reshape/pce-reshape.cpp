//===- pce-reshape.cpp - prune and split experts of a trained run --------===//
//
//   pce-reshape RUN -o NEW [--model MODEL.yaml] [--phase N]
//               [--prune-usage-below U] [--split-usage-above S]
//               [--split-entropy-above H] [--layer NAME]... [--seed N] [--perturb EPS]
//
// Reads a pce-train run (weights, the last phase's manifest, a phase's
// routing report) and writes NEW/model.yaml (the description with only the
// `experts:` values changed), NEW/weights.safetensors and NEW/reshape.json.
// Everything is computed and checked in memory (the new description must
// import and fit the new weights) before NEW appears, whole, by a rename.
// docs/Analysis.md, "Pruning and splitting experts (pce-reshape)".
//
//===----------------------------------------------------------------------===//

#include "tools/pce-reshape/Description.h"
#include "tools/pce-reshape/Reshape.h"
#include "tools/pce-reshape/RunFiles.h"

#include "tools/support/CommandLine.h"

#include "runtime/Json.h"
#include "runtime/Safetensors.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace pce;
using namespace pce::reshape;

namespace {

const char *kUsage =
    "usage: pce-reshape RUN -o NEW [--model MODEL.yaml] [--phase N]\n"
    "                   [--prune-usage-below U] [--split-usage-above S]\n"
    "                   [--split-entropy-above H] [--layer NAME]... [--seed N]\n"
    "                   [--perturb EPS]\n"
    "\n"
    "Prunes and splits the experts of a trained run's pce layers by their routing\n"
    "statistics (RUN/report/phase<N>/report.json) and writes NEW/model.yaml,\n"
    "NEW/weights.safetensors and NEW/reshape.json (docs/Analysis.md).\n"
    "\n"
    "  -o NEW                   the directory to create (must not exist)\n"
    "  --model MODEL.yaml       the run's model description (default: the one\n"
    "                           RUN/summary.json's command line names)\n"
    "  --phase N                the phase whose routing report to use (default:\n"
    "                           the last)\n"
    "  --prune-usage-below U    remove every expert whose usage share is below U\n"
    "                           (in [0, 1]; at least one expert always stays)\n"
    "  --split-usage-above S    split every expert whose usage is above S (in\n"
    "                           [0, 1]; e.g. 2/E: twice the balanced share)\n"
    "  --split-entropy-above H  split every expert whose routing entropy / log E\n"
    "                           is above H (in [0, 1]; report.json's\n"
    "                           \"expert_entropy\"; reports without it: usage only)\n"
    "  --layer NAME             reshape only this pce layer (repeatable; default:\n"
    "                           all)\n"
    "  --seed N                 seed of the split copies' kernel noise (default 0)\n"
    "  --perturb EPS            the noise's size relative to the kernel's RMS\n"
    "                           (default 0.01)\n"
    "  --help                   show this help\n"
    "  --version                show the PCE version and git commit\n"
    "\n"
    "Exit status: 0 success, 1 error (files, layers, thresholds), 2 usage error.\n";

struct Options {
  std::string run, out;
  std::optional<std::string> model;
  std::optional<int64_t> phase;
  std::optional<std::string> prune, splitUsage, splitEntropy, perturb;
  std::vector<std::string> layers;
  uint64_t seed = 0;
};

int fail(const std::string &message) {
  std::fprintf(stderr, "pce-reshape: error: %s\n", message.c_str());
  return tool::kExitError;
}

// A number (its range is checked with the other options: a usage error).
double number(const std::string &option, const std::string &text) {
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v))
    throw tool::UsageError("option '" + option + "' needs a number, found '" + text + "'");
  return v;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  tool::CommandLine cl("pce-reshape", kUsage);
  CLI::App &app = cl.app();
  app.add_option("RUN", o.run);
  app.add_option("-o", o.out);
  app.add_option("--model", o.model);
  cl.addInteger("--phase", "a phase number >= 1", 1, 1000000, [&](int64_t n) { o.phase = n; });
  app.add_option("--prune-usage-below", o.prune);
  app.add_option("--split-usage-above", o.splitUsage);
  app.add_option("--split-entropy-above", o.splitEntropy);
  app.add_option("--perturb", o.perturb);
  app.add_option("--layer", o.layers);
  cl.addInteger("--seed", "a non-negative integer", 0, INT64_MAX,
                [&](int64_t n) { o.seed = uint64_t(n); });
  Thresholds t;
  double perturb = 1e-2;
  if (std::optional<int> exit = cl.handle(argc, argv, [&] {
        if (o.run.empty())
          throw tool::UsageError("missing the run directory RUN");
        if (o.out.empty())
          throw tool::UsageError("missing -o NEW");
        if (!o.prune && !o.splitUsage && !o.splitEntropy)
          throw tool::UsageError("nothing to do: give --prune-usage-below, --split-usage-above "
                                 "or --split-entropy-above");
        if (o.prune)
          t.pruneUsageBelow = number("--prune-usage-below", *o.prune);
        if (o.splitUsage)
          t.splitUsageAbove = number("--split-usage-above", *o.splitUsage);
        if (o.splitEntropy)
          t.splitEntropyAbove = number("--split-entropy-above", *o.splitEntropy);
        if (o.perturb)
          perturb = number("--perturb", *o.perturb);
        // Thresholds that can never make sense for shares and normalised entropies.
        if (t.pruneUsageBelow && (*t.pruneUsageBelow < 0 || *t.pruneUsageBelow > 1))
          throw tool::UsageError("--prune-usage-below " + *o.prune + ": a usage share lies in [0, 1]");
        if (t.splitUsageAbove && (*t.splitUsageAbove < 0 || *t.splitUsageAbove > 1))
          throw tool::UsageError("--split-usage-above " + *o.splitUsage + ": a usage share lies in [0, 1]");
        if (t.splitEntropyAbove && (*t.splitEntropyAbove < 0 || *t.splitEntropyAbove > 1))
          throw tool::UsageError("--split-entropy-above " + *o.splitEntropy +
                                 ": an entropy / log E lies in [0, 1]");
        if (t.pruneUsageBelow && t.splitUsageAbove && *t.pruneUsageBelow > *t.splitUsageAbove)
          throw tool::UsageError("--prune-usage-below " + *o.prune + " is above --split-usage-above " +
                                 *o.splitUsage + ": an expert cannot be both pruned and split");
      }))
    return *exit;
  if (perturb < 0 || perturb > 1)
    return fail("--perturb " + *o.perturb + ": the relative noise lies in [0, 1]");
  if (fs::exists(o.out))
    return fail(o.out + ": already exists (pce-reshape writes a new directory; remove it or "
                        "choose another -o)");

  auto run = readRun(o.run, o.phase, o.model);
  if (!run)
    return fail(run.error());
  auto description = readDescription(run->modelPath);
  if (!description)
    return fail(description.error());

  // The layers to reshape: named ones must be pce layers of the description.
  std::vector<const DescribedLayer *> chosen;
  for (const std::string &name : o.layers) {
    const DescribedLayer *found = nullptr;
    for (const DescribedLayer &d : description->layers)
      if (d.name == name)
        found = &d;
    if (!found) {
      bool other = false;
      for (const std::string &n : description->otherLayers)
        other |= n == name;
      std::string pce;
      for (const DescribedLayer &d : description->layers)
        pce += (pce.empty() ? "" : ", ") + d.name;
      return fail(description->path + ": --layer " + name +
                  (other ? ": not a pce layer" : ": no such layer") + " (its pce layers: " +
                  (pce.empty() ? "none" : pce) + ")");
    }
    chosen.push_back(found);
  }
  if (o.layers.empty())
    for (const DescribedLayer &d : description->layers)
      chosen.push_back(&d);
  if (chosen.empty())
    return fail(description->path + ": the description has no pce layer");

  std::map<std::string, rt::HostTensor> tensors = run->weights.tensors;
  std::mt19937_64 rng(o.seed);
  std::vector<LayerOutcome> outcomes;
  std::map<std::string, int64_t> newExperts;
  std::vector<std::string> notes;
  for (const DescribedLayer *d : chosen) {
    auto stats = run->stats.find(d->name);
    if (stats == run->stats.end())
      return fail(run->reportPath + ": no routing statistics for layer '" + d->name + "'");
    if (int64_t(stats->second.usage.size()) != d->experts)
      return fail(run->reportPath + ": layer '" + d->name + "' has " +
                  std::to_string(stats->second.usage.size()) + " experts, the description " +
                  std::to_string(d->experts));
    if (o.splitEntropy && !stats->second.entropy)
      notes.push_back(d->name + ": " + run->reportPath +
                      " has no per-expert entropy (\"expert_entropy\"): split by usage only");
    LayerOutcome outcome;
    outcome.name = d->name;
    auto router = run->routers.find(d->name);
    outcome.router = router != run->routers.end() ? router->second : d->router;
    outcome.decision = decideExperts(stats->second.usage,
                                     stats->second.entropy ? &*stats->second.entropy : nullptr, t);
    const ExpertMap &map = outcome.decision.map;
    if (!map.identity()) {
      const std::string where = description->path + ": layer '" + d->name + "'";
      if (d->table || description->phaseTable)
        return fail(where + ": a position router's 'table' lists an expert per patch; "
                            "pce-reshape cannot rewrite it");
      if (d->topK > map.after())
        return fail(where + ": top_k " + std::to_string(d->topK) + " is more than the " +
                    std::to_string(map.after()) + " experts left");
      if (outcome.router == "position")
        notes.push_back(d->name + ": the position router's default table p mod E now spreads "
                                  "patches over " + std::to_string(map.after()) + " experts");
      // A tensor of the layer that the manifest does not describe might have
      // an expert dimension: refuse rather than leave it the old size.
      std::vector<LayerParam> params = layerParams(run->manifest, d->name);
      for (const auto &[name, tensor] : tensors) {
        bool listed = false;
        for (const LayerParam &p : params)
          listed |= p.name == name;
        if (!listed && name.rfind(d->name + ".", 0) == 0)
          return fail(o.run + "/weights.safetensors: tensor '" + name +
                      "' is not in the last phase's manifest: cannot tell its expert dimension");
      }
      SurgeryOptions surgery;
      surgery.perturb = perturb;
      if (rt::Status s = reshapeLayer(tensors, params, map, surgery, rng); !s)
        return fail(o.run + ": layer '" + d->name + "': " + s.message());
      newExperts[d->name] = map.after();
    }
    outcomes.push_back(std::move(outcome));
  }

  auto text = rewriteExperts(*description, newExperts);
  if (!text)
    return fail(text.error());
  const std::string newModel = o.out + "/model.yaml";
  if (rt::Status s = verifyDescription(newModel, *text, "phase" + std::to_string(run->lastPhase), tensors);
      !s)
    return fail("the reshaped model does not check: " + s.message());

  // Write into a sibling temporary directory; NEW appears whole by rename.
  const std::string tmp = o.out + ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec) || ec)
    return fail(tmp + ": cannot create it: " + ec.message());
  auto cleanup = [&](const std::string &message) {
    fs::remove_all(tmp, ec);
    return fail(message);
  };
  {
    std::ofstream yaml(tmp + "/model.yaml", std::ios::binary);
    yaml << *text;
    if (!yaml.flush())
      return cleanup(tmp + "/model.yaml: cannot write it");
  }
  std::map<std::string, std::string> metadata = run->weights.metadata;
  metadata["pce.reshape.source"] = o.run;
  if (rt::Status s = rt::writeSafetensors(tmp + "/weights.safetensors", tensors, metadata); !s)
    return cleanup(s.message());
  {
    std::ofstream json(tmp + "/reshape.json", std::ios::binary);
    json << rt::writeJson(reshapeJson(o.run, run->modelPath, run->reportPhase, o.seed, perturb,
                                      outcomes),
                          1)
         << "\n";
    if (!json.flush())
      return cleanup(tmp + "/reshape.json: cannot write it");
  }
  fs::rename(tmp, o.out, ec);
  if (ec)
    return cleanup(o.out + ": cannot rename " + tmp + " to it: " + ec.message());

  std::fputs(reshapeTable(outcomes).c_str(), stdout);
  for (const std::string &n : notes)
    std::printf("note: %s\n", n.c_str());
  for (const LayerOutcome &l : outcomes)
    std::printf("pce-reshape: %s: %lld -> %lld experts\n", l.name.c_str(),
                static_cast<long long>(l.decision.map.before),
                static_cast<long long>(l.decision.map.after()));
  std::printf("pce-reshape: wrote %s (model.yaml, weights.safetensors, reshape.json)\n",
              o.out.c_str());
  return tool::kExitSuccess;
}
