//===- TrainingPlan.h - the training plan (DIR/training.json) -------------===//
//
// docs/Training.md §3: the network's layers with per-image shapes, the head,
// the resolved training configuration and one entry per phase. The one
// definition of the format: the compiler fills a Plan and writes it with
// writePlanText, training reads it with readPlan, and the defaults of a
// description's `training:` section are the member initialisers below.
// readPlan checks what training uses and names the file, byte offset and key
// of any problem: `compiled/training.json: byte 412: training.optimizer.lr:
// expected a number, found a string`.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TRAININGPLAN_H
#define PCE_RUNTIME_TRAININGPLAN_H

#include "runtime/DataDescription.h"
#include "runtime/Json.h"
#include "runtime/Status.h"
#include "runtime/dense/HeadSpec.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pce::rt {

constexpr const char *kTrainingPlanFormat = "pce-training-plan";
constexpr int64_t kTrainingPlanVersion = 1;
constexpr const char *kTrainingPlanFileName = "training.json";
// Epochs of the single phase of a `training:` section without `phases:`.
constexpr int64_t kDefaultEpochs = 10;

struct PlanLayer {
  std::string kind; // conv, batch_norm, relu, max_pool, avg_pool, global_avg_pool,
                    // flatten, linear, residual, concat, upsample, sigmoid, pce
  std::string name;
  std::vector<int64_t> in, out; // per image
  std::vector<int64_t> kernel, stride, padding; // conv, pools, pce (its experts' kernel): [h, w]
  std::vector<int64_t> patch;                   // pce: [ph, pw] (absent in older plans)
  int64_t experts = 0;                          // pce: E (0 in older plans)
  bool bias = true;
  double eps = 1e-5;
  std::string from; // residual, concat
  std::string mode; // upsample: nearest | bilinear (its size is `out`)
};

struct PhaseLayer {
  std::string router = "uniform";
  int64_t topK = 0;
  std::string keys = "none";
  double tau = 1.0;
  bool learnableTau = false;
  bool normalizeInput = false; // mlp: the MLP reads unit embeddings
  bool linearHidden = false;   // mlp: no ReLU after its first layer
  std::string mix = "sum";
  std::string attention = "none";
};

struct Phase {
  int64_t epochs = 0;
  std::string artifact; // directory name inside the compiled dir
  std::map<std::string, PhaseLayer> layers;
};

struct OptimizerConfig {
  std::string kind = "sgd"; // sgd | adamw
  double lr = 0.05, momentum = 0.9, weightDecay = 5e-4;
  bool nesterov = true;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // The router's parameters (MLP weights and biases, learnable keys, log tau)
  // step with lr * routerLrScale (docs/Training.md §3: an MLP router reads
  // the unnormalised embedding, so the shared rate saturates it).
  double routerLrScale = 1.0;

  // The defaults of `kind` (the initialisers above are SGD's); throws
  // std::invalid_argument for another kind.
  static OptimizerConfig defaults(const std::string &kind);
};

struct ScheduleConfig {
  std::string kind = "cosine"; // constant | cosine | step
  double warmupEpochs = 0;
  int64_t stepEpochs = 0;
  double gamma = 0.1;
};

struct TrainingConfig {
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string dataFormat = "idx"; // kDataFormats
  // Per-channel normalisation after x/255; empty: the format's default (idx:
  // Fashion-MNIST's 0.2860 / 0.3530), else computed on the training split.
  std::vector<double> dataMean, dataStd;
  DataOptions dataOptions; // the reader's options (camelyon16's tiling), when given
  int64_t batch = 64, seed = 1, threads = 2, validation = 5000;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  int64_t cropPadding = 0;
  bool hflip = false;
  double loadBalance = 0, ema = 0.99;
  int64_t keyInitImages = 512, keyInitIterations = 100;
  double bnMomentum = 0.1;
};

struct Plan {
  std::string path; // where it was read from (not written)
  std::string model;
  int64_t batch = 0, channels = 0, height = 0, width = 0;
  std::vector<PlanLayer> layers;
  std::optional<HeadSpec> head;
  TrainingConfig training;
  std::vector<Phase> phases;

  int64_t totalEpochs() const;
  // The phase (0-based) that epoch `epoch` (0-based) belongs to.
  size_t phaseOfEpoch(int64_t epoch) const;
  // The first epoch (0-based) of phase q.
  int64_t firstEpochOf(size_t q) const;
};

Expected<Plan> parsePlan(const std::string &text, const std::string &source);
Expected<Plan> readPlan(const std::string &path);
// The text of training.json (one space per level, keys in the order above);
// parsePlan reads back the same Plan.
std::string writePlanText(const Plan &plan);

} // namespace pce::rt

#endif // PCE_RUNTIME_TRAININGPLAN_H
