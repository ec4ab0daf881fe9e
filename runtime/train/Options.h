//===- Options.h - pce-train's command line -------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_OPTIONS_H
#define PCE_RUNTIME_TRAIN_OPTIONS_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pce::train {

struct Options {
  std::string model;    // MODEL.yaml
  std::string runDir;   // -o
  bool dense = false;   // LibTorch Conv-BN-ReLU instead of every PCE layer
  std::string baseline; // with dense: "dense", "coordconv" (CoordConv.h) or "condconv" (CondConv.h)
  bool resume = false, force = false;
  std::optional<int64_t> epochs;     // every phase runs this many epochs
  int64_t limitTrain = 0;            // > 0: only the first N training images
  std::optional<int64_t> threads;    // overrides training.threads
  std::optional<std::string> compiled; // an existing pce-compile --training output
  std::optional<std::string> finetune; // weights to start the last phase from (Finetune.h)
  std::optional<std::string> data;   // overrides training.data
  std::optional<std::string> dataFormat; // overrides training.data_format (and its mean/std)
  std::optional<int64_t> seed;       // overrides training.seed
  int64_t dataCacheBytes = int64_t(4) << 30; // image data sets decoded once when they fit, else streamed
  int dataThreads = 1;                       // threads decoding a streamed set ahead of the training step
  int64_t stopAfter = 0;   // > 0: stop after this many epochs of this session (as if interrupted)
  int64_t progressEvery = 0; // non-TTY progress lines every N batches (0: about 10 per epoch)
  std::string commandLine;
};

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_OPTIONS_H
