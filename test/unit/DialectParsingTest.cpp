//===- DialectParsingTest.cpp - attributes and ops through the parser -----===//

#include "dialect/PCEDialect.h"
#include "dialect/PCEOps.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::pce;

namespace {
class DialectParsing : public ::testing::Test {
protected:
  DialectParsing() {
    context.loadDialect<PCEDialect, func::FuncDialect, arith::ArithDialect,
                        tensor::TensorDialect>();
  }

  /// Parses `body` inside a function and returns the module, collecting
  /// diagnostics instead of printing them.
  OwningOpRef<ModuleOp> parse(StringRef source) {
    diagnostics.clear();
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      diagnostics += diag.str() + "\n";
      return success();
    });
    return parseSourceString<ModuleOp>(source, &context);
  }

  template <typename OpTy> static OpTy first(ModuleOp module) {
    OpTy found;
    module.walk([&](OpTy op) {
      if (!found)
        found = op;
    });
    return found;
  }

  MLIRContext context;
  std::string diagnostics;
};
} // namespace

TEST_F(DialectParsing, EnumAttributesRoundTripThroughStrings) {
  for (RouterKind kind :
       {RouterKind::uniform, RouterKind::position, RouterKind::cosine,
        RouterKind::mlp, RouterKind::gumbel})
    EXPECT_EQ(symbolizeRouterKind(stringifyRouterKind(kind)), kind);
  EXPECT_EQ(symbolizeHaloMode("isolated"), HaloMode::isolated);
  EXPECT_EQ(symbolizeMixKind("concat"), MixKind::concat);
  EXPECT_EQ(symbolizeAttentionKind("se"), AttentionKind::se);
  EXPECT_FALSE(symbolizeRouterKind("random").has_value());
}

TEST_F(DialectParsing, DefaultsApplyWhenAttributesAreOmitted) {
  auto module = parse(R"mlir(
    func.func @f(%x: tensor<2x1x28x28xf32>, %we: tensor<5x5xf32>, %be: tensor<5xf32>) {
      %p = pce.patchify %x patch [7, 7] radius 1 : tensor<2x1x28x28xf32>
      %e = pce.embed %p, %we, %be radius 1 : tensor<2x16x5x9x9xf32>, tensor<5x5xf32>, tensor<5xf32>
      %w = pce.route position %p experts 3 : tensor<2x16x5x9x9xf32>
      return
    })mlir");
  ASSERT_TRUE(module) << diagnostics;
  auto patchify = first<PatchifyOp>(*module);
  EXPECT_EQ(patchify.getHalo(), HaloMode::context);
  EXPECT_EQ(patchify.getRadius(), 1u);
  auto embed = first<EmbedOp>(*module);
  EXPECT_EQ(llvm::SmallVector<int64_t>(embed.getLevels()),
            (llvm::SmallVector<int64_t>{1, 2, 4}));
  auto route = first<RouteOp>(*module);
  EXPECT_EQ(route.getTopK(), 0u);
  EXPECT_FALSE(route.getRenormalize());
  EXPECT_DOUBLE_EQ(route.getTauValue(), 1.0);
  EXPECT_DOUBLE_EQ(route.getBeta().convertToDouble(), 1.0);
  EXPECT_EQ(route.getNumExpertsValue(), 3);
}

TEST_F(DialectParsing, ResultTypesAreInferred) {
  auto module = parse(R"mlir(
    func.func @f(%x: tensor<3x2x8x12xf64>, %k: tensor<5x6x6x5x5xf64>, %s: tensor<5x6xf64>) {
      %p = pce.patchify %x patch [4, 3] radius 2 : tensor<3x2x8x12xf64>
      %y = pce.experts %p, %k affine(%s, %s : tensor<5x6xf64>, tensor<5x6xf64>) : tensor<3x8x6x8x7xf64>, tensor<5x6x6x5x5xf64>
      return
    })mlir");
  ASSERT_TRUE(module) << diagnostics;
  auto experts = first<ExpertsOp>(*module);
  auto type = cast<RankedTensorType>(experts.getType());
  EXPECT_EQ(llvm::SmallVector<int64_t>(type.getShape()),
            (llvm::SmallVector<int64_t>{3, 8, 5, 6, 4, 3}));
  EXPECT_TRUE(type.getElementType().isF64());
}

TEST_F(DialectParsing, VerifierMessagesNameTheRule) {
  auto module = parse(R"mlir(
    func.func @f(%e: tensor<2x16x105xf32>, %k: tensor<4x105xf32>) {
      %w = pce.route cosine %e keys(%k : tensor<4x105xf32>) top_k 7 : tensor<2x16x105xf32>
      return
    })mlir");
  EXPECT_FALSE(module);
  EXPECT_NE(
      diagnostics.find("'pce.route' op attribute 'top_k' must be in [0, 4]"),
      std::string::npos)
      << diagnostics;
}

TEST_F(DialectParsing, FoldingAUniformRouterGivesConstantWeights) {
  auto module = parse(R"mlir(
    func.func @f(%p: tensor<1x2x5x3x3xf32>) -> tensor<1x2x4xf32> {
      %w = pce.route uniform %p experts 4 top_k 3 renormalize : tensor<1x2x5x3x3xf32>
      return %w : tensor<1x2x4xf32>
    })mlir");
  ASSERT_TRUE(module) << diagnostics;
  auto route = first<RouteOp>(*module);
  SmallVector<OpFoldResult> folded;
  ASSERT_TRUE(succeeded(route->fold(folded)));
  auto attr = dyn_cast<DenseElementsAttr>(cast<Attribute>(folded[0]));
  ASSERT_TRUE(attr);
  auto values = llvm::to_vector(attr.getValues<float>());
  ASSERT_EQ(values.size(), 8u);
  for (int row = 0; row < 2; ++row) {
    EXPECT_FLOAT_EQ(values[row * 4 + 0], 1.0f / 3);
    EXPECT_FLOAT_EQ(values[row * 4 + 2], 1.0f / 3);
    EXPECT_FLOAT_EQ(values[row * 4 + 3], 0.0f); // ties keep the lower indices
  }
}
