//===- TrainingPlan.h - a model description's training section ------------===//
//
// `pce-compile MODEL.yaml --training` turns the description and its
// `training:` section into one module per phase of the proposal's schedule
// (the layers as that phase configures them) and the plan `pce-train` reads
// (training.json). docs/Training.md §2-3.
//
//===----------------------------------------------------------------------===//

#ifndef PCE_FRONTEND_TRAININGPLAN_H
#define PCE_FRONTEND_TRAININGPLAN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <optional>
#include <string>
#include <vector>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace pce::frontend {

struct PhaseModule {
  std::string artifact; // the directory name: phase<q>
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

struct TrainingImport {
  std::vector<PhaseModule> phases;
  std::string plan; // training.json
};

/// Imports the description in the main buffer of `sourceMgr` once per
/// training phase. Errors (a missing `training:` section, a phase that does
/// not fit the layers) are diagnostics at their file:line:column.
std::optional<TrainingImport> importForTraining(llvm::SourceMgr &sourceMgr,
                                                mlir::MLIRContext *context);

} // namespace pce::frontend

#endif // PCE_FRONTEND_TRAININGPLAN_H
