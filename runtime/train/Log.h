//===- Log.h - log.jsonl and the terminal progress line -------------------===//
//
// RUN_DIR/log.jsonl holds one JSON object per line: {"event": "epoch",
// "epoch": n, ...} after every epoch and {"event": "phase_start", "epoch": n,
// ...} before the first epoch of a phase (n counts from 1 in both). On
// --resume the lines of epochs after the checkpoint are dropped, so the log
// reads as that of an uninterrupted run.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAIN_LOG_H
#define PCE_RUNTIME_TRAIN_LOG_H

#include "runtime/Json.h"
#include "runtime/TrainingPlan.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace pce::train {

class RunLog {
public:
  explicit RunLog(std::string path) : path_(std::move(path)) {}
  // Keeps only lines whose "epoch" is <= epoch.
  void truncateAfter(int64_t epoch);
  void append(const rt::JsonValue &entry);
  // Every line, parsed (malformed lines are an error naming the line).
  std::vector<rt::JsonValue> entries() const;
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

// "epoch 3/10 [phase 1]  batch 120/859  loss 0.4123  1830 img/s  ETA 12:34".
// On a terminal the line is redrawn with \r (at most 10 times a second);
// otherwise one line every `every` batches.
class Progress {
public:
  Progress(std::FILE *out, int64_t every);
  void update(const std::string &text, int64_t batch, int64_t batches);
  // Prints a line of its own (ending a pending progress line first).
  void line(const std::string &text);
  bool tty() const { return tty_; }

private:
  std::FILE *out_;
  bool tty_;
  int64_t every_;
  bool pending_ = false;
  std::chrono::steady_clock::time_point lastDraw_{};
};

// summary.json's "phases": per phase of `phases`, its artifact, epochs and
// the last epoch's validation metric and router statistics from `entries`
// (the log's lines), and the router statistics after its first epoch
// ("first_epoch_layers").
rt::JsonValue phaseSummaries(const std::vector<rt::JsonValue> &entries, const std::vector<rt::Phase> &phases);

// "1:02:03" / "2:03".
std::string formatDuration(double seconds);

} // namespace pce::train

#endif // PCE_RUNTIME_TRAIN_LOG_H
