//===- SharedObject.h - LLVM dialect module to a shared object --*- C++ -*-===//

#ifndef PCE_TOOLS_PCE_COMPILE_SHAREDOBJECT_H
#define PCE_TOOLS_PCE_COMPILE_SHAREDOBJECT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace pce::compile {

struct CodegenOptions {
  /// Target CPU for the object code; "native" means this machine's.
  std::string cpu = "native";
  unsigned optLevel = 3;
};

/// Translates `module` (LLVM dialect) to LLVM IR, optimises it, emits an
/// object file and links it (with the system C compiler driver) into the
/// position-independent shared object `path`. Reports errors on `module`.
mlir::LogicalResult writeSharedObject(mlir::ModuleOp module,
                                      const std::string &path,
                                      const CodegenOptions &options);

/// Translates `module` to textual LLVM IR (what pce-translate prints).
mlir::LogicalResult printLLVMIR(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace pce::compile

#endif // PCE_TOOLS_PCE_COMPILE_SHAREDOBJECT_H
