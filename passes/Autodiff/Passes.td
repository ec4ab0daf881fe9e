//===- Passes.td ---------------------------------------*- tablegen -*-===//
//
// reverse-mode differentiation of pce functions.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_AUTODIFF_PASSES_TD
#define PCE_PASSES_AUTODIFF_PASSES_TD

include "mlir/Pass/PassBase.td"

def GenerateBackward : Pass<"pce-generate-backward", "::mlir::ModuleOp"> {
  let summary = "Build the training forward and the backward of differentiable functions";
  let description = [{
    For every function marked `pce.differentiable` (after
    `pce-decompose-layer`), adds

    ```
    @<f>_train(args..., noise.<k>.normal|gumbel...)
        -> (results..., batch.<running statistic>..., saved.<k>...)
    @<f>_backward(args..., saved.<k>..., grad.<result>...) -> (grad.<arg>...)
    ```

    `<f>_train` computes the training semantics of docs/SEMANTICS.md:
    batch-statistic batch norm per expert over the patches routed to it,
    with the batch mean and unbiased variance returned as
    `batch.<running_mean/var parameter>` (the running value where no patch
    chose the expert, so `running = (1 - m) running + m batch` is always
    right); position-router and Gumbel noise read from `noise.*` inputs
    that the caller draws, so runs are reproducible; Gumbel `hard` as a
    straight-through one-hot.

    The contract of saved activations: `<f>_train` returns as `saved.<k>`
    every value that an op's adjoint reads and that is not an argument of
    `<f>`, and `<f>_backward` takes them back under the same names.
    `<f>_backward` takes one gradient per result of `<f>` (`grad.<name>`) and
    returns the gradient of every argument that receives one (`grad.<name>`);
    arguments that receive none (running statistics) have no result.

    The pass dispatches on `AdjointOpInterface` (dialect/PCEInterfaces.td),
    which the pce ops implement as external models written by hand
    (`passes/Autodiff/Adjoint*.cpp`) and which the pass registers with
    itself; an op without it is an error naming it. The original function is
    left alone.

    Under a top-k router whose mix is the only reader of the experts, the
    experts' convolution and its adjoints run on the routed (patch, expert)
    pairs only (`passes/Builders/RoutedConvolution.cpp`); `routed-convolutions=false`
    computes every pair, for comparison and debugging.
  }];
  let options = [
    Option<"routedConvolutions", "routed-convolutions", "bool",
           /*default=*/"true",
           "Convolve only the routed (patch, expert) pairs under a top-k router">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", // the routed convolutions' loops
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // PCE_PASSES_AUTODIFF_PASSES_TD
