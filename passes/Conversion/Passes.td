//===- Passes.td - the conversion of pce ops to linalg -----------*- tablegen -*-===//

#ifndef PCE_PASSES_CONVERSION_PASSES_TD
#define PCE_PASSES_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToLinalg : Pass<"pce-lower-to-linalg"> {
  let summary = "Lower pce ops to linalg, tensor, arith and math (inference semantics)";
  let description = [{
    Rewrites every primitive pce op into upstream ops on tensors, computing
    docs/SEMANTICS.md with inference semantics: experts use running BN
    statistics, routers draw no noise (`position` is `softmax(beta*onehot)`,
    `gumbel` is `softmax(cos/tau)`). `pce.layer` must be decomposed first
    (`pce-decompose-layer`); a pce op that is left over is an error naming it.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // PCE_PASSES_CONVERSION_PASSES_TD
