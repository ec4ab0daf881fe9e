//===- AdjointCosine.h - the adjoint of cosine router scores ----*- C++ -*-===//
//
// The backward of `l[b,p,e] = cos(x[b,p], k_e) / tau`, the logits of the
// cosine and Gumbel routers (x the embeddings, k the keys) and of the MLP
// router's cosine head (x its hidden features, k the rows of W2), as
// lowering::cosineLogits computes them (passes/Builders/PCEMath.h).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_AUTODIFF_ADJOINTCOSINE_H
#define PCE_PASSES_AUTODIFF_ADJOINTCOSINE_H

#include "mlir/IR/Builders.h"

namespace mlir::pce::adjoint {

/// The cosine logits' gradients from `grad`, that of `l = cos / tau`,
/// `cos = <emb, k_e> / max(|emb| |k_e|, floor)` (kCosineNormFloor, as the
/// forward lowering::cosineLogits). Where the floor is not hit,
///   d cos / d emb = k_e / (|emb| |k_e|) - cos emb / |emb|^2
///   d cos / d k_e = emb / (|emb| |k_e|) - cos k_e / |k_e|^2,
/// where it is, only the first terms (over the floor) remain; and
///   d l / d log_tau = -l.
struct CosineGrads {
  Value emb, keys, logTau;
};
/// What the forward saved of one cosine score: `cos / tau` and the squared
/// norms of the rows it compared.
struct CosineSaved {
  Value logits, embSquares, keySquares;
};

/// The gradients of `x [B, P, D]`, `keys [E, D]` and, when `logTau` (0-d)
/// is given, of it, from `grad`, that of the logits; `tau` is the constant
/// temperature when there is no `logTau`.
CosineGrads backThroughCosine(OpBuilder &b, Location loc, double tau,
                              Value grad, Value logTau,
                              const CosineSaved &saved, Value x, Value keys);

} // namespace mlir::pce::adjoint

#endif // PCE_PASSES_AUTODIFF_ADJOINTCOSINE_H
