//===- Pipelines.cpp - the named pce pipelines ----------------------------===//

#include "passes/Pipelines/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Pipelines/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void pce::buildDecompositionPipeline(OpPassManager &pm) {
  pm.addPass(createDecomposeLayer());
  pm.addPass(createCanonicalizerPass());
}

/// pce -> linalg on tensors -> buffers. Function boundaries get identity
/// layouts so the runtime passes plain contiguous descriptors; results become
/// out-params that the caller allocates (copied into: `hoist-static-allocs`
/// crashes upstream when one value is returned twice, as a router's weights
/// can be); every temporary buffer is freed.
static void addToBuffers(OpPassManager &pm) {
  pm.addPass(pce::createLowerToLinalg());
  pm.addPass(pce::createPrepareEntryPoints());
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(pce::createLowerStridedCopies());
}

/// The linalg ops left become scf.parallel over their parallel dimensions
/// (scf.for over reductions).
static void addToLoops(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createConvertVectorToSCFPass());
}

/// Loops -> LLVM. Stack buffers move to the entry of the function they are
/// in, which is a parallel loop's own function once it is outlined.
static void addToLLVM(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(pce::createHoistStaticAllocas());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void pce::buildCpuLoweringPipeline(OpPassManager &pm,
                                   const CpuPipelineOptions &options) {
  // Fusions on pce ops, each optional (docs/Rationale.md, "Fusions"): batch
  // norm into the kernels; top-k routers compute only the routed experts;
  // the other experts convolve the feature map instead of patches, and dense
  // mixes happen in their epilogue.
  if (options.foldBatchNorm)
    pm.addPass(createFoldBatchNorm());
  if (options.sparseDispatch) {
    SparseDispatchOptions dispatch;
    dispatch.readImage = options.fusePatches;
    pm.addPass(createSparseDispatch(dispatch));
  }
  if (options.fusePatches)
    pm.addPass(createFusePatches());
  if (options.fuseExpertsMix)
    pm.addPass(createFuseExpertsMix());
  addToBuffers(pm);

  // Code generation on buffers (docs/Rationale.md, "CPU code generation"):
  // convolutions become register-blocked vector kernels, elementwise and
  // reduction generics vector rows.
  bool convolutions = options.vectorize && options.vectorizeConvolutions;
  bool generics = options.vectorize && options.vectorizeGenerics;
  if (convolutions || generics) {
    OpPassManager &funcPm = pm.nest<func::FuncOp>();
    if (convolutions)
      funcPm.addPass(createVectorizeConvolutions());
    if (generics) {
      VectorizeGenericsOptions vectorizeGenerics;
      vectorizeGenerics.splitReductions = options.splitReductions;
      vectorizeGenerics.transposeInputs = options.transposeInputs;
      funcPm.addPass(createVectorizeGenerics(vectorizeGenerics));
    }
    funcPm.addPass(createCanonicalizerPass());
    funcPm.addPass(createCSEPass());
  }
  addToLoops(pm);
  // Parallel loops worth it run on the runtime's threads; the rest (and all
  // of them without this pass) run in order after scf-to-cf.
  if (options.parallelLoops)
    pm.addPass(createOutlineParallelLoops());
  addToLLVM(pm);
}

void pce::buildCpuPipeline(OpPassManager &pm,
                           const CpuPipelineOptions &options) {
  buildDecompositionPipeline(pm);
  buildCpuLoweringPipeline(pm, options);
}

LogicalResult pce::verifyGpuPipelineOptions(const GpuPipelineOptions &options,
                                            std::string &message) {
  if (options.blockSize <= 0) {
    message = "pce-gpu-pipeline: block-size must be positive, not " +
              std::to_string(options.blockSize);
    return failure();
  }
  return success();
}

void pce::buildGpuLoweringPipeline(OpPassManager &pm,
                                   const GpuPipelineOptions &options) {
  // Dense experts (no pce-sparse-dispatch: its data-dependent dispatch is
  // not mapped to the GPU yet).
  addToBuffers(pm);
  // Buffers -> parallel loops -> one launch per loop nest: every outermost
  // loop is collapsed to one dimension and tiled by the block size; tiles
  // become blocks, the points of a tile threads (a guard handles the tail).
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  funcPm.addPass(createConvertLinalgToParallelLoopsPass());
  funcPm.addPass(createGpuCollapseParallelLoops());
  funcPm.addPass(createParallelLoopTilingPass({options.blockSize},
                                              /*noMinMaxBounds=*/true));
  // Debugging: the same tiled loops, run sequentially on the CPU.
  if (options.emulateOnCpu) {
    addToLoops(pm);
    addToLLVM(pm);
    return;
  }
  funcPm.addPass(createGpuMapParallelLoopsPass());
  funcPm.addPass(createConvertParallelLoopToGpuPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createGpuKernelOutliningPass());
  // convert-gpu-to-nvvm leaves scf.for alone inside kernels.
  pm.addNestedPass<gpu::GPUModuleOp>(createSCFToControlFlowPass());
  // Kernels -> NVVM -> a gpu.binary (PTX for format=isa); host -> LLVM.
  gpu::GPUToNVVMPipelineOptions nvvm;
  nvvm.cubinChip = options.chip;
  nvvm.cubinFeatures = options.features;
  nvvm.cubinFormat = options.format;
  gpu::buildLowerToNVVMPassPipeline(pm, nvvm);
}

void pce::buildGpuPipeline(OpPassManager &pm,
                           const GpuPipelineOptions &options) {
  buildDecompositionPipeline(pm);
  buildGpuLoweringPipeline(pm, options);
}

namespace {
/// Fails at once with `message`, an error on the module: how a registered
/// pipeline reports options it cannot be built with.
struct RejectOptionsPass
    : public PassWrapper<RejectOptionsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RejectOptionsPass)
  explicit RejectOptionsPass(std::string message) : message(std::move(message)) {}
  StringRef getArgument() const override { return "pce-reject-pipeline-options"; }
  void runOnOperation() override {
    mlir::emitError(getOperation().getLoc(), message);
    signalPassFailure();
  }
  std::string message;
};
} // namespace

void pce::registerPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "pce-cpu-pipeline",
      "Compile a pce model to the LLVM dialect for the CPU: decompose, lower "
      "to linalg, bufferize, vectorize, lower to loops and LLVM, with C "
      "interfaces",
      buildCpuPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "pce-gpu-pipeline",
      "Compile a pce model for an NVIDIA GPU: decompose, lower to linalg, "
      "bufferize, parallel loops, one kernel per loop nest, NVVM, and a "
      "gpu.binary (PTX by default) for sm_90",
      [](OpPassManager &pm, const GpuPipelineOptions &options) {
        std::string message;
        if (failed(verifyGpuPipelineOptions(options, message))) {
          pm.addPass(std::make_unique<RejectOptionsPass>(message));
          return;
        }
        buildGpuPipeline(pm, options);
      });
}
