//===- TrainingPlan.cpp - a model description's training section ----------===//

#include "frontend/TrainingPlan.h"

#include "dialect/PCEOps.h"
#include "frontend/Diagnostics.h"
#include "frontend/Importer.h"
#include "frontend/ModelDescription.h"

#include "runtime/TrainingPlan.h"

using namespace pce::frontend;
namespace pce_ir = mlir::pce;
namespace rt = pce::rt;

namespace {

/// The description's value, else the default (docs/Training.md §2).
template <typename T>
T orDefault(const Located<T> &v, T fallback) {
  return v.given ? v.value : fallback;
}

/// What a phase has made of one PCE layer, beyond its description.
struct LayerPhase {
  KeysMode keys = KeysMode::Ema;
};

const char *keysName(KeysMode mode) {
  switch (mode) {
  case KeysMode::Ema: return "ema";
  case KeysMode::Learnable: return "learnable";
  case KeysMode::LearnableEma: return "learnable_ema";
  }
  return "?";
}

/// Applies `phase` to every PCE layer of `model` (phases accumulate).
bool applyPhase(const PhaseDesc &phase, ModelDescription &model,
                std::vector<LayerPhase> &extra, Diagnostics &diag) {
  for (auto [layer, more] : llvm::zip(model.layers, extra)) {
    if (layer.kind != LayerKind::PCE)
      continue;
    PCELayerDesc &pce = layer.pce;
    if (phase.hasRouter) {
      RouterDesc router = phase.router;
      // A new router kind keeps the layer's top-k unless it says otherwise.
      if (!router.topK.given)
        router.topK = pce.router.topK;
      if (!router.renormalize.given)
        router.renormalize = pce.router.renormalize;
      if (router.topK.given && router.topK.value > pce.experts.value) {
        diag.error(phase.router.loc)
            << "this phase's router keeps top_k = " << router.topK.value
            << " of the " << pce.experts.value << " experts of layer '"
            << layer.name.value << "'";
        return false;
      }
      pce.router = router;
      if (!pce_ir::routerReadsEmbeddings(router.kind.value))
        pce.embed.given = false;
    }
    if (phase.keys.given)
      more.keys = phase.keys.value;
    if (phase.mix.given) {
      pce.mix = phase.mix;
      if (phase.mix.value == pce_ir::MixKind::sum) {
        pce.attention.given = false;
        pce.concatOutChannels.given = false;
      }
    }
    if (phase.attention.given)
      pce.attention = phase.attention;
    bool concat = pce.mix.given && pce.mix.value == pce_ir::MixKind::concat;
    if (pce.attention.given &&
        pce.attention.value == pce_ir::AttentionKind::se && !concat) {
      diag.error(phase.attention.given ? phase.attention.loc : phase.loc)
          << "'attention: se' needs 'mix: concat' in this phase or an "
             "earlier one (layer '"
          << layer.name.value << "')";
      return false;
    }
  }
  return true;
}

std::vector<int64_t> pairOf(IntPair pair) { return {pair[0], pair[1]}; }

/// A layer of the plan; what the description leaves out gets the defaults of
/// rt::PlanLayer (the conv and pool defaults are the importer's).
rt::PlanLayer planLayer(const LayerDesc &layer, const LayerShapes &shapes) {
  rt::PlanLayer l;
  l.kind = layerKindKey(layer.kind).str();
  l.name = layer.name.value;
  l.in = shapes.in;
  l.out = shapes.out;
  switch (layer.kind) {
  case LayerKind::Conv:
    l.kernel = pairOf(layer.conv.kernel.value);
    l.stride = pairOf(orDefault(layer.conv.stride, IntPair{1, 1}));
    l.padding = pairOf(orDefault(layer.conv.padding, IntPair{0, 0}));
    l.bias = orDefault(layer.conv.bias, l.bias);
    break;
  case LayerKind::BatchNorm:
    l.eps = orDefault(layer.batchNorm.eps, l.eps);
    break;
  case LayerKind::MaxPool:
  case LayerKind::AvgPool:
    l.kernel = pairOf(layer.pool.kernel.value);
    l.stride = pairOf(orDefault(layer.pool.stride, layer.pool.kernel.value));
    break;
  case LayerKind::Linear:
    l.bias = orDefault(layer.linear.bias, l.bias);
    break;
  case LayerKind::Residual:
  case LayerKind::Concat:
    l.from = layer.residual.from.value;
    break;
  case LayerKind::PCE:
    // The patch grid and the experts' kernel, for the CoordConv twin.
    l.patch = pairOf(layer.pce.patch.value);
    l.kernel = {layer.pce.kernel.value, layer.pce.kernel.value}; // the parser filled its default
    l.experts = layer.pce.experts.value;
    break;
  case LayerKind::Upsample:
    l.mode = layer.upsample.mode.given &&
                     layer.upsample.mode.value == UpsampleMode::Bilinear
                 ? "bilinear"
                 : "nearest";
    break;
  default:
    break;
  }
  return l;
}

rt::PhaseLayer phaseLayer(const PCELayerDesc &pce, const LayerPhase &more) {
  const RouterDesc &router = pce.router;
  bool keyed = router.kind.value == pce_ir::RouterKind::cosine ||
               router.kind.value == pce_ir::RouterKind::gumbel;
  rt::PhaseLayer l;
  l.router = pce_ir::stringifyRouterKind(router.kind.value).str();
  l.topK = orDefault(router.topK, l.topK);
  if (keyed)
    l.keys = keysName(more.keys);
  l.tau = orDefault(router.tau, l.tau);
  l.learnableTau = orDefault(router.learnableTau, l.learnableTau);
  l.normalizeInput = router.kind.value == pce_ir::RouterKind::mlp &&
                     mlpNormalizesInput(router);
  l.linearHidden = mlpHasLinearHidden(router);
  if (pce.mix.given)
    l.mix = pce_ir::stringifyMixKind(pce.mix.value).str();
  if (pce.attention.given)
    l.attention = pce_ir::stringifyAttentionKind(pce.attention.value).str();
  return l;
}

/// The training configuration: the description's values over the defaults
/// of rt::TrainingConfig (the optimizer's of its kind).
rt::TrainingConfig trainingConfig(const TrainingDesc &t, int64_t batch) {
  rt::TrainingConfig c;
  c.data = orDefault(t.data, c.data);
  c.dataFormat = orDefault(t.dataFormat, c.dataFormat);
  c.dataMean = orDefault(t.dataMean, c.dataMean);
  c.dataStd = orDefault(t.dataStd, c.dataStd);
  for (const auto &[name, value] : t.dataOptions)
    c.dataOptions[name] = value.value;
  c.batch = batch;
  c.seed = orDefault(t.seed, c.seed);
  c.threads = orDefault(t.threads, c.threads);
  c.validation = orDefault(t.validation, c.validation);
  // The parser admits sgd and adamw only.
  rt::OptimizerConfig &o = c.optimizer;
  o = rt::OptimizerConfig::defaults(orDefault(t.optimizer, o.kind));
  o.lr = orDefault(t.lr, o.lr);
  o.momentum = orDefault(t.momentum, o.momentum);
  o.nesterov = orDefault(t.nesterov, o.nesterov);
  o.weightDecay = orDefault(t.weightDecay, o.weightDecay);
  o.beta1 = orDefault(t.beta1, o.beta1);
  o.beta2 = orDefault(t.beta2, o.beta2);
  o.eps = orDefault(t.adamEps, o.eps);
  o.routerLrScale = orDefault(t.routerLrScale, o.routerLrScale);
  rt::ScheduleConfig &s = c.schedule;
  s.kind = orDefault(t.schedule, s.kind);
  s.warmupEpochs = orDefault(t.warmupEpochs, s.warmupEpochs);
  s.stepEpochs = orDefault(t.stepEpochs, s.stepEpochs);
  s.gamma = orDefault(t.gamma, s.gamma);
  c.cropPadding = orDefault(t.cropPadding, c.cropPadding);
  c.hflip = orDefault(t.hflip, c.hflip);
  c.loadBalance = orDefault(t.loadBalance, c.loadBalance);
  c.ema = orDefault(t.ema, c.ema);
  c.keyInitImages = orDefault(t.keyInitImages, c.keyInitImages);
  c.keyInitIterations = orDefault(t.keyInitIterations, c.keyInitIterations);
  c.bnMomentum = orDefault(t.bnMomentum, c.bnMomentum);
  return c;
}

} // namespace

std::optional<TrainingImport>
pce::frontend::importForTraining(llvm::SourceMgr &sourceMgr,
                                 mlir::MLIRContext *context) {
  TrainingImport result;
  bool ok = withModelDescription(
      sourceMgr, context, [&](const ModelDescription &described, Diagnostics &diag) {
        const TrainingDesc &t = described.training;
        if (!t.given) {
          diag.error(described.name.loc)
              << "training needs a 'training:' section in the model "
                 "description (docs/Training.md)";
          return false;
        }
        ModelDescription model = described;
        int64_t batch = orDefault(t.batch, rt::TrainingConfig().batch);
        model.input.batch.value = batch;
        std::vector<PhaseDesc> phases = t.phases;
        if (phases.empty()) {
          phases.emplace_back();
          phases.back().loc = t.loc;
          phases.back().epochs =
              t.epochs.given ? t.epochs
                             : Located<int64_t>{rt::kDefaultEpochs, t.loc, false};
        }

        rt::Plan plan;
        plan.model = model.name.value;
        std::vector<LayerPhase> extra(model.layers.size());
        std::vector<LayerShapes> shapes;
        for (size_t q = 0; q < phases.size(); ++q) {
          const PhaseDesc &phase = phases[q];
          if (!applyPhase(phase, model, extra, diag))
            return false;
          PhaseModule pm{"phase" + std::to_string(q + 1),
                         importModel(model, diag, q ? nullptr : &shapes)};
          if (!pm.module)
            return false;
          rt::Phase &planned = plan.phases.emplace_back();
          planned.epochs = phase.epochs.value;
          planned.artifact = pm.artifact;
          for (auto [layer, more] : llvm::zip(model.layers, extra))
            if (layer.kind == LayerKind::PCE)
              planned.layers[layer.name.value] = phaseLayer(layer.pce, more);
          result.phases.push_back(std::move(pm));
        }
        plan.batch = batch;
        plan.channels = model.input.channels.value;
        plan.height = model.input.height.value;
        plan.width = model.input.width.value;
        for (auto [layer, shape] : llvm::zip(model.layers, shapes))
          plan.layers.push_back(planLayer(layer, shape));
        // The head as the importer resolved it (its stride, defaults).
        if (auto head = result.phases.front().module->getOperation()->getAttrOfType<
                        mlir::StringAttr>(mlir::pce::kHeadAttrName)) {
          auto spec = rt::parseHeadSpec(head.getValue().str(), "pce.head");
          if (!spec) {
            diag.error(model.head.loc) << "internal error: " << spec.error();
            return false;
          }
          plan.head = *spec;
        }
        plan.training = trainingConfig(t, batch);
        result.plan = rt::writePlanText(plan);
        return true;
      });
  if (!ok)
    return std::nullopt;
  return result;
}
