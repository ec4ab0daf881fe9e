//===- RunFiles.h - what pce-reshape reads from a run, what it writes ----===//
//
// A pce-train run directory (docs/Training.md): the weights, the last
// phase's manifest (the parameters' roles), the routing report of a phase
// (usage per expert), the plan's router kinds and the model description's
// path (summary.json records the command line). And NEW/reshape.json and the
// table pce-reshape prints. No MLIR here.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_RESHAPE_RUNFILES_H
#define PCE_TOOLS_PCE_RESHAPE_RUNFILES_H

#include "tools/pce-reshape/Reshape.h"

#include "runtime/Json.h"
#include "runtime/Manifest.h"
#include "runtime/Safetensors.h"
#include "runtime/Status.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pce::reshape {

/// The routing statistics of one layer in report.json.
struct LayerStats {
  std::vector<double> usage;                  ///< "expert_usage"
  std::optional<std::vector<double>> entropy; ///< "expert_entropy", when the report has it
};

struct Run {
  std::string dir;
  std::string modelPath;      ///< the description to read (resolved)
  int64_t lastPhase = 0;      ///< N of the last compiled/phase<N>
  rt::Manifest manifest;      ///< compiled/phase<lastPhase>/manifest.json
  int64_t reportPhase = 0;
  std::string reportPath;
  std::map<std::string, LayerStats> stats;    ///< by layer name ("<layer>.routing" in the file)
  std::map<std::string, std::string> routers; ///< the last phase's router kind per layer (plan)
  rt::SafetensorsFile weights;
};

/// Reads RUN. `phase` picks the report (default: the last phase); `model`
/// overrides the description recorded in summary.json. Errors name the path
/// and the reason.
rt::Expected<Run> readRun(const std::string &dir, std::optional<int64_t> phase,
                          std::optional<std::string> model);

/// The manifest's parameters of layer `layer` ("<layer>." names).
std::vector<LayerParam> layerParams(const rt::Manifest &manifest, const std::string &layer);

/// What pce-reshape did to one layer.
struct LayerOutcome {
  std::string name;
  std::string router; ///< its kind in the last phase ("" when unknown)
  LayerDecision decision;
};

/// NEW/reshape.json (schema: docs/Analysis.md).
rt::JsonValue reshapeJson(const std::string &source, const std::string &model, int64_t reportPhase,
                          uint64_t seed, double perturb, const std::vector<LayerOutcome> &layers);

/// The table pce-reshape prints: a header, then one line per old expert.
std::string reshapeTable(const std::vector<LayerOutcome> &layers);

} // namespace pce::reshape

#endif // PCE_TOOLS_PCE_RESHAPE_RUNFILES_H
