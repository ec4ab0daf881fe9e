//===- Layers.h - random PCE layers as MLIR text and reference --*- C++ -*-===//

#ifndef PCE_RUNTIME_REFERENCE_LAYERS_H
#define PCE_RUNTIME_REFERENCE_LAYERS_H

#include "runtime/reference/ModelText.h"
#include "runtime/reference/Reference.h"

#include <string>
#include <vector>

namespace pce::agree {

/// One PCE layer's configuration; parameters are drawn at random.
struct LayerSpec {
  int64_t ph = 4, pw = 4, k = 3;
  ref::Halo halo = ref::Halo::Context;
  int64_t experts = 3, outChannels = 4;
  int64_t embedWidth = 0; ///< De; 0 = C+4
  std::vector<int64_t> levels{1, 2, 4};
  ref::RouterKind router = ref::RouterKind::Cosine;
  double tau = 0.5;
  bool learnableTau = false;
  int64_t topK = 0;
  bool renormalize = false;
  std::vector<int64_t> table; ///< position router; empty = p mod E
  double beta = 2.0;
  double sigma = 0.0;     ///< position router noise (training only)
  double gumbelTau = 1.0; ///< gumbel router
  bool hard = false;      ///< gumbel straight-through (training only)
  int64_t hidden = 6; ///< MLP router
  bool normalizeInput = false; ///< MLP router
  bool cosineHead = false;     ///< MLP router: a cosine head at tau, no b2
  bool linearHidden = false;   ///< MLP router: no ReLU after W1
  ref::MixKind mix = ref::MixKind::Sum;
  ref::AttentionKind attention = ref::AttentionKind::None;
  bool affineNorm = false; ///< affine(scale, shift) instead of bn(...)
  std::string describe() const;
  /// The default layer with this router.
  static LayerSpec withRouter(ref::RouterKind router, int64_t topK, bool renormalize) {
    LayerSpec s;
    s.router = router;
    s.topK = topK;
    s.renormalize = renormalize;
    return s;
  }
};

/// The layer as the reference computes it, with the values the model holds.
struct BuiltLayer {
  std::string ssa;            ///< the layer's result
  std::vector<int64_t> shape; ///< [B, Co, H, W]
  ref::LayerConfig config;
  ref::LayerParams params;
};

/// Appends a `pce.layer` on `x` (`xShape`) with random parameters named
/// `<prefix>.<...>` to `model`.
BuiltLayer addLayer(ModelText &model, const std::string &prefix,
                    const std::string &x, c10::IntArrayRef xShape,
                    const LayerSpec &spec);

const char *routerName(ref::RouterKind kind);

} // namespace pce::agree

#endif // PCE_RUNTIME_REFERENCE_LAYERS_H
