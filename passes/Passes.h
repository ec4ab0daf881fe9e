//===- Passes.h - pce passes ------------------------------------*- C++ -*-===//

#ifndef PCE_PASSES_PASSES_H
#define PCE_PASSES_PASSES_H

#include "dialect/PCEDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir::pce {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mlir::pce

#endif // PCE_PASSES_PASSES_H
