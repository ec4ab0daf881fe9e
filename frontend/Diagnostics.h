//===- Diagnostics.h - errors at a model description's file:line:col ------===//
//
// The importer reads YAML through its own llvm::SourceMgr (the YAML scanner
// registers the buffer there) and reports every error as an MLIR diagnostic,
// so tools print `FILE:LINE:COL: error: ...` with the source line and
// `--verify-diagnostics` works on model descriptions too.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_FRONTEND_DIAGNOSTICS_H
#define PCE_FRONTEND_DIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"

#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"

#include <string>

namespace pce::frontend {

/// Turns positions in the description's buffer into MLIR locations and
/// emits errors there.
class Diagnostics {
public:
  /// `sourceMgr` holds the description's buffer, named `fileName`.
  Diagnostics(mlir::MLIRContext *context, llvm::SourceMgr &sourceMgr,
              llvm::StringRef fileName);

  mlir::MLIRContext *getContext() const { return context; }
  llvm::SourceMgr &getSourceMgr() const { return sourceMgr; }

  /// The file:line:column of `loc`; the start of the file when `loc` is null
  /// or lies outside the buffer.
  mlir::Location location(llvm::SMLoc loc) const;

  /// Starts an error at `loc`.
  mlir::InFlightDiagnostic error(llvm::SMLoc loc) const;

  /// Forwards the messages the YAML scanner prints to `sourceMgr` as MLIR
  /// errors (installed as the SourceMgr's handler).
  static void forwardSourceMgrDiagnostic(const llvm::SMDiagnostic &diag,
                                         void *diagnostics);

private:
  mlir::MLIRContext *context;
  llvm::SourceMgr &sourceMgr;
  std::string fileName;
};

} // namespace pce::frontend

#endif // PCE_FRONTEND_DIAGNOSTICS_H
