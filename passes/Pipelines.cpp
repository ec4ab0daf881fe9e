//===- Pipelines.cpp - the named pce pipelines ----------------------------===//

#include "passes/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

// The pipeline as text: upstream passes are referred to by their stable
// command-line names, exactly as `pce-opt` users would write them.
static const char kDecompose[] =
    // pce -> primitive pce ops.
    "pce-decompose-layer,"
    "canonicalize";

// Fusions on pce ops, each optional (docs/Rationale.md, "Fusions"): batch
// norm into the kernels; top-k routers compute only the routed experts
// (docs/BENCHMARKS.md, "Sparse dispatch"); the other experts convolve the
// feature map instead of patches, and dense mixes happen in their epilogue.
static const char kFoldBatchNorm[] = "pce-fold-batch-norm";
static const char kSparseDispatch[] = "pce-sparse-dispatch";
static const char kFusePatches[] = "pce-fuse-patches";
static const char kFuseExpertsMix[] = "pce-fuse-experts-mix";

static const char kToBuffers[] =
    // pce -> linalg on tensors.
    "pce-lower-to-linalg,"
    "pce-prepare-entry-points,"
    "func.func(convert-elementwise-to-linalg),"
    "canonicalize,cse,"
    // Tensors -> buffers. Function boundaries get identity layouts so the
    // runtime passes plain contiguous descriptors; results become out-params
    // that the caller allocates (copied into: `hoist-static-allocs` crashes
    // upstream when one value is returned twice, as a router's weights can
    // be); every temporary buffer is freed.
    "eliminate-empty-tensors,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "buffer-results-to-out-params{modify-public-functions},"
    "buffer-deallocation-pipeline,"
    "pce-lower-strided-copies";

// Code generation on buffers (docs/Rationale.md, "CPU code generation"):
// convolutions become register-blocked vector kernels, what is left of linalg
// becomes loops, vector ops become LLVM vector ops.
static const char kVectorizeConvolutions[] = "pce-vectorize-convolutions";
static const char kVectorizeGenerics[] = "pce-vectorize-generics";

// The linalg ops left are lowered to scf.parallel over their parallel
// dimensions (scf.for over reductions), which pce-outline-parallel-loops
// hands to the runtime's threads when they are worth it, or scf-to-cf runs
// in order.
static const char kToLoops[] =
    "func.func(convert-linalg-to-parallel-loops),"
    "convert-vector-to-scf";

static const char kOutlineParallelLoops[] = "pce-outline-parallel-loops";

static const char kToLLVM[] =
    // Loops -> LLVM. Stack buffers move to the entry of the function they are
    // in, which is a parallel loop's own function once it is outlined.
    "func.func(pce-hoist-static-allocas),"
    "convert-scf-to-cf,"
    "expand-strided-metadata,"
    "lower-affine,"
    "finalize-memref-to-llvm,"
    "convert-math-to-llvm,"
    "convert-vector-to-llvm,"
    "convert-to-llvm,"
    "reconcile-unrealized-casts,"
    "canonicalize";

std::string pce::cpuPipelineText(const CpuPipelineOptions &options) {
  std::string text = std::string(kDecompose) + ",";
  if (options.foldBatchNorm)
    text += std::string(kFoldBatchNorm) + ",";
  if (options.sparseDispatch)
    text += std::string(kSparseDispatch) +
            (options.fusePatches ? "," : "{read-image=false},");
  if (options.fusePatches)
    text += std::string(kFusePatches) + ",";
  if (options.fuseExpertsMix)
    text += std::string(kFuseExpertsMix) + ",";
  text += kToBuffers;
  std::string codegen;
  if (options.vectorizeConvolutions)
    codegen += std::string(kVectorizeConvolutions) + ",";
  if (options.vectorizeGenerics)
    codegen += std::string(kVectorizeGenerics) + "{split-reductions=" +
               (options.splitReductions ? "true" : "false") +
               " transpose-inputs=" + (options.transposeInputs ? "true" : "false") + "},";
  if (!codegen.empty())
    text += ",func.func(" + codegen + "canonicalize,cse)";
  text += std::string(",") + kToLoops;
  if (options.parallelLoops)
    text += std::string(",") + kOutlineParallelLoops;
  text += std::string(",") + kToLLVM;
  return text;
}

LogicalResult pce::buildCpuPipeline(OpPassManager &pm) {
  return buildCpuPipelineWithOptions(pm, CpuPipelineOptions());
}

LogicalResult
pce::buildCpuPipelineWithOptions(OpPassManager &pm,
                                 const CpuPipelineOptions &options) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(cpuPipelineText(options), pm, os))) {
    llvm::errs() << "pce-cpu-pipeline: " << errors << "\n";
    return failure();
  }
  return success();
}

namespace {
/// `--pce-cpu-pipeline="sparse-dispatch=false vectorize-convolutions=false ..."`.
struct CpuPipelineCLOptions : PassPipelineOptions<CpuPipelineCLOptions> {
  PassOptions::Option<bool> sparseDispatch{
      *this, "sparse-dispatch",
      llvm::cl::desc("Compute only the routed experts of top-k routers "
                     "(pce-sparse-dispatch)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> foldBatchNorm{
      *this, "fold-batch-norm",
      llvm::cl::desc("Fold the experts' batch norm into their kernels "
                     "(pce-fold-batch-norm)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fusePatches{
      *this, "fuse-patches",
      llvm::cl::desc("Expert convolutions read the feature map, not patches "
                     "(pce-fuse-patches)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseExpertsMix{
      *this, "fuse-experts-mix",
      llvm::cl::desc("A dense router's mix in the experts' epilogue "
                     "(pce-fuse-experts-mix)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> vectorizeConvolutions{
      *this, "vectorize-convolutions",
      llvm::cl::desc("Register-blocked vector kernels for NCHW convolutions "
                     "(pce-vectorize-convolutions)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> transposeInputs{
      *this, "transpose-inputs",
      llvm::cl::desc("Reductions that read their result row across an input's "
                     "innermost dimension read a transposed copy "
                     "(pce-vectorize-generics; same summation order)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> splitReductions{
      *this, "split-reductions",
      llvm::cl::desc("Split sums along the inputs' contiguous dimension in "
                     "pce-vectorize-generics (another summation order)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> vectorizeGenerics{
      *this, "vectorize-generics",
      llvm::cl::desc("Elementwise and reduction generics as row vectors "
                     "(pce-vectorize-generics)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> parallelLoops{
      *this, "parallel-loops",
      llvm::cl::desc("Run parallel loops on the runtime's threads "
                     "(pce-outline-parallel-loops)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> vectorize{
      *this, "vectorize",
      llvm::cl::desc("All vectorization; false gives the scalar loops of "
                     "convert-linalg-to-loops only"),
      llvm::cl::init(true)};
};
} // namespace

void pce::registerPipelines() {
  PassPipelineRegistration<CpuPipelineCLOptions>(
      "pce-cpu-pipeline",
      "Compile a pce model to the LLVM dialect for the CPU: decompose, lower "
      "to linalg, bufferize, vectorize, lower to loops and LLVM, with C "
      "interfaces",
      [](OpPassManager &pm, const CpuPipelineCLOptions &cl) {
        CpuPipelineOptions options;
        options.sparseDispatch = cl.sparseDispatch;
        options.foldBatchNorm = cl.foldBatchNorm;
        options.fusePatches = cl.fusePatches;
        options.fuseExpertsMix = cl.fuseExpertsMix;
        options.vectorizeConvolutions = cl.vectorize && cl.vectorizeConvolutions;
        options.vectorizeGenerics = cl.vectorize && cl.vectorizeGenerics;
        options.splitReductions = cl.splitReductions;
        options.transposeInputs = cl.transposeInputs;
        options.parallelLoops = cl.parallelLoops;
        if (failed(buildCpuPipelineWithOptions(pm, options)))
          llvm::report_fatal_error("pce-cpu-pipeline does not parse");
      });
  registerGpuPipeline();
}

//===----------------------------------------------------------------------===//
// GPU pipeline (docs/GPU.md): a self-contained block; shares only
// kDecompose and kToBuffers.
//===----------------------------------------------------------------------===//

std::string pce::gpuPipelineText(const GpuPipelineOptions &options) {
  // Dense experts (no pce-sparse-dispatch: its data-dependent dispatch is
  // not mapped to the GPU yet).
  std::string text = std::string(kDecompose) + "," + kToBuffers;
  // Buffers -> parallel loops -> one launch per loop nest: every outermost
  // loop is collapsed to one dimension and tiled by the block size; tiles
  // become blocks, the points of a tile threads (a guard handles the tail).
  text += ",func.func(convert-linalg-to-parallel-loops,"
          "pce-gpu-collapse-parallel-loops,"
          "scf-parallel-loop-tiling{parallel-loop-tile-sizes=" +
          std::to_string(options.blockSize) + " no-min-max-bounds=true}";
  // Debugging: the same tiled loops, run sequentially on the CPU.
  if (options.emulateOnCpu)
    return text + ")," + kToLoops + "," + kToLLVM;
  text += ",gpu-map-parallel-loops,"
          "convert-parallel-loops-to-gpu),"
          "canonicalize,cse,"
          "gpu-kernel-outlining,"
          // convert-gpu-to-nvvm leaves scf.for alone inside kernels.
          "gpu.module(convert-scf-to-cf)";
  // Kernels -> NVVM -> a gpu.binary (PTX for format=isa); host -> LLVM.
  text += ",gpu-lower-to-nvvm-pipeline{cubin-chip=" + options.chip +
          " cubin-features=" + options.features +
          " cubin-format=" + options.format + "}";
  return text;
}

LogicalResult pce::buildGpuPipeline(OpPassManager &pm,
                                    const GpuPipelineOptions &options) {
  if (options.blockSize <= 0) {
    llvm::errs() << "pce-gpu-pipeline: block-size must be positive, not "
                 << options.blockSize << "\n";
    return failure();
  }
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(gpuPipelineText(options), pm, os))) {
    llvm::errs() << "pce-gpu-pipeline: " << errors << "\n";
    return failure();
  }
  return success();
}

namespace {
/// Fails at once with `message`, an error on the module.
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

/// `--pce-gpu-pipeline="block-size=128 chip=sm_90 format=isa"`.
struct GpuPipelineCLOptions : PassPipelineOptions<GpuPipelineCLOptions> {
  PassOptions::Option<int64_t> blockSize{
      *this, "block-size", llvm::cl::desc("Threads per block (tile size)"),
      llvm::cl::init(256)};
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("Target GPU (cubin-chip)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features (cubin-features)"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<bool> emulateOnCpu{
      *this, "emulate-on-cpu",
      llvm::cl::desc("Debugging: stop before GPU mapping and lower the "
                     "collapsed, tiled loops for the CPU (as the CPU "
                     "pipeline's last step), to run and compare there"),
      llvm::cl::init(false)};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu.binary contents: isa (PTX text), bin (cubin, "
                     "needs ptxas), fatbin, llvm, offloading"),
      llvm::cl::init("isa")};
};
} // namespace

void pce::registerGpuPipeline() {
  PassPipelineRegistration<GpuPipelineCLOptions>(
      "pce-gpu-pipeline",
      "Compile a pce model for an NVIDIA GPU: decompose, lower to linalg, "
      "bufferize, parallel loops, one kernel per loop nest, NVVM, and a "
      "gpu.binary (PTX by default) for sm_90",
      [](OpPassManager &pm, const GpuPipelineCLOptions &cl) {
        GpuPipelineOptions options;
        options.blockSize = cl.blockSize;
        options.chip = cl.chip;
        options.features = cl.features;
        options.format = cl.format;
        options.emulateOnCpu = cl.emulateOnCpu;
        // A registered pipeline cannot fail while it is built: bad options
        // become a pass that reports them on the module.
        if (options.blockSize <= 0) {
          pm.addPass(std::make_unique<RejectOptionsPass>(
              "pce-gpu-pipeline: block-size must be positive, not " +
              std::to_string(options.blockSize)));
          return;
        }
        if (failed(buildGpuPipeline(pm, options)))
          llvm::report_fatal_error("pce-gpu-pipeline does not parse");
      });
}
