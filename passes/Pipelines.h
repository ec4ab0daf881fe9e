//===- Pipelines.h - the named pce pipelines --------------------*- C++ -*-===//

#ifndef PCE_PASSES_PIPELINES_H
#define PCE_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace mlir::pce {

/// From a model in the pce dialect (on tensors) to the LLVM dialect, with a
/// C interface on every public function and function results turned into
/// caller-provided output buffers.
LogicalResult buildCpuPipeline(OpPassManager &pm);

/// Registers `--pce-cpu-pipeline`.
void registerPipelines();

} // namespace mlir::pce

#endif // PCE_PASSES_PIPELINES_H
