//===- PCEInterfaces.td - op interfaces of the pce dialect --*- tablegen -*-===//
//
// The dialect declares the interfaces; passes implement them for its ops as
// external models (the dialect never depends on passes/).
//
//===----------------------------------------------------------------------===//

#ifndef PCE_INTERFACES_TD
#define PCE_INTERFACES_TD

include "mlir/IR/OpBase.td"

def PCE_AdjointOpInterface : OpInterface<"AdjointOpInterface"> {
  let cppNamespace = "::mlir::pce";
  let description = [{
    An op that `pce-generate-backward` can differentiate: it builds the op's
    training forward in `<f>_train` and, in reverse program order, the
    gradients of its operands in `<f>_backward` (docs/Training.md).

    The pce ops implement it as external models
    (`passes/Autodiff/Adjoint<Family>.cpp`), attached by
    `mlir::pce::registerAdjointInterfaceExternalModels`, which the pass
    registers as a dependent; an op without it inside a differentiable
    function is an error naming the op.
  }];

  let methods = [
    InterfaceMethod<[{
        Builds the op's training forward at `b`'s insertion point from
        `operands`, the training values of the op's operands (in operand
        order; the op itself lives in the original function and is only read
        for its attributes and types). Returns one value per result and the
        further values the adjoint needs (`saved`). The default clones the op
        onto `operands`: for ops whose training and inference semantics
        agree.
      }],
      "::mlir::FailureOr<::mlir::pce::TrainingForward>", "buildTrainingForward",
      (ins "::mlir::OpBuilder &":$b, "::mlir::ValueRange":$operands,
           "::mlir::pce::AdjointContext &":$context),
      /*methodBody=*/"",
      /*defaultImplementation=*/[{
        return ::mlir::pce::cloneForTraining(b, $_op, operands);
      }]>,
    InterfaceMethod<[{
        Builds the gradients of the op's operands at `b`'s insertion point in
        `<f>_backward`. `operands`, `results` and `saved` are the training
        values (as built by buildTrainingForward) carried into
        `<f>_backward`; `resultGrads` has one entry per result, null where no
        gradient flows (read it as zero). Returns one entry per operand: its
        gradient, or null where none flows (running statistics, integer-like
        operands, or a gradient that is identically zero).
      }],
      "::mlir::FailureOr<::llvm::SmallVector<::mlir::Value>>", "buildAdjoint",
      (ins "::mlir::OpBuilder &":$b, "::mlir::ValueRange":$operands,
           "::mlir::ValueRange":$results, "::mlir::ValueRange":$saved,
           "::mlir::ValueRange":$resultGrads)>
  ];
}

#endif // PCE_INTERFACES_TD
