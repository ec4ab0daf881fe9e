//===- SharedObject.h - LLVM dialect module to a shared object --*- C++ -*-===//

#ifndef PCE_PASSES_ARTIFACT_SHAREDOBJECT_H
#define PCE_PASSES_ARTIFACT_SHAREDOBJECT_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

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

/// The CPU the code is generated for (`options.cpu`; "native" resolved to
/// this machine's name) and the instruction-set features the target machine
/// enables that the runtime checks before loading (runtime/CpuFeatures.h):
/// what pce-compile records in the manifest.
struct TargetCpuInfo {
  std::string name;
  std::vector<std::string> features;
  /// Enabled instruction-set extensions the code generator may use that the
  /// runtime cannot test (newer than its table, e.g. avx10.2, APX's egpr):
  /// not recorded, so pce-compile warns about them.
  std::vector<std::string> unchecked;
};
llvm::Expected<TargetCpuInfo> describeTargetCpu(const CodegenOptions &options);

} // namespace pce::compile

#endif // PCE_PASSES_ARTIFACT_SHAREDOBJECT_H
