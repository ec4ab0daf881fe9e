//===- Compile.cpp - how pce-train compiles a model description -----------===//

#include "tools/pce-train/Compile.h"

#include <stdexcept>

#ifdef PCE_TRAIN_WITH_COMPILER
#include "passes/Artifact/Compile.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

namespace pce::train {

namespace {
// A fresh context per compile: nothing of one phase's IR outlives it.
template <typename Step>
void withCompiler(const std::string &what, Step step) {
  mlir::DialectRegistry registry;
  pce::compile::registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  std::fflush(stdout); // keep pce-train's lines and the compiler's in order
  bool ok = mlir::succeeded(step(context));
  llvm::outs().flush();
  if (!ok)
    throw std::runtime_error(what + " failed (the messages above say why)");
}
} // namespace

CompileSteps compileSteps() {
  CompileSteps steps;
  steps.compileForTraining = [](const std::string &model, const std::string &outDir) {
    withCompiler("compiling " + model + " for training", [&](mlir::MLIRContext &context) {
      pce::compile::CompileOptions options;
      options.training = true;
      options.log = &llvm::outs();
      return pce::compile::compileFile(context, model, outDir, options);
    });
  };
  steps.writePlanOnly = [](const std::string &model, const std::string &outDir) {
    withCompiler("writing the training plan of " + model, [&](mlir::MLIRContext &context) {
      return pce::compile::writeTrainingPlan(context, model, outDir);
    });
  };
  return steps;
}

} // namespace pce::train

#else // a build without the compiler

namespace pce::train {

CompileSteps compileSteps() {
  auto refuse = [](const std::string &model, const std::string &) {
    throw std::runtime_error("this pce-train was built without the compiler (PCE_ENABLE_COMPILER=OFF) and "
                             "cannot compile " + model +
                             ": pass --compiled DIR, the output of pce-compile MODEL --training -o DIR");
  };
  return {refuse, refuse};
}

} // namespace pce::train

#endif
