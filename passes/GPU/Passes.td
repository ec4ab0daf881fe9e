//===- Passes.td - GPU code generation (docs/GPU.md) -------------*- tablegen -*-===//

#ifndef PCE_PASSES_GPU_PASSES_TD
#define PCE_PASSES_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

// GPU code generation (docs/GPU.md).
def GpuCollapseParallelLoops
    : Pass<"pce-gpu-collapse-parallel-loops", "::mlir::func::FuncOp"> {
  let summary = "Collapse every outermost scf.parallel into one dimension for GPU mapping";
  let description = [{
    `gpu-map-parallel-loops` maps the first three dimensions of a loop nest
    to x, y, z and runs the rest sequentially, whatever their extents. PCE's
    loops have up to six parallel dimensions with the long, contiguous ones
    last, so this pass first collapses every outermost `scf.parallel` into a
    single dimension (row-major, the innermost dimension fastest). Tiling that
    loop by N (`scf-parallel-loop-tiling{parallel-loop-tile-sizes=N}`) then
    gives blocks of N threads, and consecutive threads touch consecutive
    elements of the output.

    The pass also makes the LLVM IR translations of the builtin, LLVM, GPU
    and NVVM dialects available to the context, which `gpu-module-to-binary`
    needs later in `--pce-gpu-pipeline` (pce-opt does not register them).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::scf::SCFDialect"
  ];
}

#endif // PCE_PASSES_GPU_PASSES_TD
