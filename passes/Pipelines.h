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
  /// pce-vectorize-convolutions: register-blocked NCHW convolutions.
  bool vectorizeConvolutions = true;
  /// pce-vectorize-generics: elementwise and reduction generics by rows.
  bool vectorizeGenerics = true;
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

} // namespace mlir::pce

#endif // PCE_PASSES_PIPELINES_H
