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

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
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

// Adding an op means implementing the interface: pce.layer, given a stand-in
// model here, is differentiated by the unchanged pass.
struct LayerStandIn
    : AdjointOpInterface::ExternalModel<LayerStandIn, LayerOp> {
  // The training forward is the interface's default (a clone); no gradient
  // flows back.
  FailureOr<SmallVector<Value>> buildAdjoint(Operation *op, OpBuilder &,
                                             ValueRange, ValueRange,
                                             ValueRange, ValueRange) const {
    return SmallVector<Value>(op->getNumOperands());
  }
};

constexpr StringLiteral kLayerFunction = R"mlir(
func.func @layer(%x: tensor<3x2x8x12xf32> {pce.input = "x"}, %k: tensor<2x6x6x5x5xf32> {pce.param = "k"},
                 %s: tensor<2x6xf32> {pce.param = "s"}) -> (tensor<3x6x8x12xf32> {pce.output = "y"})
    attributes {pce.differentiable} {
  %y = pce.layer %x patch [4, 3] halo isolated router position table [0, 1, 1, 0, 0, 1, 1, 0] sigma 0.1
         experts(%k : tensor<2x6x6x5x5xf32>) affine(%s, %s : tensor<2x6xf32>, tensor<2x6xf32>)
         : tensor<3x2x8x12xf32>
  return %y : tensor<3x6x8x12xf32>
}
)mlir";

TEST(AdjointInterface, AnyOpImplementingItIsDifferentiated) {
  DialectRegistry registry;
  registry.insert<PCEDialect, func::FuncDialect>();
  registry.addExtension(+[](MLIRContext *ctx, PCEDialect *) {
    LayerOp::attachInterface<LayerStandIn>(*ctx);
  });
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(kLayerFunction, &context);
  ASSERT_TRUE(module);
  PassManager pm(&context);
  pm.addPass(createGenerateBackward());
  ASSERT_TRUE(succeeded(pm.run(*module)));

  auto train = module->lookupSymbol<func::FuncOp>("layer_train");
  ASSERT_TRUE(train);
  int layers = 0;
  train.walk([&](LayerOp) { ++layers; });
  EXPECT_EQ(layers, 1); // the default training forward cloned it
  auto backward = module->lookupSymbol<func::FuncOp>("layer_backward");
  ASSERT_TRUE(backward);
  EXPECT_EQ(backward.getNumResults(), 0u); // no gradient reached x, k or s
}

} // namespace
