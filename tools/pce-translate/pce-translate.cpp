//===- pce-translate.cpp - translations of pce models ---------------------===//
//
// mlir-translate with the pce dialect and the dialects its pipelines produce;
// `--mlir-to-llvmir` prints the LLVM IR of a model lowered with
// `pce-opt --pce-cpu-pipeline`, `--import-model` imports a YAML model
// description (docs/ModelDescription.md) into the pce dialect.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEDialect.h"
#include "frontend/Importer.h"

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

int main(int argc, char **argv) {
  mlir::registerAllTranslations();
  registerImportModel();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "PCE translation tool"));
}
