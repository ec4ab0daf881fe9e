//===- PCEInterfaces.h - op interfaces of the pce dialect -------*- C++ -*-===//
//
// AdjointOpInterface (PCEInterfaces.td) and the types its methods use: what a
// training forward produces and the services `pce-generate-backward` offers
// the builders of one function.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_DIALECT_PCEINTERFACES_H
#define PCE_DIALECT_PCEINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Support/LLVM.h"

namespace mlir::pce {

/// What an op's training forward produced.
struct TrainingForward {
  /// Replace the op's results in `<f>_train`, one per result, same types.
  SmallVector<Value> results;
  /// Further values its adjoint needs (e.g. the convolution before batch
  /// norm); handed back to buildAdjoint as `saved`, in this order.
  SmallVector<Value> saved;
};

/// The distribution the caller draws a noise input from.
enum class TrainingNoise { Normal, Gumbel };

/// Services of `pce-generate-backward` to the builders of one function.
class AdjointContext {
public:
  virtual ~AdjointContext() = default;
  /// Adds an argument of `type` to `<f>_train` that the caller fills with
  /// independent draws of `noise` (standard normal, or Gumbel(0, 1)); named
  /// `noise.<k>.normal` / `noise.<k>.gumbel`. Returns the argument.
  virtual Value addNoiseInput(TrainingNoise noise, RankedTensorType type) = 0;
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

/// The default training forward: `op` cloned onto `operands`.
FailureOr<TrainingForward> cloneForTraining(OpBuilder &b, Operation *op,
                                            ValueRange operands);

} // namespace mlir::pce

#include "dialect/PCEInterfaces.h.inc"

#endif // PCE_DIALECT_PCEINTERFACES_H
