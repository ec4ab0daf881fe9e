//===- Pipelines.h - the named pce pipelines --------------------*- C++ -*-===//

#ifndef PCE_PASSES_PIPELINES_H
#define PCE_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir::pce {

/// Which code generation steps `buildCpuPipeline` runs; all on by default.
/// Each can be switched off for debugging or comparison, on the command line
/// as `--pce-cpu-pipeline="vectorize-convolutions=false"` (or
/// `vectorize=false` for all of them).
struct CpuPipelineOptions {
  /// pce-sparse-dispatch: a top-k router's mix computes only the routed
  /// experts of each patch.
  bool sparseDispatch = true;
  /// pce-fold-batch-norm: the experts' batch norm scales their kernels.
  bool foldBatchNorm = true;
  /// pce-fuse-patches: expert convolutions read the feature map.
  bool fusePatches = true;
  /// pce-fuse-experts-mix: a dense router's mix in the experts' epilogue.
  bool fuseExpertsMix = true;
  /// pce-vectorize-convolutions: register-blocked NCHW convolutions.
  bool vectorizeConvolutions = true;
  /// pce-vectorize-generics: elementwise and reduction generics by rows.
  bool vectorizeGenerics = true;
  /// pce-vectorize-generics' split-reductions: faster weight gradients, but
  /// a different summation order than the loops (docs/Rationale.md), so off.
  bool splitReductions = false;
  /// pce-vectorize-generics' transpose-inputs (the same summation order).
  bool transposeInputs = true;
  /// pce-outline-parallel-loops: parallel loops run on the runtime's threads.
  bool parallelLoops = true;
};

/// From a model in the pce dialect (on tensors) to the LLVM dialect, with a
/// C interface on every public function and function results turned into
/// caller-provided output buffers. With default options (what pce-compile
/// runs) and with given ones.
LogicalResult buildCpuPipeline(OpPassManager &pm);
LogicalResult buildCpuPipelineWithOptions(OpPassManager &pm,
                                          const CpuPipelineOptions &options);

/// The pass pipeline `buildCpuPipeline` parses (without `builtin.module()`).
std::string cpuPipelineText(const CpuPipelineOptions &options = {});

/// Registers `--pce-cpu-pipeline`.
void registerPipelines();

/// GPU pipeline (docs/GPU.md): what `--pce-gpu-pipeline` runs.
struct GpuPipelineOptions {
  /// Threads per block: the tile size of the collapsed parallel loops.
  int64_t blockSize = 256;
  /// gpu-lower-to-nvvm-pipeline's cubin-chip / cubin-features / cubin-format.
  std::string chip = "sm_90";
  std::string features = "+ptx80";
  std::string format = "isa";
  /// Debugging: stop before GPU mapping and lower the collapsed, tiled loops
  /// for the CPU instead (the kernels' loop structure, run sequentially).
  bool emulateOnCpu = false;
};

/// From a model in the pce dialect to NVVM kernels in a gpu.binary and host
/// code in the LLVM dialect that launches them.
LogicalResult buildGpuPipeline(OpPassManager &pm,
                               const GpuPipelineOptions &options = {});

/// The pass pipeline `buildGpuPipeline` parses (without `builtin.module()`).
std::string gpuPipelineText(const GpuPipelineOptions &options = {});

/// Registers `--pce-gpu-pipeline` (called by registerPipelines).
void registerGpuPipeline();

} // namespace mlir::pce

#endif // PCE_PASSES_PIPELINES_H
