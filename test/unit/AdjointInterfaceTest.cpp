//===- AdjointInterfaceTest.cpp - which ops implement AdjointOpInterface --===//
//
// pce-generate-backward dispatches on AdjointOpInterface; the pce ops get it
// from external models attached by registerAdjointInterfaceExternalModels,
// and only then.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEDialect.h"
#include "dialect/PCEInterfaces.h"
#include "dialect/PCEOps.h"
#include "passes/Autodiff/AdjointInterfaceImpl.h"
#include "passes/Autodiff/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::pce;

namespace {

constexpr StringLiteral kDifferentiable[] = {
    "pce.patchify", "pce.embed", "pce.route",     "pce.experts",
    "pce.mix",      "pce.attention", "pce.unpatchify"};

bool implementsAdjoint(MLIRContext &context, StringRef name) {
  std::optional<RegisteredOperationName> op =
      RegisteredOperationName::lookup(name, &context);
  EXPECT_TRUE(op.has_value()) << name.str();
  return op && op->hasInterface<AdjointOpInterface>();
}

TEST(AdjointInterface, AttachedByTheRegistration) {
  MLIRContext context;
  context.loadDialect<PCEDialect>();
  for (StringRef name : kDifferentiable)
    EXPECT_FALSE(implementsAdjoint(context, name)) << name.str();

  DialectRegistry registry;
  registerAdjointInterfaceExternalModels(registry);
  context.appendDialectRegistry(registry);
  for (StringRef name : kDifferentiable)
    EXPECT_TRUE(implementsAdjoint(context, name)) << name.str();
  // pce-decompose-layer splits pce.layer into the ops above.
  EXPECT_FALSE(implementsAdjoint(context, "pce.layer"));
}

// The pass brings the models with it, so it works in any tool.
TEST(AdjointInterface, RegisteredByThePass) {
  MLIRContext context;
  context.loadDialect<PCEDialect>();
  PassManager pm(&context);
  pm.addPass(createGenerateBackward());
  DialectRegistry registry;
  pm.getDependentDialects(registry);
  context.appendDialectRegistry(registry);
  for (StringRef name : kDifferentiable)
    EXPECT_TRUE(implementsAdjoint(context, name)) << name.str();
}

} // namespace
