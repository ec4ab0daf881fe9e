//===- AdjointDense.h - the adjoint of a per-patch dense layer --*- C++ -*-===//
//
// The backward of `y[b,p,o] = sum_k W[o,k] x[b,p,k] + c[o]`, the dense layers
// of the MLP router (AdjointRoute.cpp) and of squeeze-excitation attention
// (AdjointMix.cpp):
//
//   gc[o]     = sum_{b,p} gy[b,p,o]
//   gW[o,k]   = sum_{b,p} gy[b,p,o] x[b,p,k]
//   gx[b,p,k] = sum_o gy[b,p,o] W[o,k]
//
// Every sum adds its terms in the same order under either loop order; the
// order only shapes the loop nest, and so the generated code.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_AUTODIFF_ADJOINTDENSE_H
#define PCE_PASSES_AUTODIFF_ADJOINTDENSE_H

#include "mlir/IR/Builders.h"

namespace mlir::pce::adjoint {

/// The loop order of the contractions, over loops named (b, p, o, k).
enum class DenseLoops {
  /// (b, p, o, k): the operands' own order (squeeze-excitation, whose
  /// input gradient then runs along rows of W).
  PatchMajor,
  /// The result's loops, then the summed ones (MLP router).
  SumsInnermost,
};

/// `gc[o] = sum_{b,p} gy[b,p,o]`, [O].
Value denseBiasGrad(OpBuilder &b, Location loc, Value gy, DenseLoops loops);

/// `gW[o,k] = sum_{b,p} gy[b,p,o] x[b,p,k]`, [O, K].
Value denseWeightGrad(OpBuilder &b, Location loc, Value gy, Value x,
                      DenseLoops loops);

/// `gx[b,p,k] = sum_o gy[b,p,o] W[o,k]`, [B, P, K]; when `gate` [B, P, K] is
/// given, only where `gate > 0` (the ReLU before the layer, fused).
Value denseInputGrad(OpBuilder &b, Location loc, Value gy, Value weight,
                     Value gate, DenseLoops loops);

} // namespace mlir::pce::adjoint

#endif // PCE_PASSES_AUTODIFF_ADJOINTDENSE_H
