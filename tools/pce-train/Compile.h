//===- Compile.h - the compiled side of a run (pce-compile as a subprocess) ===//
//
// pce-train links no MLIR: it runs `pce-compile MODEL.yaml --training -o
// RUN_DIR/compiled` (or, for the dense baseline, which needs only the plan,
// `pce-translate --import-training MODEL.yaml`) found next to its own
// executable (/proc/self/exe). Errors throw std::runtime_error.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_TRAIN_COMPILE_H
#define PCE_TOOLS_PCE_TRAIN_COMPILE_H

#include <string>
#include <vector>

namespace pce::train {

// DIR_OF(/proc/self/exe)/name.
std::string siblingTool(const std::string &name);

// Runs argv (argv[0] a path) with stdout sent to `stdoutPath` unless that is
// empty; returns the exit status (128 + signal when killed).
int runProcess(const std::vector<std::string> &argv, const std::string &stdoutPath = "");

// pce-compile MODEL --training -o outDir.
void compileForTraining(const std::string &model, const std::string &outDir);

// outDir/training.json from the pce.training_plan attribute that
// pce-translate --import-training prints (no artifacts are built).
void writePlanOnly(const std::string &model, const std::string &outDir);

// The text of an MLIR string attribute body (escapes \\, \XX) decoded.
std::string decodeMlirString(const std::string &escaped);

} // namespace pce::train

#endif // PCE_TOOLS_PCE_TRAIN_COMPILE_H
