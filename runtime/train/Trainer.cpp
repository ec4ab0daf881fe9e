//===- Trainer.cpp - pce-train's training loop ----------------------------===//

#include "runtime/train/Trainer.h"

#include "runtime/Artifact.h"
#include "runtime/DataDescription.h"
#include "runtime/ThreadPool.h"
#include "runtime/Version.h"
#include "runtime/TrainingPlan.h"
#include "runtime/torch/RouterStats.h"
#include "runtime/train/Checkpoint.h"
#include "runtime/train/Data.h"
#include "runtime/train/DenseTask.h"
#include "runtime/train/Evaluate.h"
#include "runtime/train/Finetune.h"
#include "runtime/train/Log.h"
#include "runtime/train/Network.h"
#include "runtime/train/Optimizer.h"
#include "runtime/train/PhaseReport.h"
#include "runtime/train/RouterTransition.h"
#include "runtime/train/RouterWarmStart.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace pce::train {

using rt::Phase;
using rt::TrainingConfig;

namespace fs = std::filesystem;
using rt::JsonValue;
using Clock = std::chrono::steady_clock;

// Validation images on which a phase switch measures how far the new
// routers keep the old ones' choices.
constexpr int64_t kAgreementImages = 512;

namespace {

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

class Trainer {
public:
  Trainer(const Options &o, const CompileSteps &compile) : opt_(o), compile_(compile) {}
  void run();

private:
  void preparePlan();
  std::shared_ptr<Network> buildNetwork(size_t q);
  void startPhase(size_t q);
  void initialiseKeys(torchrt::PceLayer &layer);
  // The first key_init.images training images through layer L.
  LayerSample keySample(const std::string &L) {
    return sampleLayer(*net_, L, data_.train, plan_.training.keyInitImages, plan_.batch, evalChunks());
  }
  void warmStartRouters(size_t q, const std::map<std::string, torch::Tensor> &carried,
                        const std::map<std::string, double> &norms,
                        const std::vector<std::string> &fresh);
  // New routers of phase q start from the previous phase's assignment
  // (RouterTransition.h); returns each changed layer's top-1 agreement.
  std::map<std::string, double> carryRouting(size_t q, const std::map<std::string, LayerSample> &before,
                                             const std::map<std::string, torch::Tensor> &beforeVal,
                                             const std::vector<std::string> &fresh);
  int64_t resume(); // returns the epochs done
  void trainEpoch(int64_t epoch);
  void checkpoint(int64_t epochsDone);
  void finish();
  int64_t evalChunks() const { return threads_; }

  Options opt_;
  CompileSteps compile_;
  std::string runDir_, compiledDir_;
  Plan plan_;
  int64_t threads_ = 1;
  at::Generator gen_;
  DataSplit data_;
  std::unique_ptr<RunLog> log_;
  std::unique_ptr<Progress> progress_;
  size_t phase_ = 0;
  bool havePhase_ = false;
  std::shared_ptr<const rt::Artifact> artifact_;
  std::shared_ptr<Network> net_;
  std::optional<FinetuneSource> finetune_;
  std::unique_ptr<Optimizer> optimizer_;
  int64_t globalStep_ = 0;
  double wallBefore_ = 0; // seconds of earlier sessions
  Clock::time_point start_ = Clock::now();
  int64_t sessionBatches_ = 0;
  double sessionTrainSeconds_ = 0;
};

void Trainer::preparePlan() {
  runDir_ = opt_.runDir;
  compiledDir_ = opt_.compiled ? *opt_.compiled : (fs::path(runDir_) / "compiled").string();
  prepareRunDir(runDir_, opt_.resume, opt_.force, !opt_.compiled);
  bool reuse = opt_.compiled || (opt_.resume && fs::exists(fs::path(compiledDir_) / "training.json"));
  if (!reuse) {
    if (opt_.dense) {
      std::printf("pce-train: the plan of %s (--dense needs no compiled layers)\n", opt_.model.c_str());
      std::fflush(stdout);
      compile_.writePlanOnly(opt_.model, compiledDir_);
    } else {
      std::printf("pce-train: compiling %s for training into %s\n", opt_.model.c_str(), compiledDir_.c_str());
      std::fflush(stdout);
      compile_.compileForTraining(opt_.model, compiledDir_);
    }
  }
  auto plan = rt::readPlan((fs::path(compiledDir_) / rt::kTrainingPlanFileName).string());
  if (!plan)
    throw std::runtime_error(plan.error());
  plan_ = std::move(*plan);
  TrainingConfig &t = plan_.training;
  if (opt_.epochs)
    for (Phase &p : plan_.phases)
      p.epochs = *opt_.epochs;
  if (opt_.finetune)
    finetunePlan(plan_);
  if (opt_.data)
    t.data = *opt_.data;
  if (opt_.dataFormat && *opt_.dataFormat != t.dataFormat) {
    t.dataFormat = *opt_.dataFormat;
    t.dataMean.clear(); // the plan's statistics and options were another format's
    t.dataStd.clear();
    t.dataOptions.clear();
  }
  if (opt_.seed)
    t.seed = *opt_.seed;
  if (opt_.threads)
    t.threads = *opt_.threads;
  threads_ = std::max<int64_t>(1, t.threads);
  if (!plan_.head)
    throw std::runtime_error(plan_.path + ": the model has no head (classification, segmentation or detection); "
                             "pce-train trains a model against its head's labels");
}

std::shared_ptr<Network> Trainer::buildNetwork(size_t q) {
  const Phase &phase = plan_.phases[q];
  NetworkOptions no;
  no.dense = opt_.dense;
  no.baseline = opt_.baseline;
  no.bnMomentum = plan_.training.bnMomentum;
  no.phaseLayers = phase.layers;
  if (!opt_.dense) {
    if (!artifact_ || !havePhase_ || phase_ != q) {
      auto art = rt::Artifact::open((fs::path(compiledDir_) / phase.artifact).string());
      if (!art)
        throw std::runtime_error(art.error());
      art->setThreads(static_cast<int>(threads_));
      artifact_ = std::make_shared<const rt::Artifact>(std::move(*art));
    }
    no.artifact = artifact_;
  }
  auto net = std::make_shared<Network>(plan_, no, gen_);
  net->train();
  return net;
}

void Trainer::initialiseKeys(torchrt::PceLayer &layer) {
  const std::string &L = layer.layerName();
  LayerSample sample = keySample(L);
  if (!sample.embeddings.defined())
    throw std::runtime_error("layer '" + L + "': its inference entry point returns no '" + L +
                             ".embedding' to read patch embeddings from");
  const torch::Tensor &points = sample.embeddings;
  const int64_t n = sample.images;
  torchrt::KMeansResult km = layer.initialiseKeys(points, plan_.training.keyInitIterations, gen_);
  progress_->line("  " + L + ": keys from K-Means over " + std::to_string(points.size(0)) + " patch embeddings of " +
                  std::to_string(n) + " images (" + std::to_string(km.iterations) + " Lloyd iterations" +
                  (km.converged ? ", converged" : "") +
                  (km.reseeded ? ", " + std::to_string(km.reseeded) + " empty clusters re-seeded" : "") + ")");
}

/// Layers whose phase q switches from keys (cosine, Gumbel) to an MLP
/// router start with the MLP reproducing the keys' routing (RouterWarmStart.h).
void Trainer::warmStartRouters(size_t q, const std::map<std::string, torch::Tensor> &carried,
                               const std::map<std::string, double> &norms,
                               const std::vector<std::string> &fresh) {
  std::map<std::string, torch::Tensor> t = net_->tensors();
  auto isFresh = [&](const std::string &n) { return std::find(fresh.begin(), fresh.end(), n) != fresh.end(); };
  for (const auto &[L, norm] : norms) {
    const std::string mlp = L + ".router.mlp.";
    auto keys = carried.find(L + ".router.keys");
    if (keys == carried.end() || !isFresh(mlp + "w1") || !t.count(mlp + "w2"))
      continue;
    double tau = plan_.phases[q - 1].layers.at(L).tau;
    if (auto logTau = carried.find(L + ".router.log_tau"); logTau != carried.end())
      tau = std::exp(logTau->second.item<double>());
    std::string why = warmStartMlpRouter(keys->second, tau, norm,
                                         mlpRouterOf(t, mlp, plan_.phases[q].layers.at(L).linearHidden));
    progress_->line("  " + L + ": MLP router " +
                    (why.empty() ? "starts as the keys' router (tau " + fixed(tau, 3) + ", mean input norm " +
                                       fixed(norm, 3) + ")"
                                 : "initialised at random: " + why));
  }
}

std::map<std::string, double> Trainer::carryRouting(size_t q, const std::map<std::string, LayerSample> &before,
                                                    const std::map<std::string, torch::Tensor> &beforeVal,
                                                    const std::vector<std::string> &fresh) {
  auto isFresh = [&](const std::string &n) { return std::find(fresh.begin(), fresh.end(), n) != fresh.end(); };
  std::map<std::string, torch::Tensor> t = net_->tensors();
  for (const auto &layer : net_->pceLayers()) {
    const std::string &L = layer->layerName();
    const std::string keys = layer->keysName(), mlp = L + ".router.mlp.";
    const bool freshKeys = !keys.empty() && isFresh(keys);
    const bool freshMlp = isFresh(mlp + "w1") && t.count(mlp + "w2");
    auto old = before.find(L);
    // keys -> MLP is warmStartRouters' (from the keys themselves).
    const std::string previous = q > 0 ? plan_.phases[q - 1].layers.at(L).router : "";
    const bool mlpFromAssignment = freshMlp && previous != "cosine" && previous != "gumbel";
    if (!freshKeys && !mlpFromAssignment)
      continue;
    if (old == before.end()) { // the first phase, or a uniform router before
      if (freshKeys)
        initialiseKeys(*layer);
      continue;
    }
    // The new router reads the new network's embeddings of the same images.
    LayerSample now = keySample(L);
    if (!now.embeddings.defined())
      throw std::runtime_error("layer '" + L + "': its new router reads no embedding");
    std::string note;
    torch::Tensor k = keysForRouting(now.embeddings, old->second.routing, layer->experts(), note);
    torch::NoGradGuard noGrad;
    if (freshKeys) {
      t.at(keys).copy_(k);
      progress_->line("  " + L + ": keys from the previous router's assignment of " +
                      std::to_string(now.routing.size(0)) + " patches of " + std::to_string(now.images) +
                      " images" + note);
    } else {
      const PhaseLayer &next = plan_.phases[q].layers.at(L);
      const double norm = mlpInputNorm(now.embeddings, next.normalizeInput);
      std::string why = warmStartMlpRouter(k, next.tau, norm, mlpRouterOf(t, mlp, next.linearHidden));
      progress_->line("  " + L + ": MLP router " +
                      (why.empty() ? "starts as the cosine router of keys from the previous router's assignment" + note
                                   : "initialised at random: " + why));
    }
  }
  std::map<std::string, double> agreement;
  for (const auto &[L, old] : beforeVal) {
    torch::Tensor now = sampleLayer(*net_, L, data_.validation, kAgreementImages, plan_.batch, evalChunks()).routing;
    agreement[L] = topOneAgreement(old, now);
    progress_->line("  " + L + ": the new router keeps the previous top-1 expert on " +
                    fixed(100 * agreement[L], 1) + "% of " + std::to_string(now.size(0)) +
                    " validation patches");
  }
  return agreement;
}

void Trainer::startPhase(size_t q) {
  const bool finetuning = !net_ && finetune_; // the run's first phase starts from --finetune's weights
  std::map<std::string, torch::Tensor> carried;
  std::map<std::string, double> norms; // layers whose keys an MLP router replaces
  // Layers whose router changes: the old router's routing of the key
  // images (and their embeddings) and of a validation sample.
  std::map<std::string, LayerSample> before;
  std::map<std::string, torch::Tensor> beforeVal;
  if (net_) {
    carried = net_->tensors();
    if (!opt_.dense && q > 0)
      for (const auto &[L, next] : plan_.phases[q].layers) {
        auto prev = plan_.phases[q - 1].layers.find(L);
        // A uniform router weighs every expert alike: no assignment to keep.
        if (prev == plan_.phases[q - 1].layers.end() || prev->second.router == "uniform" ||
            (prev->second.router == next.router && prev->second.keys == next.keys))
          continue;
        before[L] = keySample(L);
        beforeVal[L] = sampleLayer(*net_, L, data_.validation, kAgreementImages, plan_.batch, evalChunks()).routing;
        const bool keyed = prev->second.router == "cosine" || prev->second.router == "gumbel";
        if (next.router == "mlp" && keyed && before[L].embeddings.defined())
          norms[L] = mlpInputNorm(before[L].embeddings, next.normalizeInput);
      }
  }
  std::shared_ptr<Network> next = buildNetwork(q);
  if (finetuning) {
    checkFinetuneTensors(*finetune_, next->tensors());
    carried = finetune_->tensors;
  }
  phase_ = q;
  havePhase_ = true;
  net_ = next;
  std::vector<std::string> fresh = net_->initialise(carried, gen_);
  const Phase &phase = plan_.phases[q];
  std::string freshList;
  for (const std::string &f : fresh)
    freshList += (freshList.empty() ? "" : ", ") + f;
  const int64_t firstEpoch = plan_.firstEpochOf(q) + 1;
  progress_->line("phase " + std::to_string(q + 1) + " starts (epoch " + std::to_string(firstEpoch) + ", " +
                  (opt_.dense ? opt_.baseline + " baseline" : "artifact " + phase.artifact) + ", " +
                  std::to_string(phase.epochs) + " epochs" +
                  (carried.empty() ? std::string() : "; new: " + (freshList.empty() ? "none" : freshList)) +
                  "; optimiser state reset)");
  warmStartRouters(q, carried, norms, fresh);
  std::map<std::string, double> agreement = carryRouting(q, before, beforeVal, fresh);
  if (finetuning) {
    progress_->line("  weights from " + finetune_->weightsPath + " (--finetune)");
    for (const std::string &l : refitKeySplits(*finetune_, *net_, [&](const std::string &L) { return keySample(L); },
                                               plan_.training.keyInitIterations, gen_))
      progress_->line("  " + l);
  }
  optimizer_ = makeOptimizer(plan_.training.optimizer, *net_);

  JsonValue entry = JsonValue::object();
  entry.set("event", JsonValue::string("phase_start"));
  entry.set("epoch", JsonValue::integer(firstEpoch));
  entry.set("phase", JsonValue::integer(static_cast<int64_t>(q) + 1));
  entry.set("message", JsonValue::string("phase " + std::to_string(q + 1) + " starts"));
  entry.set("artifact", opt_.dense ? JsonValue() : JsonValue::string(phase.artifact));
  JsonValue freshJson = JsonValue::array();
  for (const std::string &f : fresh)
    freshJson.push(JsonValue::string(f));
  entry.set("initialised", std::move(freshJson));
  JsonValue agreed = JsonValue::object();
  for (const auto &[L, share] : agreement)
    agreed.set(L, JsonValue::number(share));
  entry.set("router_agreement", std::move(agreed));
  log_->append(entry);
}

int64_t Trainer::resume() {
  Checkpoint ck = readCheckpoint(runDir_);
  checkResumable(ck, runDir_, plan_.model, opt_.dense, opt_.baseline, plan_.phases.size());
  net_ = buildNetwork(ck.info.phase);
  phase_ = ck.info.phase;
  havePhase_ = true;
  torch::NoGradGuard noGrad;
  for (auto &[name, t] : net_->tensors()) {
    auto it = ck.tensors.find(name);
    if (it == ck.tensors.end() || it->second.sizes() != t.sizes())
      throw std::runtime_error("--resume: checkpoint.safetensors lacks '" + name + "' " +
                               c10::str(t.sizes()) + " of phase " + std::to_string(ck.info.phase + 1));
    t.detach().copy_(it->second);
  }
  optimizer_ = makeOptimizer(plan_.training.optimizer, *net_);
  optimizer_->loadState(ck.tensors, ck.info.optimizerSteps);
  auto rng = ck.tensors.find("rng.state");
  if (rng == ck.tensors.end())
    throw std::runtime_error("--resume: checkpoint.safetensors lacks rng.state");
  gen_.set_state(rng->second);
  globalStep_ = ck.info.globalStep;
  wallBefore_ = ck.info.wallSeconds;
  log_->truncateAfter(ck.info.epoch);
  progress_->line("pce-train: resuming after epoch " + std::to_string(ck.info.epoch) + " (phase " +
                  std::to_string(ck.info.phase + 1) + ")");
  return ck.info.epoch;
}

void Trainer::trainEpoch(int64_t epoch) {
  const TrainingConfig &t = plan_.training;
  const int64_t B = plan_.batch, total = plan_.totalEpochs();
  Clock::time_point epochStart = Clock::now();
  std::vector<torch::Tensor> batches = epochBatches(data_.train.size(), B, gen_);
  BatchPrefetcher prefetch(data_.train, batches);
  if (batches.empty())
    throw std::runtime_error("the training split holds " + std::to_string(data_.train.size()) +
                             " images, fewer than one batch of " + std::to_string(B));
  const int64_t nb = static_cast<int64_t>(batches.size());
  double lossSum = 0, ceSum = 0, lbSum = 0, firstLr = 0;
  double heatSum = 0, sizeSum = 0, offsetSum = 0; // detection's parts
  int64_t correct = 0;
  const rt::HeadSpec &head = *plan_.head;
  const bool dense = head.kind != rt::HeadKind::Classification;
  net_->train();
  for (int64_t b = 0; b < nb; ++b) {
    const double lr = learningRate(t.schedule, t.optimizer.lr, globalStep_, nb, total);
    if (b == 0)
      firstLr = lr;
    NetworkOutput out;
    torch::Tensor ce, y;
    if (dense) {
      DenseBatch batch = denseBatch(data_.train, prefetch.take(size_t(b)), batches[b]);
      augmentDense(batch, t.cropPadding, t.hflip, gen_, data_.black());
      out = net_->forward(batch.images);
      DenseLoss d = denseLoss(head, out.logits, batch);
      ce = d.total;
      heatSum += d.heatmap, sizeSum += d.size, offsetSum += d.offset;
    } else {
      torch::Tensor x = augment(prefetch.take(size_t(b)), t.cropPadding, t.hflip, gen_, data_.black());
      y = data_.train.labels.index_select(0, batches[b]);
      out = net_->forward(x);
      ce = torch::nll_loss(torch::log_softmax(out.logits, 1), y);
    }
    torch::Tensor lb = torch::zeros({}, ce.options());
    for (const auto &[name, w] : out.routing)
      lb = lb + torchrt::loadBalancingLoss(w);
    torch::Tensor loss = t.loadBalance != 0 ? ce + t.loadBalance * lb : ce;
    optimizer_->zeroGrad();
    loss.backward();
    optimizer_->step(lr);
    for (const auto &layer : net_->pceLayers())
      layer->updateKeys(t.ema);
    ++globalStep_;
    lossSum += loss.item<double>();
    ceSum += ce.item<double>();
    lbSum += lb.item<double>();
    if (!dense)
      correct += topKCorrect(out.logits.detach(), y, 1);

    ++sessionBatches_;
    const double trainSeconds = sessionTrainSeconds_ + secondsSince(epochStart);
    const double perBatch = trainSeconds / static_cast<double>(sessionBatches_);
    const double remaining = static_cast<double>((total - epoch - 1) * nb + (nb - b - 1)) * perBatch;
    progress_->update("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(total) + " [phase " +
                          std::to_string(phase_ + 1) + "]  batch " + std::to_string(b + 1) + "/" +
                          std::to_string(nb) + "  loss " + fixed(lossSum / static_cast<double>(b + 1), 4) + "  " +
                          fixed(static_cast<double>(B) / perBatch, 0) + " img/s  ETA " + formatDuration(remaining),
                      b + 1, nb);
  }
  const double trainSeconds = secondsSince(epochStart);
  sessionTrainSeconds_ += trainSeconds;

  EvalResult val = evaluateSplit(*net_, data_.validation, head, B, evalChunks());
  const double wall = secondsSince(epochStart);
  const double n = static_cast<double>(nb);
  JsonValue e = JsonValue::object();
  e.set("event", JsonValue::string("epoch"));
  e.set("epoch", JsonValue::integer(epoch + 1));
  e.set("phase", JsonValue::integer(static_cast<int64_t>(phase_) + 1));
  e.set("lr", JsonValue::number(firstLr));
  e.set("train_loss", JsonValue::number(lossSum / n));
  e.set("train_ce", JsonValue::number(ceSum / n));
  e.set("train_lb", JsonValue::number(lbSum / n));
  if (dense && head.kind == rt::HeadKind::Detection) {
    e.set("train_heatmap", JsonValue::number(heatSum / n));
    e.set("train_size", JsonValue::number(sizeSum / n));
    e.set("train_offset", JsonValue::number(offsetSum / n));
  } else if (!dense) {
    e.set("train_top1", JsonValue::number(static_cast<double>(correct) / (n * static_cast<double>(B))));
  }
  e.set("val_loss", JsonValue::number(val.loss));
  setMetrics(e, "val", val, data_.description.classes);
  e.set("layers", routingJson(val.routing));
  e.set("images_per_s", JsonValue::number(n * static_cast<double>(B) / trainSeconds));
  e.set("wall_s", JsonValue::number(wall));
  checkpoint(epoch + 1);
  log_->append(e);
  progress_->line("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(plan_.totalEpochs()) + " [phase " +
                  std::to_string(phase_ + 1) + "]  train loss " + fixed(lossSum / n, 4) + "  val loss " +
                  fixed(val.loss, 4) + "  " + metricLine("val", val) + routingLine(val.routing) + "  " +
                  fixed(n * static_cast<double>(B) / trainSeconds, 0) + " img/s  " + fixed(wall, 1) + " s");
}

void Trainer::checkpoint(int64_t epochsDone) {
  Checkpoint ck;
  ck.info.epoch = epochsDone;
  ck.info.phase = static_cast<int64_t>(phase_);
  ck.info.optimizerSteps = optimizer_->steps();
  ck.info.globalStep = globalStep_;
  ck.info.wallSeconds = wallBefore_ + secondsSince(start_);
  ck.info.dense = opt_.dense;
  ck.info.baseline = opt_.baseline;
  ck.info.model = plan_.model;
  ck.info.seed = plan_.training.seed;
  ck.tensors = net_->tensors();
  for (auto &[name, t] : optimizer_->state())
    ck.tensors[name] = t;
  ck.tensors["rng.state"] = gen_.get_state();
  writeCheckpoint(runDir_, ck);
}

void Trainer::finish() {
  EvalResult test = evaluateSplit(*net_, data_.test, *plan_.head, plan_.batch, evalChunks());
  const double wall = wallBefore_ + secondsSince(start_);

  const rt::EntryPoint *forward = artifact_ ? artifact_->manifest().findEntry("forward") : nullptr;
  std::map<std::string, torch::Tensor> weights = forwardWeights(net_->tensors(), forward);
  const rt::DataDescription &data = data_.description;
  auto fingerprint = rt::fingerprintData(plan_.training.data, data_.train.size() + data_.validation.size() +
                                                                   data_.test.size());
  if (!fingerprint)
    throw std::runtime_error(fingerprint.error());
  std::string weightsPath = (fs::path(runDir_) / "weights.safetensors").string();
  writeTensors(weightsPath, weights, finalWeightsMetadata(data, *fingerprint, plan_.model, plan_.training.seed));

  JsonValue s = JsonValue::object();
  s.set("model", JsonValue::string(plan_.model));
  s.set("dense", JsonValue::boolean(opt_.dense));
  s.set("baseline", JsonValue::string(opt_.dense ? opt_.baseline : "none"));
  s.set("head", rt::headSpecJson(*plan_.head));
  setMetrics(s, "test", test, data_.description.classes);
  s.set("test_loss", JsonValue::number(test.loss));
  s.set("test_images", JsonValue::integer(test.images));
  s.set("test_layers", routingJson(test.routing));
  s.set("seed", JsonValue::integer(plan_.training.seed));
  s.set("threads", JsonValue::integer(threads_));
  s.set("epochs", JsonValue::integer(plan_.totalEpochs()));
  int64_t parameters = 0; // trained, in the last phase
  for (const auto &[name, p] : net_->parameterMap())
    parameters += p.numel();
  s.set("parameters", JsonValue::integer(parameters));
  s.set("wall_seconds", JsonValue::number(wall));
  s.set("command", JsonValue::string(opt_.commandLine));
  s.set("finetune", opt_.finetune ? JsonValue::string(*opt_.finetune) : JsonValue());
  s.set("weights", JsonValue::string("weights.safetensors"));
  JsonValue dataJson = rt::dataDescriptionJson(data);
  rt::addFingerprintJson(dataJson, *fingerprint);
  s.set("data", std::move(dataJson));
  JsonValue pce = JsonValue::object();
  pce.set("version", JsonValue::string(rt::pceVersion()));
  pce.set("git_commit", JsonValue::string(rt::pceGitCommit()));
  s.set("pce", std::move(pce));
  if (!opt_.dense)
    s.set("artifact", JsonValue::string((fs::path(compiledDir_) / plan_.phases[phase_].artifact).string()));
  s.set("phases", phaseSummaries(log_->entries(), plan_.phases));
  writeTextAtomic((fs::path(runDir_) / "summary.json").string(), rt::writeJson(s, 1) + "\n");

  progress_->line("test (" + std::to_string(test.images) + " images):" + metricLine("", test) + "  loss " +
                  fixed(test.loss, 4) + "  (" +
                  formatDuration(wall) + " in all)");
  progress_->line("wrote " + weightsPath + " and " + (fs::path(runDir_) / "summary.json").string());
  if (forward && data_.description.format != "idx")
    progress_->line("check: pce-run " + artifact_->directory() + " --weights " + weightsPath + " --data " +
                    plan_.training.data);
  else if (forward)
    progress_->line("check: pce-run " + artifact_->directory() + " --weights " + weightsPath + " --idx-images " +
                    data_.testFile + " --idx-labels " +
                    findIdxFile(plan_.training.data, "t10k-labels-idx1-ubyte"));
}

void Trainer::run() {
  progress_ = std::make_unique<Progress>(stdout, opt_.progressEvery);
  preparePlan();
  const TrainingConfig &t = plan_.training;
  // LibTorch's ops and the compiled layers' parallel loops take turns on
  // the same threads.
  at::set_num_threads(static_cast<int>(threads_));
  rt::setCompiledLoopThreads(static_cast<int>(threads_));
  gen_ = at::detail::createCPUGenerator(static_cast<uint64_t>(t.seed));
  const std::vector<int64_t> item = {plan_.channels, plan_.height, plan_.width};
  ImageDataOptions imageOptions;
  imageOptions.head = plan_.head->kind;
  imageOptions.cacheBytes = opt_.dataCacheBytes;
  imageOptions.threads = opt_.dataThreads;
  data_ = loadData(t, opt_.limitTrain, item, imageOptions);
  if (data_.train.itemShape() != item)
    throw std::runtime_error(data_.trainFile + ": images are " + rt::shapeToString(data_.train.itemShape()) +
                             " but the model takes " + rt::shapeToString(item));
  checkLabels(data_, *plan_.head);
  log_ = std::make_unique<RunLog>((fs::path(runDir_) / "log.jsonl").string());
  progress_->line("pce-train: " + plan_.model + (opt_.dense ? " (" + opt_.baseline + " baseline)" : std::string()) + ": " +
                  std::to_string(data_.train.size()) + " training, " + std::to_string(data_.validation.size()) +
                  " validation, " + std::to_string(data_.test.size()) + " test images; batch " +
                  std::to_string(plan_.batch) + ", " + std::to_string(plan_.totalEpochs()) + " epochs in " +
                  std::to_string(plan_.phases.size()) + " phase(s), " + std::to_string(threads_) + " threads");

  int64_t epoch = 0;
  if (opt_.resume)
    epoch = resume();
  const int64_t total = plan_.totalEpochs();
  int64_t session = 0;
  if (!opt_.resume) {
    if (opt_.finetune)
      finetune_ = readFinetuneSource(*opt_.finetune);
    size_t q = 0;
    while (q + 1 < plan_.phases.size() && plan_.phases[q].epochs == 0)
      ++q;
    startPhase(q);
  }
  for (; epoch < total; ++epoch) {
    size_t q = plan_.phaseOfEpoch(epoch);
    if (q != phase_)
      startPhase(q);
    trainEpoch(epoch);
    if (!opt_.dense && (epoch + 1 == total || plan_.phaseOfEpoch(epoch + 1) != q)) {
      const std::string dir = (fs::path(runDir_) / "report" / ("phase" + std::to_string(q + 1))).string();
      for (const std::string &l : writePhaseReport(dir, *net_, data_.validation, plan_.batch, evalChunks(),
                                                   plan_.head->classes, log_->entries()))
        progress_->line("  " + l);
      progress_->line("  routing report of phase " + std::to_string(q + 1) + ": " + dir + "/report.html");
    }
    if (opt_.stopAfter && ++session >= opt_.stopAfter && epoch + 1 < total) {
      progress_->line("pce-train: stopped after epoch " + std::to_string(epoch + 1) +
                      " (--stop-after); continue with --resume");
      return;
    }
  }
  finish();
}

} // namespace

void runTraining(const Options &options, const CompileSteps &compile) {
  Trainer trainer(options, compile);
  trainer.run();
}

} // namespace pce::train
