//===- Pipelines.cpp - the named pce pipelines ----------------------------===//

#include "passes/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

// The pipeline as text: upstream passes are referred to by their stable
// command-line names, exactly as `pce-opt` users would write them.
static const char kCpuPipeline[] =
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
    // Loops -> LLVM.
    "pce-lower-strided-copies,"
    "func.func(convert-linalg-to-loops),"
    "convert-scf-to-cf,"
    "expand-strided-metadata,"
    "lower-affine,"
    "finalize-memref-to-llvm,"
    "convert-math-to-llvm,"
    "convert-to-llvm,"
    "reconcile-unrealized-casts,"
    "canonicalize";

LogicalResult pce::buildCpuPipeline(OpPassManager &pm) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(kCpuPipeline, pm, os))) {
    llvm::errs() << "pce-cpu-pipeline: " << errors << "\n";
    return failure();
  }
  return success();
}

void pce::registerPipelines() {
  PassPipelineRegistration<>(
      "pce-cpu-pipeline",
      "Compile a pce model to the LLVM dialect for the CPU: decompose, lower "
      "to linalg, bufferize, lower to loops and LLVM, with C interfaces",
      [](OpPassManager &pm) {
        if (failed(buildCpuPipeline(pm)))
          llvm::report_fatal_error("pce-cpu-pipeline does not parse");
      });
}
