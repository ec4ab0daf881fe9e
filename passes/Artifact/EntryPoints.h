//===- EntryPoints.h - artifact entry points of a model ---------*- C++ -*-===//
//
// What a compiled artifact exports: for each public function of the model,
// its buffers in call order (arguments, then results) as the runtime's
// manifest describes them, and, in the lowered LLVM dialect module, an
// exported `pce_entry_<name>(void **args)` plus its signature string.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_ARTIFACT_ENTRYPOINTS_H
#define PCE_PASSES_ARTIFACT_ENTRYPOINTS_H

#include "runtime/Manifest.h"

#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace pce::compile {

/// Reads the entry points off the public functions of `module` (in the pce
/// dialect, after pce-expose-routing): argument names from `pce.input` /
/// `pce.param`, result names from `pce.output` / `pce.routing`. Fails with a
/// diagnostic naming the function and the argument or result otherwise.
mlir::FailureOr<std::vector<rt::EntryPoint>>
collectEntryPoints(mlir::ModuleOp module);

/// The parameters of all entry points, once each (in first-use order; no
/// roles yet: ParameterRoles.h); fails
/// when two entry points disagree on a parameter's shape or type.
mlir::FailureOr<std::vector<rt::ParameterSpec>>
collectParameters(mlir::ModuleOp module,
                  const std::vector<rt::EntryPoint> &entries);

} // namespace pce::compile

#endif // PCE_PASSES_ARTIFACT_ENTRYPOINTS_H
