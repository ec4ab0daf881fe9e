//===- Options.h - pce-run's command line ---------------------------------===//
#ifndef PCE_TOOLS_PCE_RUN_OPTIONS_H
#define PCE_TOOLS_PCE_RUN_OPTIONS_H

#include "runtime/Idx.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pce::run {

struct Options {
  std::string dir;
  std::optional<std::string> weights, output, routing;
  int64_t clusters = 4; // --clusters: route clusters in the routing report (0: none)
  std::optional<std::string> run; // --run: a pce-train run directory, for report.html's training curves
  std::string entry = "forward";
  std::vector<std::string> inputs;
  int threads = 0; // 0: the runtime's default
  // IDX mode (--idx-images instead of --input).
  std::optional<std::string> idxImages, idxLabels;
  int64_t limit = 0; // 0: every image
  int repeat = 0;    // --repeat: timed calls after the first
  std::optional<rt::IdxNormalization> normalization;
  // Data-set mode (--data DIR instead of --input / --idx-images).
  std::optional<std::string> data, dataFormat;
  std::optional<std::string> split; // test | val | train; default: the held-out split (rt::heldOutSplit)
  // Dense heads with --data (DenseRun.h).
  std::optional<std::string> masks, detections, scores;
};

/// Reads argv by the rules of tools/support/CommandLine.h. Returns the exit
/// status when pce-run should stop (--help, --version, a usage error: all
/// printed), else nullopt with `options` filled.
std::optional<int> parseCommandLine(int argc, char **argv, Options &options);

} // namespace pce::run

#endif // PCE_TOOLS_PCE_RUN_OPTIONS_H
