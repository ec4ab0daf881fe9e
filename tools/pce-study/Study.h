//===- Study.h - a study description: variants x seeds of pce-train -------===//
//
// A study is a YAML file (docs/Analysis.md, "Studies"):
//   study: fashion-routers          # its name
//   seeds: [1, 2, 3]                # every variant runs once per seed
//   args: [--epochs, "1"]           # pce-train options of every run
//   variants:
//     - {name: cosine, model: cosine.yaml}            # relative to this file
//     - {name: dense, model: cosine.yaml, args: [--dense], note: "the twin"}
//     - name: mlp
//       model: cosine.yaml
//       set: {training.phases: "[{epochs: 2, router: mlp}]"}  # ModelOverride.h
// Mistakes are reported as FILE:LINE:COL: error: ... and nothing runs.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_STUDY_STUDY_H
#define PCE_TOOLS_PCE_STUDY_STUDY_H

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pce::study {

struct Variant {
  std::string name;  // [A-Za-z0-9._-]+, unique: a directory name
  std::string model; // absolute, or relative to the working directory
  std::vector<std::string> args;
  std::string note;
  // Keys of the model description replaced for this variant, e.g.
  // {"training.phases", "- {epochs: 1, ...}\n"} (ModelOverride.h), in order.
  std::vector<std::pair<std::string, std::string>> sets;
};

struct Study {
  std::string name;
  std::vector<int64_t> seeds;
  std::vector<std::string> args;
  std::vector<Variant> variants;
};

// Reads `path`; on a mistake prints it (FILE:LINE:COL) to `errors` and
// returns nullopt.
std::optional<Study> readStudy(const std::string &path, std::string &errors);

} // namespace pce::study

#endif // PCE_TOOLS_PCE_STUDY_STUDY_H
