//===- Adjoint.h - hand-written training forwards and adjoints --*- C++ -*-===//
//
// `pce-generate-backward` (GenerateBackward.cpp) differentiates a function of
// pce ops by calling, for each op, the OpAdjoint of its kind:
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
// Each op kind's builders live in their own file (Adjoint<Family>.cpp) and
// build linalg/tensor/arith/math ops on tensors, or pce ops with the same
// semantics, so that the CPU pipeline lowers both functions.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_AUTODIFF_ADJOINT_H
#define PCE_PASSES_AUTODIFF_ADJOINT_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

namespace mlir::pce::adjoint {

/// What an op's training forward produced.
struct TrainingForward {
  /// Replace the op's results in `<f>_train`, one per result, same types.
  SmallVector<Value> results;
  /// Further values its adjoint needs (e.g. the convolution before batch
  /// norm); handed back to buildAdjoint as `saved`, in this order.
  SmallVector<Value> saved;
};

/// The distribution the caller draws a noise input from.
enum class Noise { Normal, Gumbel };

/// Services of the pass to the builders of one function.
class Context {
public:
  virtual ~Context() = default;
  /// Adds an argument of `type` to `<f>_train` that the caller fills with
  /// independent draws of `noise` (standard normal, or Gumbel(0, 1)); named
  /// `noise.<k>.normal` / `noise.<k>.gumbel`. Returns the argument.
  virtual Value addNoiseInput(Noise noise, RankedTensorType type) = 0;
  /// Adds `value` as a result of `<f>_train` named `name` (e.g. the batch
  /// statistics `batch.<running parameter name>`).
  virtual void addResult(StringRef name, Value value) = 0;
  /// The `pce.param` name of `original` when it is a parameter argument of
  /// the function being differentiated; empty otherwise.
  virtual StringRef parameterName(Value original) const = 0;
  /// The training-forward value standing for `original`, a value of the
  /// function being differentiated defined before the current op; null when
  /// there is none.
  virtual Value lookup(Value original) const = 0;
  /// Whether experts under a top-k router may convolve only the routed
  /// (patch, expert) pairs (the pass option `routed-convolutions`).
  virtual bool routedConvolutions() const = 0;
};

/// The hand-written training forward and adjoint of one op kind.
class OpAdjoint {
public:
  virtual ~OpAdjoint() = default;

  /// Builds `op`'s training forward at `b`'s insertion point from
  /// `operands`, the training values of op's operands (in op's operand
  /// order; `op` itself lives in the original function and is only read for
  /// its attributes and types). The default clones `op` onto `operands`: for
  /// ops whose training and inference semantics agree.
  virtual FailureOr<TrainingForward>
  buildTrainingForward(OpBuilder &b, Operation *op, ValueRange operands,
                       Context &ctx) const;

  /// Builds the gradients of `op`'s operands at `b`'s insertion point in
  /// `<f>_backward`. `operands`, `results` and `saved` are the training values
  /// (as built by buildTrainingForward) carried into `<f>_backward`;
  /// `resultGrads` has one entry per result, null where no gradient flows
  /// (read it as zero). Returns one entry per operand: its gradient, or null
  /// where none flows (running statistics, integer-like operands, or a
  /// gradient that is identically zero).
  virtual FailureOr<SmallVector<Value>>
  buildAdjoint(OpBuilder &b, Operation *op, ValueRange operands,
               ValueRange results, ValueRange saved,
               ValueRange resultGrads) const = 0;
};

/// The adjoint of `op`'s kind, or null when it has none.
const OpAdjoint *lookup(Operation *op);

// One per file (Adjoint<Family>.cpp).
const OpAdjoint &patchifyAdjoint();   // AdjointPatching.cpp
const OpAdjoint &unpatchifyAdjoint(); // AdjointPatching.cpp
const OpAdjoint &embedAdjoint();      // AdjointEmbed.cpp
const OpAdjoint &routeAdjoint();      // AdjointRoute.cpp
const OpAdjoint &expertsAdjoint();    // AdjointExperts.cpp
const OpAdjoint &mixAdjoint();        // AdjointMix.cpp
const OpAdjoint &attentionAdjoint();  // AdjointMix.cpp

/// Helpers for builders.
/// `a + b`, elementwise; either may be null (then the other is returned).
Value add(OpBuilder &b, Location loc, Value x, Value y);
/// A zero tensor of `type`.
Value zeros(OpBuilder &b, Location loc, RankedTensorType type);
/// `g` when non-null, else zeros of `type` (for result gradients that are
/// null but needed).
Value orZeros(OpBuilder &b, Location loc, Value g, Type type);

} // namespace mlir::pce::adjoint

#endif // PCE_PASSES_AUTODIFF_ADJOINT_H
