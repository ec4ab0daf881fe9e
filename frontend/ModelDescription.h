//===- ModelDescription.h - a YAML model description as C++ structs -------===//
//
// The parsed form of a model description (docs/ModelDescription.md). Parsing
// checks what one key can check alone (types, ranges, unknown or repeated
// keys, options that do not apply); the importer checks shapes, which need
// the layers before. Every value keeps the position it was written at so
// that both report errors at the right file:line:column.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_FRONTEND_MODELDESCRIPTION_H
#define PCE_FRONTEND_MODELDESCRIPTION_H

#include "dialect/PCEOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/SMLoc.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llvm {
class MemoryBufferRef;
} // namespace llvm

namespace pce::frontend {

class Diagnostics;

/// Limits that keep hostile or mistyped descriptions from exhausting the
/// stack, memory or int64 arithmetic (documented in docs/ModelDescription.md).
struct Limits {
  static constexpr size_t kMaxFileBytes = 4 << 20;
  static constexpr int64_t kMaxSequenceLength = 1 << 16;
  static constexpr int64_t kMaxLayers = 1024;
  /// Any size (channels, height, experts, kernel, ...).
  static constexpr int64_t kMaxSize = 1 << 16;
  static constexpr int64_t kMaxSppLevel = 64;
  static constexpr int64_t kMaxSppLevels = 8;
  /// Elements of any tensor the model computes or takes.
  static constexpr int64_t kMaxElements = int64_t(1) << 40;
};

/// A value with where it was written; `given` is false for defaults, whose
/// `loc` is then the enclosing key.
template <typename T>
struct Located {
  T value{};
  llvm::SMLoc loc;
  bool given = false;

  void set(T v, llvm::SMLoc l) {
    value = std::move(v);
    loc = l;
    given = true;
  }
};

using IntPair = std::array<int64_t, 2>;

struct InputDesc {
  llvm::SMLoc loc;
  Located<int64_t> batch, channels, height, width;
};

struct EmbedDesc {
  llvm::SMLoc loc;
  bool given = false;
  Located<int64_t> width;                  // default C + 4
  Located<std::vector<int64_t>> levels;    // default [1, 2, 4]
};

struct RouterDesc {
  llvm::SMLoc loc;
  Located<mlir::pce::RouterKind> kind;
  Located<double> tau;
  Located<bool> learnableTau;
  Located<int64_t> topK;
  Located<bool> renormalize;
  Located<std::vector<int64_t>> table;
  std::vector<llvm::SMLoc> tableLocs; // one per entry
  Located<double> beta, sigma, gumbelTau;
  Located<bool> hard;
  Located<int64_t> hidden; // mlp; default 32
  Located<bool> normalizeInput; // mlp; see mlpNormalizesInput
  Located<bool> cosineHead;     // mlp; see mlpHasCosineHead
  Located<bool> linearHidden;   // mlp; see mlpHasLinearHidden
};

/// Whether an MLP router reads unit-length embeddings (`normalize_input`,
/// default true: docs/Rationale.md, "The MLP router reads unit embeddings").
inline bool mlpNormalizesInput(const RouterDesc &router) {
  return router.normalizeInput.given ? router.normalizeInput.value : true;
}

/// Whether an MLP router's output layer is a cosine head (`cosine_head`,
/// default false: docs/Rationale.md, "The MLP router's cosine head").
inline bool mlpHasCosineHead(const RouterDesc &router) {
  return router.kind.value == mlir::pce::RouterKind::mlp &&
         router.cosineHead.given && router.cosineHead.value;
}

/// Whether an MLP router's hidden layer is linear (`linear_hidden`, default
/// false: no ReLU, docs/Rationale.md).
inline bool mlpHasLinearHidden(const RouterDesc &router) {
  return router.kind.value == mlir::pce::RouterKind::mlp &&
         router.linearHidden.given && router.linearHidden.value;
}

enum class NormForm { Stats, Affine };

struct PCELayerDesc {
  Located<IntPair> patch;
  Located<mlir::pce::HaloMode> halo;
  Located<int64_t> experts, outChannels;
  Located<int64_t> kernel; // default 3
  EmbedDesc embed;
  RouterDesc router;
  bool hasRouter = false;
  Located<mlir::pce::MixKind> mix;
  Located<int64_t> concatOutChannels; // default Co
  Located<mlir::pce::AttentionKind> attention;
  Located<NormForm> bn;
  Located<double> eps; // default 1e-5
};

struct ConvDesc {
  Located<int64_t> outChannels;
  Located<IntPair> kernel, stride, padding; // stride 1, padding 0
  Located<bool> bias;                       // default true
};

struct BatchNormDesc {
  Located<double> eps; // default 1e-5
};

struct PoolDesc {
  Located<IntPair> kernel, stride; // stride defaults to the kernel
};

struct LinearDesc {
  Located<int64_t> outFeatures;
  Located<bool> bias; // default true
};

struct ResidualDesc {
  Located<std::string> from;
};

enum class UpsampleMode { Nearest, Bilinear };

/// Exactly one of `scale` and `size` is given (the parser checks).
struct UpsampleDesc {
  Located<UpsampleMode> mode; // default nearest
  Located<int64_t> scale;
  Located<IntPair> size;
};

enum class LayerKind {
  PCE,
  Conv,
  BatchNorm,
  ReLU,
  MaxPool,
  AvgPool,
  GlobalAvgPool,
  Flatten,
  Linear,
  Residual,
  Concat,
  Upsample,
  Sigmoid,
};

/// The key that names a layer kind in a description (`pce`, `conv`, ...).
llvm::StringRef layerKindKey(LayerKind kind);

/// One item of `layers:`. Only the member of `kind` is meaningful (a
/// handful of small structs: simpler than a variant and cheap).
struct LayerDesc {
  LayerKind kind = LayerKind::ReLU;
  llvm::SMLoc loc; // the kind key
  Located<std::string> name;
  PCELayerDesc pce;
  ConvDesc conv;
  BatchNormDesc batchNorm;
  PoolDesc pool;
  LinearDesc linear;
  ResidualDesc residual; // also `concat`'s `from`
  UpsampleDesc upsample;
};

struct HeadDesc {
  llvm::SMLoc loc;
  bool given = false;
  Located<std::string> kind; // classification | segmentation | detection
  Located<int64_t> classes;
  Located<int64_t> maxDetections;         // detection
  Located<double> scoreThreshold;         // detection
  Located<std::vector<double>> classWeights; // segmentation
};

/// How a phase treats router keys (docs/Training.md §2).
enum class KeysMode { Ema, Learnable, LearnableEma };

/// One phase of `training: phases:`; what it does not give it inherits.
struct PhaseDesc {
  llvm::SMLoc loc;
  Located<int64_t> epochs;
  bool hasRouter = false;
  RouterDesc router;
  Located<KeysMode> keys;
  Located<mlir::pce::MixKind> mix;
  Located<mlir::pce::AttentionKind> attention;
};

/// The `training:` section (docs/Training.md §2); defaults are applied when
/// the plan is written (frontend/TrainingPlan.cpp).
struct TrainingDesc {
  llvm::SMLoc loc;
  bool given = false;
  Located<std::string> data;       // the data set's directory
  Located<std::string> dataFormat; // idx | cifar10 | cifar100
  Located<std::vector<double>> dataMean, dataStd; // per channel
  // The reader's options (camelyon16: level, tile_size, stride, min_tissue).
  std::vector<std::pair<std::string, Located<double>>> dataOptions;
  Located<int64_t> epochs; // one phase of the description's layers, without `phases`
  Located<int64_t> batch, seed, threads, validation;
  Located<std::string> optimizer; // sgd | adamw
  Located<double> lr, momentum, weightDecay, adamEps, beta1, beta2, routerLrScale;
  Located<bool> nesterov;
  Located<std::string> schedule; // constant | cosine | step
  Located<double> warmupEpochs, gamma;
  Located<int64_t> stepEpochs;
  Located<int64_t> cropPadding;
  Located<bool> hflip;
  Located<double> loadBalance, ema, bnMomentum;
  Located<int64_t> keyInitImages, keyInitIterations;
  std::vector<PhaseDesc> phases;
};

struct ModelDescription {
  Located<std::string> name;
  InputDesc input;
  std::vector<LayerDesc> layers;
  HeadDesc head;
  TrainingDesc training;
};

/// Parses the model description in `buffer`. Returns nothing after reporting
/// the first error to `diagnostics`, whose SourceMgr the YAML scanner uses.
std::optional<ModelDescription> parseModelDescription(llvm::MemoryBufferRef buffer,
                                                      Diagnostics &diagnostics);

} // namespace pce::frontend

#endif // PCE_FRONTEND_MODELDESCRIPTION_H
