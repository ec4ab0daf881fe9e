//===- Trainer.h - pce-train's training loop ------------------------------===//
//
// Phases of the plan in order, each with its artifact; parameters carry over
// by name, new ones are initialised (router keys by K-Means), the optimiser
// is rebuilt for the new parameter set (its state is reset at every phase
// start). Per epoch: a shuffled, augmented pass over the training split in
// batches of exactly the compiled batch, a validation pass, a checkpoint and
// a log line. At the end: the test set once, weights.safetensors and
// summary.json.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_TRAINER_H
#define PCE_RUNTIME_TRAIN_TRAINER_H

#include "runtime/train/Options.h"

#include <functional>
#include <string>

namespace pce::train {

// How the front end turns a model description into what training reads; the
// library links no compiler, so the caller supplies these (pce-train calls
// the compile API in process). Both throw std::runtime_error on failure.
struct CompileSteps {
  // Every phase's artifact and training.json in outDir
  // (pce-compile MODEL --training -o outDir).
  std::function<void(const std::string &model, const std::string &outDir)> compileForTraining;
  // Only outDir/training.json: the dense twin trains no compiled layer.
  std::function<void(const std::string &model, const std::string &outDir)> writePlanOnly;
};

// Runs a whole pce-train invocation; throws std::runtime_error (or c10::Error)
// with a message for the user. `compile` is used unless options.compiled
// names an existing output (or a resumed run has one).
void runTraining(const Options &options, const CompileSteps &compile);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_TRAINER_H
