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
#ifndef PCE_TOOLS_PCE_TRAIN_TRAINER_H
#define PCE_TOOLS_PCE_TRAIN_TRAINER_H

#include "tools/pce-train/Options.h"

namespace pce::train {

// Runs a whole pce-train invocation; throws std::runtime_error (or c10::Error)
// with a message for the user.
void runTraining(const Options &options);

} // namespace pce::train

#endif // PCE_TOOLS_PCE_TRAIN_TRAINER_H
