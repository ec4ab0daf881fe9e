//===- LowerExperts.cpp - pce.experts, pce.mix, pce.attention to linalg ---===//
//
// Inference semantics (docs/SEMANTICS.md §4, docs/Reference.md):
//
//   experts    y = relu(scale * conv(patch, K_e) + shift), valid convolution
//              as one linalg.conv_2d_nchw_fchw over N = B*P images and
//              E*Co filters; bn(gamma, beta, mean, var) folds to
//              scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
//   mix sum    out[b,p,c,i,j] = sum_e w[b,p,e] * y[b,p,e,c,i,j]
//   mix concat out[b,p,o,i,j] = bc[o] + sum_{e,c} Wc[o, e*Co + c] * (w[b,p,e] * y[b,p,e,c,i,j])
//   attention  se (per patch): out = x * sigmoid(W2 relu(W1 mean_ij(x) + b1) + b2);
//              none: the identity.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Conversion/PCEToLinalg.h"
#include "passes/Builders/PCEMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;

namespace {

//===----------------------------------------------------------------------===//
// experts
//===----------------------------------------------------------------------===//

struct LowerExperts : OpConversionPattern<ExpertsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ExpertsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value result = inferenceExperts(
        rewriter, op.getLoc(), adaptor.getPatches(), adaptor.getKernels(),
        adaptor.getBn(), adaptor.getAffine(), op.getEps().convertToDouble());
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// mix
//===----------------------------------------------------------------------===//

struct LowerMix : OpConversionPattern<MixOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(MixOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getType()); // [B,P,Co',Ho,Wo]
    Type element = type.getElementType();
    Value weights = adaptor.getWeights(), experts = adaptor.getExperts();
    auto weighted = [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
      return arith::MulFOp::create(nb, nloc, a[0], a[1]); // w * y
    };

    Value result;
    if (op.getKind() == MixKind::sum) {
      // Loops (b, p, c, i, j, e), e reduced.
      Value init = filledTensor(rewriter, loc, type.getShape(), element, 0.0);
      AffineMap maps[] = {loopsMap(ctx, 6, {0, 1, 5}),
                          loopsMap(ctx, 6, {0, 1, 5, 2, 3, 4}),
                          loopsMap(ctx, 6, {0, 1, 2, 3, 4})};
      result = buildGeneric(rewriter, loc, {weights, experts}, init, maps, {5},
                            [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                              Value term = weighted(nb, nloc, a);
                              return arith::AddFOp::create(nb, nloc, a[2], term);
                            });
    } else {
      result = concatProjection(rewriter, loc, weights, experts,
                                adaptor.getProj()[0], adaptor.getProj()[1]);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

struct LowerAttention : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value x = adaptor.getInput();
    if (op.getKind() == AttentionKind::none) { // normally folded away already
      rewriter.replaceOp(op, x);
      return success();
    }
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getType()); // [B,P,Co,ph,pw]
    Type element = type.getElementType();
    ValueRange se = adaptor.getWeights(); // W1 [Hd,Co], b1 [Hd], W2 [Co,Hd], b2 [Co]

    Value squeezed = patchChannelMeans(rewriter, loc, x);             // [B,P,Co]
    Value hiddenPre = contractLastDim(rewriter, loc, squeezed, se[0], se[1]); // [B,P,Hd]
    Value hidden = buildElementwise(
        rewriter, loc, {hiddenPre}, cast<RankedTensorType>(hiddenPre.getType()),
        [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          return relu(nb, nloc, a[0]);
        });
    Value gateLogits = contractLastDim(rewriter, loc, hidden, se[2], se[3]); // [B,P,Co]

    // out = x * sigmoid(logit), sigmoid = 1 / (1 + exp(-logit)) (exp(-logit)
    // overflowing to inf gives the right limit 0).
    AffineMap identity = AffineMap::getMultiDimIdentityMap(5, ctx);
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(), element);
    Value result = buildGeneric(
        rewriter, loc, {x, gateLogits}, init,
        {identity, loopsMap(ctx, 5, {0, 1, 2}), identity}, {},
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value one = floatConstant(nb, nloc, element, 1.0);
          Value negated = arith::NegFOp::create(nb, nloc, a[1]);
          Value expNeg = math::ExpOp::create(nb, nloc, negated);
          Value denom = arith::AddFOp::create(nb, nloc, one, expNeg);
          Value gate = arith::DivFOp::create(nb, nloc, one, denom);
          return arith::MulFOp::create(nb, nloc, a[0], gate);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::pce::populateLowerExpertsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerExperts, LowerMix, LowerAttention>(patterns.getContext());
}
