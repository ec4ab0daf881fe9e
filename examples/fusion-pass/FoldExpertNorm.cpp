//===- FoldExpertNorm.cpp - the tutorial's example pass -------------------===//
//
// Fuses constant batch-norm statistics of `pce.experts` into
// `affine(scale, shift)`. docs/Tutorial-FusionPass.md explains each part.
//
//===----------------------------------------------------------------------===//

#include "examples/fusion-pass/FoldExpertNorm.h"

#include "dialect/PCEOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::pce::example {
#define GEN_PASS_DEF_FOLDEXPERTNORM
#include "examples/fusion-pass/FoldExpertNorm.h.inc"
} // namespace mlir::pce::example

using namespace mlir;
using namespace mlir::pce;

namespace {
/// Step 1 of the tutorial: the rewrite, as a pattern on one op.
struct FoldConstantExpertNorm : OpRewritePattern<ExpertsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertsOp op,
                                PatternRewriter &rewriter) const override {
    // Match: the statistics form, with all four tensors constant.
    if (op.getBn().empty())
      return rewriter.notifyMatchFailure(op, "already in affine form");
    SmallVector<DenseElementsAttr, 4> stats;
    for (Value v : op.getBn()) {
      DenseElementsAttr attr;
      if (!matchPattern(v, m_Constant(&attr)))
        return rewriter.notifyMatchFailure(op, "statistics are not constants");
      stats.push_back(attr);
    }

    // Compute scale and shift in double, then round once to the element type.
    auto type = cast<RankedTensorType>(op.getBn()[0].getType());
    auto element = cast<FloatType>(type.getElementType());
    double eps = op.getEps().convertToDouble();
    auto gamma = stats[0].getValues<APFloat>(),
         beta = stats[1].getValues<APFloat>(),
         mean = stats[2].getValues<APFloat>(),
         var = stats[3].getValues<APFloat>();
    SmallVector<Attribute> scale, shift;
    for (int64_t i = 0, n = type.getNumElements(); i < n; ++i) {
      double v = var[i].convertToDouble() + eps;
      if (!(v > 0.0)) {
        op.emitWarning() << "running variance " << var[i].convertToDouble()
                         << " + eps at index " << i
                         << " is not positive; batch norm not folded";
        return failure();
      }
      double s = gamma[i].convertToDouble() / std::sqrt(v);
      scale.push_back(FloatAttr::get(element, s));
      shift.push_back(FloatAttr::get(
          element, beta[i].convertToDouble() - mean[i].convertToDouble() * s));
    }

    // Rewrite: new constants, and the same experts in affine form.
    Location loc = op.getLoc();
    Value scaleValue = arith::ConstantOp::create(
        rewriter, loc, type, DenseElementsAttr::get(type, scale));
    Value shiftValue = arith::ConstantOp::create(
        rewriter, loc, type, DenseElementsAttr::get(type, shift));
    rewriter.replaceOpWithNewOp<ExpertsOp>(
        op, op.getPatches(), op.getKernels(), /*bn=*/ValueRange{},
        /*affine=*/ValueRange{scaleValue, shiftValue}, op.getEpsAttr());
    return success();
  }
};

/// Step 2: the pass applies the pattern everywhere in the operation it runs on.
struct FoldExpertNormPass
    : pce::example::impl::FoldExpertNormBase<FoldExpertNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldConstantExpertNorm>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
