//===- LowerEmbed.cpp - pce.embed to linalg -------------------------------===//
//
// The patch embedding of docs/SEMANTICS.md §2 in three steps: slice out the
// patch cores, a 1x1 convolution (a linalg.generic reducing over channels,
// starting from the broadcast bias), then per pyramid level one max-pooling
// linalg.generic whose result is flattened and inserted into the embedding.
// The builders live in Builders/PCEMath: the training forward (AdjointEmbed.cpp)
// reuses them.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Conversion/PCEToLinalg.h"
#include "passes/Builders/PCEMath.h"

#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::pce;

namespace {

struct EmbedLowering : OpConversionPattern<EmbedOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(EmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value core = lowering::extractCore(rewriter, loc, adaptor.getPatches(),
                                       op.getRadius());
    Value z = lowering::embedConv1x1(rewriter, loc, core, adaptor.getWeight(),
                                     adaptor.getBias());
    Value result = lowering::sppMaxPool(rewriter, loc, z, op.getLevels());
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::pce::populateLowerEmbedPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbedLowering>(patterns.getContext());
}
