//===- pce-translate.cpp - translations of pce models ---------------------===//
//
// mlir-translate with the pce dialect and the dialects its pipelines produce;
// `--mlir-to-llvmir` prints the LLVM IR of a model lowered with
// `pce-opt --pce-cpu-pipeline`.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEDialect.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllTranslations.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::registerAllTranslations();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "PCE translation tool"));
}
