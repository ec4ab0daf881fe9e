//===- Checkpoint.h - run directory, checkpoints, final weights -----------===//
//
// After every epoch: RUN_DIR/checkpoint.safetensors (parameters, buffers,
// optimiser slots `optim.*`, the generator state `rng.state` as u8) and
// RUN_DIR/checkpoint.json (epoch, phase, step counts, wall time), each
// written to a temporary file and renamed. The epoch is stored in both and
// must agree, so a crash between the two renames is detected on --resume.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_TRAIN_CHECKPOINT_H
#define PCE_TOOLS_PCE_TRAIN_CHECKPOINT_H

#include <torch/types.h>

#include <map>
#include <string>

namespace pce::train {

struct CheckpointInfo {
  int64_t epoch = 0;          // epochs completed
  int64_t phase = 0;          // 0-based phase of the last completed epoch
  int64_t optimizerSteps = 0; // steps of the current phase's optimiser
  int64_t globalStep = 0;     // optimiser steps over the whole run (LR schedule)
  double wallSeconds = 0;     // training time so far, all sessions
  bool dense = false;
  std::string model;
  int64_t seed = 0;
};

struct Checkpoint {
  CheckpointInfo info;
  std::map<std::string, torch::Tensor> tensors; // model, optim.*, rng.state
};

// Refuses a RUN_DIR holding a run (log.jsonl or checkpoint.*) unless resume
// or force; with force deletes the previous run's files (and
// RUN_DIR/compiled when removeCompiled). Creates RUN_DIR. Throws runtime_error.
void prepareRunDir(const std::string &runDir, bool resume, bool force, bool removeCompiled);

void writeCheckpoint(const std::string &runDir, const Checkpoint &checkpoint);
Checkpoint readCheckpoint(const std::string &runDir);

// Tensors as safetensors (f32/i64/u8...), atomically.
void writeTensors(const std::string &path, const std::map<std::string, torch::Tensor> &tensors,
                  const std::map<std::string, std::string> &metadata = {});
std::map<std::string, torch::Tensor> readTensors(const std::string &path);

// Text to path through a temporary file and rename.
void writeTextAtomic(const std::string &path, const std::string &text);

} // namespace pce::train

#endif // PCE_TOOLS_PCE_TRAIN_CHECKPOINT_H
