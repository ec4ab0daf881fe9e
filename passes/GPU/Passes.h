//===- Passes.h - GPU code generation -*- C++ -*-===//
//
// Declarations generated from the Passes.td beside this file.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_GPU_PASSES_H
#define PCE_PASSES_GPU_PASSES_H

#include "dialect/PCEDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir::pce {

#define GEN_PASS_DECL
#include "passes/GPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/GPU/Passes.h.inc"

} // namespace mlir::pce

#endif // PCE_PASSES_GPU_PASSES_H
