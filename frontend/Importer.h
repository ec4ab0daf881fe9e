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
#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstdint>
#include <vector>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace pce::frontend {

class Diagnostics;
struct ModelDescription;

/// Registers the dialects that imported modules use.
void registerImporterDialects(mlir::DialectRegistry &registry);

/// Imports the model description in the main buffer of `sourceMgr`. Every
/// error is emitted as a diagnostic at its FILE:LINE:COL; returns null after
/// the first. Loads the dialects it needs into `context`.
mlir::OwningOpRef<mlir::ModuleOp>
importModelDescription(llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context);

/// The per-image shapes (without the batch) a layer reads and writes.
struct LayerShapes {
  std::vector<int64_t> in, out;
};

/// Imports a parsed description; errors go to `diag`. `shapes`, when given,
/// receives one entry per layer and, last, the head's input.
mlir::OwningOpRef<mlir::ModuleOp>
importModel(const ModelDescription &model, Diagnostics &diag,
            std::vector<LayerShapes> *shapes = nullptr);

/// Parses the description in the main buffer of `sourceMgr` and hands it to
/// `use` with the Diagnostics that place errors in it; false after a parse
/// error (reported) or when `use` returns false.
bool withModelDescription(
    llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context,
    llvm::function_ref<bool(const ModelDescription &, Diagnostics &)> use);

/// Whether `path` names a model description (ends in .yaml or .yml).
bool isModelDescriptionPath(llvm::StringRef path);

} // namespace pce::frontend

#endif // PCE_FRONTEND_IMPORTER_H
