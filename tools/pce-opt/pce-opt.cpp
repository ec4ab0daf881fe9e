//===- pce-opt.cpp - the pce optimiser driver -----------------------------===//
//
// mlir-opt with the pce dialect and passes, plus the upstream dialects,
// extensions and passes the pce pipelines build on.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEDialect.h"
#include "examples/fusion-pass/FoldExpertNorm.h"
#include "passes/Artifact/Compile.h"
#include "passes/Artifact/Passes.h"
#include "passes/Passes.h"
#include "passes/Pipelines/Pipelines.h"
#include "tools/support/LLVMCommandLine.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  pce::tool::setVersionPrinter("pce-opt");
  mlir::registerAllPasses();
  mlir::pce::registerPCEPasses();
  mlir::pce::registerPCEArtifactPasses();
  mlir::pce::registerPipelines();
  mlir::pce::example::registerPCEExamplePasses();

  mlir::DialectRegistry registry;
  pce::compile::registerCompilerDialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "PCE optimiser: the pce dialect and its passes\n", registry));
}
