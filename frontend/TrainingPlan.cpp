//===- TrainingPlan.cpp - a model description's training section ----------===//

#include "frontend/TrainingPlan.h"

#include "dialect/PCEOps.h"
#include "frontend/Diagnostics.h"
#include "frontend/Importer.h"
#include "frontend/ModelDescription.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

using namespace pce::frontend;
namespace pce_ir = mlir::pce;

namespace {

/// Defaults of docs/Training.md §2.
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

void writeShape(llvm::json::OStream &j, llvm::StringRef key,
                const std::vector<int64_t> &shape) {
  j.attributeArray(key, [&] {
    for (int64_t d : shape)
      j.value(d);
  });
}

void writePair(llvm::json::OStream &j, llvm::StringRef key, IntPair pair) {
  j.attributeArray(key, [&] {
    j.value(pair[0]);
    j.value(pair[1]);
  });
}

void writeLayer(llvm::json::OStream &j, const LayerDesc &layer,
                const LayerShapes &shapes) {
  j.object([&] {
    j.attribute("kind", layerKindKey(layer.kind));
    j.attribute("name", layer.name.value);
    writeShape(j, "in", shapes.in);
    writeShape(j, "out", shapes.out);
    switch (layer.kind) {
    case LayerKind::Conv:
      writePair(j, "kernel", layer.conv.kernel.value);
      writePair(j, "stride", orDefault(layer.conv.stride, IntPair{1, 1}));
      writePair(j, "padding", orDefault(layer.conv.padding, IntPair{0, 0}));
      j.attribute("bias", orDefault(layer.conv.bias, true));
      break;
    case LayerKind::BatchNorm:
      j.attribute("eps", orDefault(layer.batchNorm.eps, 1e-5));
      break;
    case LayerKind::MaxPool:
    case LayerKind::AvgPool:
      writePair(j, "kernel", layer.pool.kernel.value);
      writePair(j, "stride", orDefault(layer.pool.stride, layer.pool.kernel.value));
      break;
    case LayerKind::Linear:
      j.attribute("bias", orDefault(layer.linear.bias, true));
      break;
    case LayerKind::Residual:
      j.attribute("from", layer.residual.from.value);
      break;
    default:
      break;
    }
  });
}

void writePhaseLayer(llvm::json::OStream &j, const PCELayerDesc &pce,
                     const LayerPhase &more) {
  const RouterDesc &router = pce.router;
  bool keyed = router.kind.value == pce_ir::RouterKind::cosine ||
               router.kind.value == pce_ir::RouterKind::gumbel;
  j.object([&] {
    j.attribute("router", pce_ir::stringifyRouterKind(router.kind.value));
    j.attribute("top_k", orDefault(router.topK, int64_t(0)));
    j.attribute("keys", keyed ? keysName(more.keys) : "none");
    j.attribute("tau", orDefault(router.tau, 1.0));
    j.attribute("learnable_tau", orDefault(router.learnableTau, false));
    j.attribute("mix", pce_ir::stringifyMixKind(
                           orDefault(pce.mix, pce_ir::MixKind::sum)));
    j.attribute("attention", pce_ir::stringifyAttentionKind(orDefault(
                                 pce.attention, pce_ir::AttentionKind::none)));
  });
}

void writeTraining(llvm::json::OStream &j, const TrainingDesc &t, int64_t batch) {
  j.attributeObject("training", [&] {
    j.attribute("data", orDefault(t.data, std::string(
                                              "/usr/share/datasets/fashion-mnist")));
    j.attribute("batch", batch);
    j.attribute("seed", orDefault(t.seed, int64_t(1)));
    j.attribute("threads", orDefault(t.threads, int64_t(2)));
    j.attribute("validation", orDefault(t.validation, int64_t(5000)));
    std::string optimizer = orDefault(t.optimizer, std::string("sgd"));
    bool sgd = optimizer == "sgd";
    j.attributeObject("optimizer", [&] {
      j.attribute("kind", optimizer);
      j.attribute("lr", orDefault(t.lr, sgd ? 0.05 : 0.001));
      j.attribute("momentum", orDefault(t.momentum, sgd ? 0.9 : 0.0));
      j.attribute("nesterov", orDefault(t.nesterov, sgd));
      j.attribute("weight_decay", orDefault(t.weightDecay, sgd ? 5e-4 : 0.01));
      j.attributeArray("betas", [&] {
        j.value(orDefault(t.beta1, 0.9));
        j.value(orDefault(t.beta2, 0.999));
      });
      j.attribute("eps", orDefault(t.adamEps, 1e-8));
    });
    j.attributeObject("schedule", [&] {
      j.attribute("kind", orDefault(t.schedule, std::string("cosine")));
      j.attribute("warmup_epochs", orDefault(t.warmupEpochs, 0.0));
      j.attribute("step_epochs", orDefault(t.stepEpochs, int64_t(0)));
      j.attribute("gamma", orDefault(t.gamma, 0.1));
    });
    j.attributeObject("augment", [&] {
      j.attribute("crop_padding", orDefault(t.cropPadding, int64_t(0)));
      j.attribute("hflip", orDefault(t.hflip, false));
    });
    j.attribute("load_balance", orDefault(t.loadBalance, 0.0));
    j.attribute("ema", orDefault(t.ema, 0.99));
    j.attributeObject("key_init", [&] {
      j.attribute("images", orDefault(t.keyInitImages, int64_t(512)));
      j.attribute("iterations", orDefault(t.keyInitIterations, int64_t(100)));
    });
    j.attribute("bn_momentum", orDefault(t.bnMomentum, 0.1));
  });
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
        int64_t batch = orDefault(t.batch, int64_t(64));
        model.input.batch.value = batch;
        std::vector<PhaseDesc> phases = t.phases;
        if (phases.empty()) {
          phases.emplace_back();
          phases.back().loc = t.loc;
          phases.back().epochs = t.epochs.given ? t.epochs
                                                : Located<int64_t>{10, t.loc, false};
        }

        std::string text;
        llvm::raw_string_ostream os(text);
        llvm::json::OStream j(os, /*IndentSize=*/1);
        std::vector<LayerPhase> extra(model.layers.size());
        std::vector<LayerShapes> shapes;
        j.object([&] {
          j.attribute("format", "pce-training-plan");
          j.attribute("version", 1);
          j.attribute("model", model.name.value);
          j.attributeArray("phases", [&] {
            for (size_t q = 0; q < phases.size(); ++q) {
              // (No structured binding: lambdas below capture the phase.)
              const PhaseDesc &phase = phases[q];
              if (!applyPhase(phase, model, extra, diag))
                return;
              PhaseModule pm{"phase" + std::to_string(q + 1),
                             importModel(model, diag, q ? nullptr : &shapes)};
              if (!pm.module)
                return;
              result.phases.push_back(std::move(pm));
              j.object([&] {
                j.attribute("epochs", phase.epochs.value);
                j.attribute("artifact", result.phases.back().artifact);
                j.attributeObject("layers", [&] {
                  for (auto [layer, more] : llvm::zip(model.layers, extra))
                    if (layer.kind == LayerKind::PCE) {
                      j.attributeBegin(layer.name.value);
                      writePhaseLayer(j, layer.pce, more);
                      j.attributeEnd();
                    }
                });
              });
            }
          });
          if (result.phases.size() != phases.size())
            return;
          j.attributeObject("input", [&] {
            j.attribute("batch", batch);
            j.attribute("channels", model.input.channels.value);
            j.attribute("height", model.input.height.value);
            j.attribute("width", model.input.width.value);
          });
          j.attributeArray("layers", [&] {
            for (auto [layer, shape] : llvm::zip(model.layers, shapes))
              writeLayer(j, layer, shape);
          });
          if (model.head.given)
            j.attributeObject("head", [&] {
              j.attribute("kind", model.head.kind.value);
              j.attribute("classes", model.head.classes.value);
              writeShape(j, "in", shapes.back().in);
            });
          else
            j.attribute("head", nullptr);
          writeTraining(j, t, batch);
        });
        if (result.phases.size() != phases.size())
          return false;
        os << "\n";
        result.plan = std::move(text);
        return true;
      });
  if (!ok)
    return std::nullopt;
  return result;
}
