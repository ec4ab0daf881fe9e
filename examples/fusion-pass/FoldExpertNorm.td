//===- FoldExpertNorm.td - the tutorial's example pass -----*- tablegen -*-===//
//
// docs/Tutorial-FusionPass.md walks through this file and FoldExpertNorm.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_EXAMPLE_FOLDEXPERTNORM_TD
#define PCE_EXAMPLE_FOLDEXPERTNORM_TD

include "mlir/Pass/PassBase.td"

def FoldExpertNorm : Pass<"pce-example-fold-expert-norm"> {
  let summary = "Fuse constant batch-norm statistics into the experts' affine form";
  let description = [{
    For inference the four batch-norm tensors of `pce.experts`
    (`bn(gamma, beta, mean, var)`) reduce to one scale and one shift per
    expert and channel: `scale = gamma / sqrt(var + eps)`,
    `shift = beta - mean * scale`. When all four are constants, this pass
    computes them at compile time and rewrites the op to
    `affine(scale, shift)`, so the compiled code does two fewer loads and no
    square root per output. Experts whose statistics are not constants are
    left alone; a constant variance with `var + eps <= 0` gets a warning and
    is left alone too.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // PCE_EXAMPLE_FOLDEXPERTNORM_TD
