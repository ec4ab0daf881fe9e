//===- Importer.h - model descriptions to the pce dialect -----------------===//
//
// The frontend's entry point: a YAML model description (docs/ModelDescription.md)
// becomes a module with one `func.func @forward` whose arguments are the
// input `{pce.input = "x"}` and every parameter `{pce.param = "<layer>.<name>"}`
// and whose result is `{pce.output = "logits"}`. PCE layers become
// `pce.layer`; ordinary layers become upstream linalg/tensor ops.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_FRONTEND_IMPORTER_H
#define PCE_FRONTEND_IMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace pce::frontend {

/// Registers the dialects that imported modules use.
void registerImporterDialects(mlir::DialectRegistry &registry);

/// Imports the model description in the main buffer of `sourceMgr`. Every
/// error is emitted as a diagnostic at its FILE:LINE:COL; returns null after
/// the first. Loads the dialects it needs into `context`.
mlir::OwningOpRef<mlir::ModuleOp>
importModelDescription(llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context);

/// Whether `path` names a model description (ends in .yaml or .yml).
bool isModelDescriptionPath(llvm::StringRef path);

} // namespace pce::frontend

#endif // PCE_FRONTEND_IMPORTER_H
