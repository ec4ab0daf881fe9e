//===- Passes.h - every pce pass --------------------------------*- C++ -*-===//
//
// The passes of each layer (passes/<Layer>/Passes.h) and one registration of
// all of them, for the tools.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_PASSES_H
#define PCE_PASSES_PASSES_H

#include "passes/Autodiff/Passes.h"
#include "passes/CPU/Passes.h"
#include "passes/Conversion/Passes.h"
#include "passes/GPU/Passes.h"
#include "passes/Transforms/Passes.h"

namespace mlir::pce {

/// Registers every pce pass for the command line (pce-opt, pce-compile).
inline void registerPCEPasses() {
  registerPCETransformsPasses();
  registerPCEConversionPasses();
  registerPCEAutodiffPasses();
  registerPCECPUPasses();
  registerPCEGPUPasses();
}

} // namespace mlir::pce

#endif // PCE_PASSES_PASSES_H
