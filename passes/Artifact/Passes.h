//===- Passes.h - artifact passes -------------------------------*- C++ -*-===//
//
// Declarations generated from the Passes.td beside this file, and the
// constructor pce-compile's library uses.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_ARTIFACT_PASSES_H
#define PCE_PASSES_ARTIFACT_PASSES_H

#include "runtime/Manifest.h"

#include "mlir/Pass/Pass.h"

#include <vector>

namespace mlir::pce {

#define GEN_PASS_DECL
#include "passes/Artifact/Passes.h.inc"

/// pce-emit-entry-points for `entries` (read off the model before lowering).
std::unique_ptr<Pass>
createEmitEntryPoints(std::vector<::pce::rt::EntryPoint> entries);

#define GEN_PASS_REGISTRATION
#include "passes/Artifact/Passes.h.inc"

} // namespace mlir::pce

#endif // PCE_PASSES_ARTIFACT_PASSES_H
