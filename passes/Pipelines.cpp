//===- Pipelines.cpp - the named pce pipelines ----------------------------===//

#include "passes/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

// The pipeline as text: upstream passes are referred to by their stable
// command-line names, exactly as `pce-opt` users would write them.
static const char kToBuffers[] =
    // pce -> linalg on tensors.
    "pce-decompose-layer,"
    "canonicalize,"
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

static const char kToLLVM[] =
    // Loops -> LLVM.
    "func.func(convert-linalg-to-loops),"
    "convert-vector-to-scf,"
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
  std::string text = kToBuffers;
  std::string codegen;
  if (options.vectorizeConvolutions)
    codegen += std::string(kVectorizeConvolutions) + ",";
  if (options.vectorizeGenerics)
    codegen += std::string(kVectorizeGenerics) + ",";
  if (!codegen.empty())
    text += ",func.func(" + codegen + "canonicalize,cse)";
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
/// `--pce-cpu-pipeline="vectorize-convolutions=false ..."`.
struct CpuPipelineCLOptions : PassPipelineOptions<CpuPipelineCLOptions> {
  PassOptions::Option<bool> vectorizeConvolutions{
      *this, "vectorize-convolutions",
      llvm::cl::desc("Register-blocked vector kernels for NCHW convolutions "
                     "(pce-vectorize-convolutions)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> vectorizeGenerics{
      *this, "vectorize-generics",
      llvm::cl::desc("Elementwise and reduction generics as row vectors "
                     "(pce-vectorize-generics)"),
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
        options.vectorizeConvolutions = cl.vectorize && cl.vectorizeConvolutions;
        options.vectorizeGenerics = cl.vectorize && cl.vectorizeGenerics;
        if (failed(buildCpuPipelineWithOptions(pm, options)))
          llvm::report_fatal_error("pce-cpu-pipeline does not parse");
      });
}
