//===- Harness.h - compiled models against the float64 reference -*- C++ -*-===//
//
// Builds the MLIR text of a one-function model whose arguments are random
// tensors, compiles it with the real `pce-compile` into a fresh artifact,
// runs it through the runtime in float32 and hands back the results in
// float64 for comparison with the reference (runtime/reference).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_TEST_AGREEMENT_HARNESS_H
#define PCE_TEST_AGREEMENT_HARNESS_H

#include "runtime/Artifact.h"
#include "runtime/reference/ModelText.h"

#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pce::agree {

/// Runs a shell command; returns its exit code and appends its combined
/// stdout and stderr to `output`.
int runCommand(const std::string &command, std::string &output);

/// Compiles `model` with pce-compile (and `flags`; --target cpu unless they
/// name one) into artifactDir(tag). On failure records a test failure with
/// pce-compile's diagnostics and returns false.
bool writeArtifact(const ModelText &model, const std::string &tag,
                   const std::string &flags = "");

/// writeArtifact, then opens the artifact. On failure records a test
/// failure (pce-compile's diagnostics or the runtime's error) and returns
/// nothing.
std::optional<rt::Artifact> compile(const ModelText &model, const std::string &tag,
                                    const std::string &flags = "");

/// The artifact directory compile(model, tag) writes.
std::string artifactDir(const std::string &tag);

/// Runs `forward` on the model's values; returns every result in float64.
/// Records a test failure and returns an empty map on a runtime error.
std::map<std::string, torch::Tensor> run(const rt::Artifact &artifact,
                                         const ModelText &model);

/// Draws a fresh seed for this test (printed, so a failure can be replayed
/// with PCE_TEST_SEED=<seed>) and seeds LibTorch with it.
uint64_t freshSeed();

/// Prints `[agreement] what: relative error X` so runs can be summarised.
void report(const std::string &what, double error);

} // namespace pce::agree

#endif // PCE_TEST_AGREEMENT_HARNESS_H
