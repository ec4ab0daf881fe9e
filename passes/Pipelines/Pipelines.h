//===- Pipelines.h - the named pce pipelines --------------------*- C++ -*-===//
//
// Each pipeline has one options struct, used by C++ callers (pce-compile's
// library, pce-bench) and by the command-line registration alike; the
// pipelines are built with addPass/addNestedPass, so nothing is parsed.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_PIPELINES_PIPELINES_H
#define PCE_PASSES_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::pce {

/// Options of `--pce-cpu-pipeline`: every optimisation on by default, each
/// switchable by name (`--pce-cpu-pipeline="vectorize-convolutions=false"`).
struct CpuPipelineOptions : public PassPipelineOptions<CpuPipelineOptions> {
  Option<bool> sparseDispatch{
      *this, "sparse-dispatch",
      llvm::cl::desc("Compute only the routed experts of top-k routers "
                     "(pce-sparse-dispatch)"),
      llvm::cl::init(true)};
  Option<bool> foldBatchNorm{
      *this, "fold-batch-norm",
      llvm::cl::desc("Fold the experts' batch norm into their kernels "
                     "(pce-fold-batch-norm)"),
      llvm::cl::init(true)};
  Option<bool> fusePatches{
      *this, "fuse-patches",
      llvm::cl::desc("Expert convolutions read the feature map, not patches "
                     "(pce-fuse-patches)"),
      llvm::cl::init(true)};
  Option<bool> fuseExpertsMix{
      *this, "fuse-experts-mix",
      llvm::cl::desc("A dense router's mix in the experts' epilogue "
                     "(pce-fuse-experts-mix)"),
      llvm::cl::init(true)};
  Option<bool> vectorizeConvolutions{
      *this, "vectorize-convolutions",
      llvm::cl::desc("Register-blocked vector kernels for NCHW convolutions "
                     "(pce-vectorize-convolutions)"),
      llvm::cl::init(true)};
  Option<bool> vectorizeGenerics{
      *this, "vectorize-generics",
      llvm::cl::desc("Elementwise and reduction generics as row vectors "
                     "(pce-vectorize-generics)"),
      llvm::cl::init(true)};
  /// Off by default, unlike the pass's own option: it changes the training
  /// sums' order (docs/Rationale.md, "CPU code generation").
  Option<bool> splitReductions{
      *this, "split-reductions",
      llvm::cl::desc("Split sums along the inputs' contiguous dimension in "
                     "pce-vectorize-generics (another summation order)"),
      llvm::cl::init(false)};
  Option<bool> transposeInputs{
      *this, "transpose-inputs",
      llvm::cl::desc("Reductions that read their result row across an input's "
                     "innermost dimension read a transposed copy "
                     "(pce-vectorize-generics; same summation order)"),
      llvm::cl::init(true)};
  Option<bool> parallelLoops{
      *this, "parallel-loops",
      llvm::cl::desc("Run parallel loops on the runtime's threads "
                     "(pce-outline-parallel-loops)"),
      llvm::cl::init(true)};
  Option<bool> vectorize{
      *this, "vectorize",
      llvm::cl::desc("All vectorization; false gives the scalar loops of "
                     "convert-linalg-to-loops only"),
      llvm::cl::init(true)};
};

/// Options of `--pce-gpu-pipeline` (docs/GPU.md).
struct GpuPipelineOptions : public PassPipelineOptions<GpuPipelineOptions> {
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("Threads per block (tile size)"),
                            llvm::cl::init(256)};
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("Target GPU (cubin-chip)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX features (cubin-features)"),
                               llvm::cl::init("+ptx80")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu.binary contents: isa (PTX text), bin (cubin, "
                     "needs ptxas), fatbin, llvm, offloading"),
      llvm::cl::init("isa")};
  Option<bool> emulateOnCpu{
      *this, "emulate-on-cpu",
      llvm::cl::desc("Debugging: stop before GPU mapping and lower the "
                     "collapsed, tiled loops for the CPU (as the CPU "
                     "pipeline's last step), to run and compare there"),
      llvm::cl::init(false)};
};

/// `pce.layer` into primitive ops, then canonicalization: the start of both
/// pipelines.
void buildDecompositionPipeline(OpPassManager &pm);

/// From primitive pce ops (on tensors, after buildDecompositionPipeline) to
/// the LLVM dialect for the CPU, with a C interface on every public function
/// and function results turned into caller-provided output buffers.
void buildCpuLoweringPipeline(OpPassManager &pm,
                              const CpuPipelineOptions &options);

/// `--pce-cpu-pipeline`: decomposition, then the CPU lowering.
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options);

/// Checks options a pipeline cannot be built with (a block size <= 0).
LogicalResult verifyGpuPipelineOptions(const GpuPipelineOptions &options,
                                       std::string &message);

/// From primitive pce ops to NVVM kernels in a gpu.binary and host code in
/// the LLVM dialect that launches them (or, with emulate-on-cpu, the kernels'
/// loops lowered for the CPU). Options must pass verifyGpuPipelineOptions.
void buildGpuLoweringPipeline(OpPassManager &pm,
                              const GpuPipelineOptions &options);

/// `--pce-gpu-pipeline`: decomposition, then the GPU lowering.
void buildGpuPipeline(OpPassManager &pm, const GpuPipelineOptions &options);

/// Registers `--pce-cpu-pipeline` and `--pce-gpu-pipeline`.
void registerPipelines();

} // namespace mlir::pce

#endif // PCE_PASSES_PIPELINES_PIPELINES_H
