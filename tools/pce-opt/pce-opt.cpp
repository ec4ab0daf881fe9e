//===- pce-opt.cpp - the pce optimiser driver -----------------------------===//
//
// mlir-opt with the pce dialect and passes, plus the upstream dialects,
// extensions and passes the pce pipelines build on.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEDialect.h"
#include "examples/fusion-pass/FoldExpertNorm.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "tools/support/LLVMCommandLine.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  pce::tool::setVersionPrinter("pce-opt");
  mlir::registerAllPasses();
  mlir::pce::registerPCEPasses();
  mlir::pce::registerPipelines();
  mlir::pce::example::registerPCEExamplePasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::pce::PCEDialect>();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "PCE optimiser: the pce dialect and its passes\n", registry));
}
