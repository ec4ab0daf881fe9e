//===- Checkpoint.h - run directory, checkpoints, final weights -----------===//
//
// After every epoch: RUN_DIR/checkpoint.safetensors (parameters, buffers,
// optimiser slots `optim.*`, the generator state `rng.state` as u8) and
// RUN_DIR/checkpoint.json (runtime/CheckpointInfo.h: epoch, phase, step
// counts, wall time), each
// written to a temporary file and renamed. The epoch is stored in both and
// must agree, so a crash between the two renames is detected on --resume.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_CHECKPOINT_H
#define PCE_RUNTIME_TRAIN_CHECKPOINT_H

#include "runtime/CheckpointInfo.h"
#include "runtime/DataDescription.h"
#include "runtime/Manifest.h"

#include <torch/types.h>

#include <map>
#include <string>

namespace pce::train {

using rt::CheckpointInfo;

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
// Throws unless `ck` continues a run of `model` with the same baseline
// options (`dense`, `baseline`) whose phase is one of the plan's `phases`.
void checkResumable(const Checkpoint &ck, const std::string &runDir, const std::string &model, bool dense,
                    const std::string &baseline, size_t phases);

// The metadata of a run's weights: how the inputs were normalised (pce-run
// applies it) and provenance (the code, the data's fingerprint, the model
// and seed). Throws with the reason.
std::map<std::string, std::string> finalWeightsMetadata(const rt::DataDescription &data,
                                                        const rt::DataFingerprint &fingerprint,
                                                        const std::string &model, int64_t seed);

// Tensors as safetensors (f32/i64/u8...), atomically.
// The weights a run writes: exactly the tensors of `all` that the final
// phase's `forward` reads as parameters (every tensor when there is none: the
// baselines have no compiled forward).
std::map<std::string, torch::Tensor> forwardWeights(const std::map<std::string, torch::Tensor> &all,
                                                   const rt::EntryPoint *forward);

void writeTensors(const std::string &path, const std::map<std::string, torch::Tensor> &tensors,
                  const std::map<std::string, std::string> &metadata = {});
std::map<std::string, torch::Tensor> readTensors(const std::string &path);

// Text to path through a temporary file and rename.
void writeTextAtomic(const std::string &path, const std::string &text);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_CHECKPOINT_H
