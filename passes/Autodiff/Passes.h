//===- Passes.h - reverse-mode differentiation (pce-generate-backward) -*- C++ -*-===//
//
// Declarations generated from the Passes.td beside this file.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_AUTODIFF_PASSES_H
#define PCE_PASSES_AUTODIFF_PASSES_H

#include "dialect/PCEDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir::pce {

#define GEN_PASS_DECL
#include "passes/Autodiff/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Autodiff/Passes.h.inc"

} // namespace mlir::pce

#endif // PCE_PASSES_AUTODIFF_PASSES_H
