//===- CheckpointInfo.h - RUN_DIR/checkpoint.json of a training run -------===//
//
// What a checkpoint says about itself besides its tensors: epochs done, the
// phase, step counts, training time, and the run's model and seed. The one
// definition of the format (docs/Training.md §5), read and written here; the
// tensors are in RUN_DIR/checkpoint.safetensors, whose metadata key
// kCheckpointEpochKey holds the same epoch, so a crash between the two
// renames is detected when resuming.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_CHECKPOINTINFO_H
#define PCE_RUNTIME_CHECKPOINTINFO_H

#include "runtime/Status.h"

#include <cstdint>
#include <string>

namespace pce::rt {

constexpr const char *kCheckpointFormat = "pce-train-checkpoint";
constexpr int64_t kCheckpointVersion = 1;
constexpr const char *kCheckpointInfoFileName = "checkpoint.json";
constexpr const char *kCheckpointTensorsFileName = "checkpoint.safetensors";
// The safetensors metadata key holding the epoch of the tensors.
constexpr const char *kCheckpointEpochKey = "pce.train.epoch";

struct CheckpointInfo {
  int64_t epoch = 0;          // epochs completed
  int64_t phase = 0;          // 0-based phase of the last completed epoch (1-based in the file)
  int64_t optimizerSteps = 0; // steps of the current phase's optimiser
  int64_t globalStep = 0;     // optimiser steps over the whole run (LR schedule)
  double wallSeconds = 0;     // training time so far, all sessions
  bool dense = false;         // a LibTorch baseline (--dense, --coordconv, --condconv)
  std::string baseline;       // which: "dense" (also when absent: older checkpoints), "coordconv", "condconv"
  std::string model;
  int64_t seed = 0;
};

// checkpoint.json's text.
std::string writeCheckpointInfoText(const CheckpointInfo &info);
// Parses and checks it (every key present with its JSON type, epoch, steps
// and phase in range, no unknown keys); messages "SOURCE: byte N: KEY: ...".
Expected<CheckpointInfo> parseCheckpointInfo(const std::string &text, const std::string &source);
Expected<CheckpointInfo> readCheckpointInfo(const std::string &path);

} // namespace pce::rt

#endif // PCE_RUNTIME_CHECKPOINTINFO_H
