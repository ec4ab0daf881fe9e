//===- Adjoint.h - hand-written training forwards and adjoints --*- C++ -*-===//
//
// `pce-generate-backward` (GenerateBackward.cpp) differentiates a function of
// pce ops through their AdjointOpInterface (dialect/PCEInterfaces.td):
//
//   1. buildTrainingForward, in program order, builds the op's training
//      semantics (docs/SEMANTICS.md: batch-statistic BN, router noise) in the
//      `<f>_train` function and names the extra values its adjoint needs;
//   2. buildAdjoint, in reverse order, builds the gradients of the op's
//      operands in the `<f>_backward` function from the gradients of its
//      results.
//
// Every operand, result and saved value an adjoint reads is carried from
// `<f>_train` to `<f>_backward` by the pass (as a `saved.<k>` result and
// argument), so builders only ever see values of the function they build in.
// Each op family's external models live in their own file
// (Adjoint<Family>.cpp) and build linalg/tensor/arith/math ops on tensors, or
// pce ops with the same semantics, so that the CPU pipeline lowers both
// functions. Adding an op means implementing its interface there and
// attaching it in registerAdjointInterfaceExternalModels (Adjoint.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_AUTODIFF_ADJOINT_H
#define PCE_PASSES_AUTODIFF_ADJOINT_H

#include "dialect/PCEInterfaces.h"
#include "passes/Autodiff/AdjointInterfaceImpl.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

namespace mlir::pce::adjoint {

// One per file (Adjoint<Family>.cpp): attach the family's external models.
void attachPatchingAdjoints(MLIRContext *ctx); // patchify, unpatchify
void attachEmbedAdjoint(MLIRContext *ctx);     // embed
void attachRouteAdjoint(MLIRContext *ctx);     // route
void attachExpertsAdjoint(MLIRContext *ctx);   // experts
void attachMixAdjoints(MLIRContext *ctx);      // mix, attention

/// Helpers for builders.
/// `a + b`, elementwise; either may be null (then the other is returned).
Value add(OpBuilder &b, Location loc, Value x, Value y);
/// A zero tensor of `type`.
Value zeros(OpBuilder &b, Location loc, RankedTensorType type);
/// `g` when non-null, else zeros of `type` (for result gradients that are
/// null but needed).
Value orZeros(OpBuilder &b, Location loc, Value g, Type type);
/// `a[2] + a[0] * a[1]`: the body of a generic summing the products of its
/// two inputs into its output.
Value multiplyAdd(OpBuilder &b, Location loc, ValueRange a);

} // namespace mlir::pce::adjoint

#endif // PCE_PASSES_AUTODIFF_ADJOINT_H
