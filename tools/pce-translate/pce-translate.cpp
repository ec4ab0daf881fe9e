//===- pce-translate.cpp - translations of pce models ---------------------===//
//
// mlir-translate with the pce dialect and the dialects its pipelines produce;
// `--mlir-to-llvmir` prints the LLVM IR of a model lowered with
// `pce-opt --pce-cpu-pipeline`, `--import-model` imports a YAML model
// description (docs/ModelDescription.md) into the pce dialect, and
// `--import-training` shows what `pce-compile --training` compiles: one
// nested module per training phase and the plan as `pce.training_plan`
// (docs/Training.md).
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEDialect.h"
#include "frontend/Importer.h"
#include "frontend/TrainingPlan.h"
#include "tools/support/LLVMCommandLine.h"

#include "mlir/IR/Builders.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllTranslations.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "llvm/Support/SourceMgr.h"

static void registerImportModel() {
  static mlir::TranslateToMLIRRegistration importModel(
      "import-model",
      "import a YAML model description (docs/ModelDescription.md)",
      [](llvm::SourceMgr &sourceMgr,
         mlir::MLIRContext *context) -> mlir::OwningOpRef<mlir::Operation *> {
        return pce::frontend::importModelDescription(sourceMgr, context);
      },
      pce::frontend::registerImporterDialects);
}

static void registerImportTraining() {
  static mlir::TranslateToMLIRRegistration importTraining(
      "import-training",
      "import a model description's training phases (docs/Training.md)",
      [](llvm::SourceMgr &sourceMgr,
         mlir::MLIRContext *context) -> mlir::OwningOpRef<mlir::Operation *> {
        auto imported = pce::frontend::importForTraining(sourceMgr, context);
        if (!imported)
          return nullptr;
        mlir::OpBuilder b(context);
        mlir::OwningOpRef<mlir::ModuleOp> top =
            mlir::ModuleOp::create(b.getUnknownLoc());
        top->getOperation()->setAttr(mlir::pce::kTrainingPlanAttrName,
                                     b.getStringAttr(imported->plan));
        for (pce::frontend::PhaseModule &phase : imported->phases) {
          phase.module->setSymName(phase.artifact);
          top->getBody()->push_back(phase.module.release());
        }
        return top;
      },
      pce::frontend::registerImporterDialects);
}

int main(int argc, char **argv) {
  pce::tool::setVersionPrinter("pce-translate");
  mlir::registerAllTranslations();
  registerImportModel();
  registerImportTraining();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "PCE translation tool"));
}
