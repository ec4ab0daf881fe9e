//===- PCEToLinalg.h - pce ops to linalg ------------*- C++ -*-===//
//
// One pattern set per op family; LowerToLinalg.cpp combines them into the
// `pce-lower-to-linalg` pass. Each pattern rewrites a pce op (inference
// semantics: running BN statistics, no router noise) into linalg, tensor,
// arith and math ops on tensors, for f32 and f64 alike.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_CONVERSION_PCETOLINALG_H
#define PCE_PASSES_CONVERSION_PCETOLINALG_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::pce {

/// pce.patchify, pce.unpatchify (LowerPatching.cpp).
void populateLowerPatchingPatterns(RewritePatternSet &patterns);

/// pce.embed: 1x1 convolution and spatial pyramid max pooling (LowerEmbed.cpp).
void populateLowerEmbedPatterns(RewritePatternSet &patterns);

/// pce.route, every router kind, top-k (LowerRoute.cpp).
void populateLowerRoutePatterns(RewritePatternSet &patterns);

/// pce.experts, pce.mix, pce.attention (LowerExperts.cpp).
void populateLowerExpertsPatterns(RewritePatternSet &patterns);

} // namespace mlir::pce

#endif // PCE_PASSES_CONVERSION_PCETOLINALG_H
