//===- Diagnostics.cpp - errors at a model description's file:line:col ----===//

#include "frontend/Diagnostics.h"

#include "mlir/IR/MLIRContext.h"

using namespace pce::frontend;

Diagnostics::Diagnostics(mlir::MLIRContext *context, llvm::SourceMgr &sourceMgr,
                         llvm::StringRef fileName)
    : context(context), sourceMgr(sourceMgr), fileName(fileName.str()) {}

mlir::Location Diagnostics::location(llvm::SMLoc loc) const {
  unsigned line = 1, column = 1;
  if (loc.isValid() && sourceMgr.FindBufferContainingLoc(loc) != 0)
    std::tie(line, column) = sourceMgr.getLineAndColumn(loc);
  return mlir::FileLineColLoc::get(context, fileName, line, column);
}

mlir::InFlightDiagnostic Diagnostics::error(llvm::SMLoc loc) const {
  return mlir::emitError(location(loc));
}

void Diagnostics::forwardSourceMgrDiagnostic(const llvm::SMDiagnostic &diag,
                                             void *diagnostics) {
  auto *self = static_cast<Diagnostics *>(diagnostics);
  // The scanner's messages start with a capital and carry no context; say
  // that they are about the YAML syntax.
  mlir::InFlightDiagnostic error = self->error(diag.getLoc());
  error << "invalid YAML: " << diag.getMessage();
}
