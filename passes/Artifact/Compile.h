//===- Compile.h - the one compile API: a model to an artifact --*- C++ -*-===//
//
// What pce-compile, pce-train and pce-bench call, in process: a model (a
// module in the pce dialect, or a model description / .mlir file) and
// options in, an artifact directory (docs/Artifact.md) out. With
// `training`, a description gives one artifact per training phase and the
// plan DIR/training.json (docs/Training.md). Errors are diagnostics on the
// context (file:line:column where the input has them) and a failure result;
// nothing here exits or aborts.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_PASSES_ARTIFACT_COMPILE_H
#define PCE_PASSES_ARTIFACT_COMPILE_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace pce::compile {

/// What the artifact's code runs on.
enum class Target {
  Cpu,          ///< --pce-cpu-pipeline, a shared object for this (or --mcpu's) CPU
  Cuda,         ///< --pce-gpu-pipeline: PTX kernels, host code on the runtime's CUDA ABI
  CudaEmulated, ///< the GPU pipeline's kernel loops as a CPU artifact (checking it without a GPU)
};

/// `cpu`, `cuda`, `cuda-emulated`; nullopt for anything else.
std::optional<Target> parseTarget(llvm::StringRef name);

struct CompileOptions {
  Target target = Target::Cpu;
  /// Target CPU of the object code; "native" is this machine's.
  std::string mcpu = "native";
  /// The model's name in the manifest; empty: the module's name, else the
  /// source file's stem.
  std::string modelName;
  /// Every PCE layer also gets entry points <layer>, <layer>_train and
  /// <layer>_backward; a description gives one artifact per training phase.
  bool training = false;
  /// Options of the target's pipeline as on the command line, e.g.
  /// "parallel-loops=false" (CpuPipelineOptions / GpuPipelineOptions).
  std::string pipelineOptions;
  /// When set, the lowered LLVM dialect module / the LLVM IR (before LLVM's
  /// optimisation) are also written there.
  std::string dumpLLVMDialect, dumpLLVMIR;
  /// Print each step's time to `log`.
  bool timing = false;
  /// Progress lines ("pce-compile: MODEL -> DIR (...)"); none when null.
  llvm::raw_ostream *log = nullptr;
};

/// Adds every dialect and extension a compile needs.
void registerCompilerDialects(mlir::DialectRegistry &registry);

/// Compiles `module` (pce dialect; consumed: it is lowered in place) into the
/// artifact directory `outputDir`. `sourceName` names the input in messages
/// and is the manifest's model name of last resort.
mlir::LogicalResult compileModule(mlir::ModuleOp module,
                                  llvm::StringRef outputDir,
                                  llvm::StringRef sourceName,
                                  const CompileOptions &options);

/// Compiles the model file `inputPath` (a model description, .yaml, or a
/// module, .mlir) into `outputDir`; with `training` and a description, one
/// artifact per phase and training.json. Diagnostics are printed with the
/// file's line and column.
mlir::LogicalResult compileFile(mlir::MLIRContext &context,
                                llvm::StringRef inputPath,
                                llvm::StringRef outputDir,
                                const CompileOptions &options);

/// Writes only the training plan `outputDir/training.json` of the model
/// description `inputPath` (what a dense twin trains by: no artifact).
mlir::LogicalResult writeTrainingPlan(mlir::MLIRContext &context,
                                      llvm::StringRef inputPath,
                                      llvm::StringRef outputDir);

} // namespace pce::compile

#endif // PCE_PASSES_ARTIFACT_COMPILE_H
