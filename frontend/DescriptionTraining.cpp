//===- DescriptionTraining.cpp - the training section of a description ---===//
//
// `training:` (docs/Training.md §2): the data, optimiser, schedule and
// phases; defaults are applied when the plan is written (TrainingPlan.cpp).
//
//===----------------------------------------------------------------------===//

#include "frontend/DescriptionParser.h"
#include "runtime/TrainingPlan.h"

#include "llvm/ADT/STLExtras.h"

using namespace pce::frontend;
using namespace pce::frontend::detail;
namespace pce_ir = mlir::pce;
namespace rt = ::pce::rt;

namespace pce::frontend::detail {

//===----------------------------------------------------------------------===//
// training: (docs/Training.md §2)
//===----------------------------------------------------------------------===//

LogicalResult Parser::parsePhase(yaml::Node *value, SMLoc loc, PhaseDesc &phase) {
  phase.loc = locOf(value, loc);
  if (failed(forEachEntry(
          value, loc, "a phase of 'training'",
          {"epochs", "router", "keys", "mix", "attention"},
          [&](StringRef key, SMLoc at, yaml::Node *v) -> LogicalResult {
            if (key == "epochs")
              return readInt(v, at, key, 0, phase.epochs);
            if (key == "router") {
              phase.hasRouter = true;
              return parseRouter(v, at, phase.router);
            }
            if (key == "keys")
              return readChoice<KeysMode>(
                  v, at, key,
                  {{"ema", KeysMode::Ema},
                   {"learnable", KeysMode::Learnable},
                   {"learnable_ema", KeysMode::LearnableEma}},
                  phase.keys);
            if (key == "mix")
              return readChoice<pce_ir::MixKind>(
                  v, at, key,
                  {{"sum", pce_ir::MixKind::sum}, {"concat", pce_ir::MixKind::concat}},
                  phase.mix);
            return readChoice<pce_ir::AttentionKind>(
                v, at, key,
                {{"none", pce_ir::AttentionKind::none},
                 {"se", pce_ir::AttentionKind::se}},
                phase.attention);
          })))
    return failure();
  if (!phase.epochs.given)
    return error(phase.loc) << "a phase needs 'epochs'";
  return success();
}

LogicalResult Parser::parseTraining(yaml::Node *value, SMLoc keyLoc,
                                    TrainingDesc &t) {
  t.loc = keyLoc;
  t.given = true;
  auto positive = [&](Located<double> &v, StringRef key) -> LogicalResult {
    if (v.given && !(v.value > 0))
      return error(v.loc) << "'" << key << "' must be > 0, found " << num(v.value);
    return success();
  };
  auto fraction = [&](Located<double> &v, StringRef key) -> LogicalResult {
    if (v.given && !(v.value >= 0 && v.value < 1))
      return error(v.loc) << "'" << key << "' must be in [0, 1), found "
                          << num(v.value);
    return success();
  };
  return forEachEntry(
      value, keyLoc, "'training'",
      {"data", "epochs", "batch", "seed", "threads", "validation", "optimizer", "schedule",
       "augment", "load_balance", "ema", "key_init", "bn_momentum", "phases"},
      [&](StringRef key, SMLoc loc, yaml::Node *v) -> LogicalResult {
        if (key == "data") {
          // A path (IDX files), or {format, path, mean, std}.
          if (!llvm::isa<yaml::MappingNode>(v))
            return readString(v, loc, key, t.data);
          return forEachEntry(
              v, loc, "'data'",
              {"format", "path", "mean", "std", "level", "tile_size", "stride", "min_tissue"},
              [&](StringRef k, SMLoc at, yaml::Node *d) -> LogicalResult {
                if (k == "path")
                  return readString(d, at, k, t.data);
                if (k == "min_tissue") {
                  Located<double> x;
                  if (failed(readDouble(d, at, k, x)))
                    return failure();
                  if (!(x.value >= 0 && x.value <= 1))
                    return error(x.loc) << "'min_tissue' must be in [0, 1], found " << num(x.value);
                  t.dataOptions.push_back({k.str(), x});
                  return success();
                }
                if (k == "level" || k == "tile_size" || k == "stride") {
                  Located<int64_t> n;
                  if (failed(readInt(d, at, k, k == "tile_size" ? 1 : 0, n)))
                    return failure();
                  t.dataOptions.push_back({k.str(), Located<double>{double(n.value), n.loc, true}});
                  return success();
                }
                if (k == "format") {
                  std::vector<std::pair<StringRef, std::string>> choices;
                  for (const std::string &f : rt::kDataFormats)
                    choices.push_back({f, f});
                  return readChoice<std::string>(d, at, k, choices, t.dataFormat);
                }
                Located<std::vector<double>> &list = k == "mean" ? t.dataMean : t.dataStd;
                list.loc = at;
                list.given = true;
                return forEachItem(d, at, k, "[one number per channel]", 16,
                                   [&](yaml::Node *item) -> LogicalResult {
                                     Located<double> x;
                                     if (failed(readDouble(item, at, k, x)))
                                       return failure();
                                     if (k == "std" && !(x.value > 0))
                                       return error(x.loc) << "'std' values must be > 0, found " << num(x.value);
                                     list.value.push_back(x.value);
                                     return success();
                                   });
              });
        }
        if (key == "epochs")
          return readInt(v, loc, key, 0, t.epochs);
        if (key == "batch")
          return readInt(v, loc, key, 1, t.batch);
        if (key == "seed")
          return readInt(v, loc, key, 0, t.seed);
        if (key == "threads")
          return readInt(v, loc, key, 1, t.threads);
        if (key == "validation")
          return readInt(v, loc, key, 0, t.validation);
        if (key == "load_balance") {
          if (failed(readDouble(v, loc, key, t.loadBalance)))
            return failure();
          if (t.loadBalance.value < 0)
            return error(t.loadBalance.loc) << "'load_balance' must be >= 0, found "
                                            << num(t.loadBalance.value);
          return success();
        }
        if (key == "ema")
          return failure(failed(readDouble(v, loc, key, t.ema)) ||
                         failed(fraction(t.ema, key)));
        if (key == "bn_momentum")
          return failure(failed(readDouble(v, loc, key, t.bnMomentum)) ||
                         failed(positive(t.bnMomentum, key)));
        if (key == "optimizer")
          return forEachEntry(
              v, loc, "'optimizer'",
              {"kind", "lr", "momentum", "nesterov", "weight_decay", "betas", "eps",
               "router_lr_scale"},
              [&](StringRef k, SMLoc at, yaml::Node *o) -> LogicalResult {
                if (k == "kind") {
                  Located<std::string> kind;
                  if (failed(readChoice<std::string>(
                          o, at, k, {{"sgd", "sgd"}, {"adamw", "adamw"}}, kind)))
                    return failure();
                  t.optimizer = kind;
                  return success();
                }
                if (k == "lr")
                  return failure(failed(readDouble(o, at, k, t.lr)) ||
                                 failed(positive(t.lr, k)));
                if (k == "momentum")
                  return failure(failed(readDouble(o, at, k, t.momentum)) ||
                                 failed(fraction(t.momentum, k)));
                if (k == "nesterov")
                  return readBool(o, at, k, t.nesterov);
                if (k == "weight_decay")
                  return failure(failed(readDouble(o, at, k, t.weightDecay)) ||
                                 failed(fraction(t.weightDecay, k)));
                if (k == "eps")
                  return failure(failed(readDouble(o, at, k, t.adamEps)) ||
                                 failed(positive(t.adamEps, k)));
                if (k == "router_lr_scale")
                  return failure(failed(readDouble(o, at, k, t.routerLrScale)) ||
                                 failed(positive(t.routerLrScale, k)));
                int index = 0;
                return forEachItem(o, at, k, "[beta1, beta2]", 2,
                                   [&](yaml::Node *item) -> LogicalResult {
                                     Located<double> &b = index++ ? t.beta2 : t.beta1;
                                     return failure(
                                         failed(readDouble(item, at, k, b)) ||
                                         failed(fraction(b, k)));
                                   });
              });
        if (key == "schedule")
          return forEachEntry(
              v, loc, "'schedule'", {"kind", "warmup_epochs", "step_epochs", "gamma"},
              [&](StringRef k, SMLoc at, yaml::Node *o) -> LogicalResult {
                if (k == "kind")
                  return readChoice<std::string>(
                      o, at, k,
                      {{"constant", "constant"}, {"cosine", "cosine"}, {"step", "step"}},
                      t.schedule);
                if (k == "warmup_epochs") {
                  if (failed(readDouble(o, at, k, t.warmupEpochs)))
                    return failure();
                  if (t.warmupEpochs.value < 0)
                    return error(t.warmupEpochs.loc)
                           << "'warmup_epochs' must be >= 0, found "
                           << num(t.warmupEpochs.value);
                  return success();
                }
                if (k == "step_epochs")
                  return readInt(o, at, k, 1, t.stepEpochs);
                return failure(failed(readDouble(o, at, k, t.gamma)) ||
                               failed(positive(t.gamma, k)));
              });
        if (key == "augment")
          return forEachEntry(v, loc, "'augment'", {"crop_padding", "hflip"},
                              [&](StringRef k, SMLoc at, yaml::Node *o) {
                                if (k == "crop_padding")
                                  return readInt(o, at, k, 0, t.cropPadding);
                                return readBool(o, at, k, t.hflip);
                              });
        if (key == "key_init")
          return forEachEntry(v, loc, "'key_init'", {"images", "iterations"},
                              [&](StringRef k, SMLoc at, yaml::Node *o) {
                                return readInt(o, at, k, 1,
                                               k == "images" ? t.keyInitImages
                                                             : t.keyInitIterations);
                              });
        return forEachItem(v, loc, key, "a list of phases", 16,
                           [&](yaml::Node *item) -> LogicalResult {
                             t.phases.emplace_back();
                             return parsePhase(item, loc, t.phases.back());
                           });
      }).succeeded() ? checkTraining(t) : failure();
}

/// Rules between keys of `training:`.
LogicalResult Parser::checkTraining(TrainingDesc &t) {
  if (t.epochs.given && !t.phases.empty())
    return error(t.epochs.loc) << "give either 'epochs' or 'phases' (each phase "
                                  "has its own 'epochs'), not both";
  bool sgd = !t.optimizer.given || t.optimizer.value == "sgd";
  for (auto [given, loc, key] :
       {std::tuple<bool, SMLoc, StringRef>{t.momentum.given, t.momentum.loc, "momentum"},
        {t.nesterov.given, t.nesterov.loc, "nesterov"}})
    if (given && !sgd)
      return error(loc) << "'" << key << "' applies to the sgd optimizer, not adamw";
  for (auto [given, loc, key] :
       {std::tuple<bool, SMLoc, StringRef>{t.beta1.given, t.beta1.loc, "betas"},
        {t.adamEps.given, t.adamEps.loc, "eps"}})
    if (given && sgd)
      return error(loc) << "'" << key << "' applies to the adamw optimizer, not sgd";
  bool step = t.schedule.given && t.schedule.value == "step";
  if ((t.stepEpochs.given || t.gamma.given) && !step)
    return error(t.stepEpochs.given ? t.stepEpochs.loc : t.gamma.loc)
           << "'step_epochs' and 'gamma' apply to the step schedule only";
  if (t.dataMean.given != t.dataStd.given ||
      t.dataMean.value.size() != t.dataStd.value.size())
    return error(t.dataMean.given ? t.dataMean.loc : t.dataStd.loc)
           << "'mean' and 'std' of 'data' come together, one number per channel each (found "
           << t.dataMean.value.size() << " and " << t.dataStd.value.size() << ")";
  for (const auto &[name, value] : t.dataOptions)
    if (!t.dataFormat.given || t.dataFormat.value != "camelyon16")
      return error(value.loc) << "'" << name
                              << "' applies to 'format: camelyon16' (how slides are tiled)";
  return success();
}

} // namespace pce::frontend::detail
