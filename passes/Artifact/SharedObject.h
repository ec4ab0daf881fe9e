//===- SharedObject.h - LLVM dialect module to a shared object --*- C++ -*-===//

#ifndef PCE_PASSES_ARTIFACT_SHAREDOBJECT_H
#define PCE_PASSES_ARTIFACT_SHAREDOBJECT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace pce::compile {

struct CodegenOptions {
  /// Target CPU for the object code; "native" means this machine's.
  std::string cpu = "native";
  unsigned optLevel = 3;
  /// Host code of --pce-gpu-pipeline: bound to the runtime's CUDA ABI
  /// (CudaHostBinding.h), kernels embedded as gpu.binary data.
  bool cuda = false;
  /// When set, the LLVM IR (after binding, before optimisation) is also
  /// written here.
  std::string llvmIRPath;
  /// Print the time of each step (translation, LLVM optimisation, code
  /// generation, linking) to stderr.
  bool timing = false;
};

/// Translates `module` (LLVM dialect) to LLVM IR, optimises it, emits an
/// object file and links it (with the system C compiler driver) into the
/// position-independent shared object `path`. Reports errors on `module`.
mlir::LogicalResult writeSharedObject(mlir::ModuleOp module,
                                      const std::string &path,
                                      const CodegenOptions &options);

} // namespace pce::compile

#endif // PCE_PASSES_ARTIFACT_SHAREDOBJECT_H
