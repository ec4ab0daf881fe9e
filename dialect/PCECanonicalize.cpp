//===- PCECanonicalize.cpp - folders and canonicalisations ----------------===//
//
// Only rewrites that are exact:
//  - a router whose weights do not depend on its input (`uniform`, or any
//    kind with a single expert) folds to a constant;
//  - `top_k = E` keeps every weight, so it is the dense router (`top_k = 0`);
//    and `renormalize` on a dense router divides by a sum that is already 1;
//  - `mix sum` of a single expert with constant weight 1 is that expert's
//    output;
//  - `attention none` is the identity.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::pce;

//===----------------------------------------------------------------------===//
// Router
//===----------------------------------------------------------------------===//

OpFoldResult RouteOp::fold(FoldAdaptor) {
  auto type = dyn_cast<RankedTensorType>(getType());
  if (!type || !type.hasStaticShape())
    return {};
  int64_t e = type.getShape()[2];
  auto floatType = dyn_cast<FloatType>(type.getElementType());
  if (!floatType)
    return {};
  if (e == 1) // softmax of one logit, with or without top-k, noise or Gumbel
    return DenseElementsAttr::get(type, FloatAttr::get(floatType, 1.0));
  if (getKind() != RouterKind::uniform)
    return {};
  int64_t k = getTopK();
  if (k == 0 || k == e)
    return DenseElementsAttr::get(type, FloatAttr::get(floatType, 1.0 / e));
  // Ties keep the lower expert indices: experts 0..k-1 keep 1/E (1/k when
  // renormalised), the others get 0.
  double kept = getRenormalize() ? 1.0 / k : 1.0 / e;
  SmallVector<Attribute> row;
  for (int64_t i = 0; i < e; ++i)
    row.push_back(FloatAttr::get(floatType, i < k ? kept : 0.0));
  SmallVector<Attribute> values;
  values.reserve(type.getNumElements());
  for (int64_t n = 0, rows = type.getNumElements() / e; n < rows; ++n)
    values.append(row.begin(), row.end());
  return DenseElementsAttr::get(type, values);
}

namespace {
/// `top_k = E` is dense; `renormalize` without top-k changes nothing.
template <typename OpTy> struct CanonicalizeTopK : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;

  static int64_t numExperts(RouteOp op) { return op.getNumExpertsValue(); }
  static int64_t numExperts(LayerOp op) {
    return cast<RankedTensorType>(op.getKernels().getType()).getShape()[0];
  }

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    int64_t k = op.getTopK();
    bool dense = k == 0 || k == numExperts(op);
    if (!dense || (k == 0 && !op.getRenormalize()))
      return rewriter.notifyMatchFailure(op, "top_k selects a strict subset");
    rewriter.modifyOpInPlace(op, [&] {
      op.setTopK(0);
      op.setRenormalize(false);
    });
    return success();
  }
};
} // namespace

void RouteOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                          MLIRContext *context) {
  patterns.add<CanonicalizeTopK<RouteOp>>(context);
}

void LayerOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                          MLIRContext *context) {
  patterns.add<CanonicalizeTopK<LayerOp>>(context);
}

//===----------------------------------------------------------------------===//
// Mix
//===----------------------------------------------------------------------===//

namespace {
/// `mix sum` over one expert whose weight is the constant 1 is the expert's
/// output with the E dimension dropped.
struct MixOfSingleExpert : OpRewritePattern<MixOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MixOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getKind() != MixKind::sum)
      return rewriter.notifyMatchFailure(op, "not a sum");
    auto experts = cast<RankedTensorType>(op.getExperts().getType());
    if (experts.getRank() != 6 || experts.getShape()[2] != 1)
      return rewriter.notifyMatchFailure(op, "more than one expert");
    DenseElementsAttr weights;
    if (!matchPattern(op.getWeights(), m_Constant(&weights)) ||
        !weights.isSplat() ||
        weights.getSplatValue<APFloat>().convertToDouble() != 1.0)
      return rewriter.notifyMatchFailure(op, "weights are not the constant 1");
    // [B, P, 1, Co, ph, pw] -> [B, P, Co, ph, pw]
    SmallVector<ReassociationIndices> groups = {{0}, {1}, {2, 3}, {4}, {5}};
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, op.getType(), op.getExperts(), groups);
    return success();
  }
};
} // namespace

void MixOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                        MLIRContext *context) {
  patterns.add<MixOfSingleExpert>(context);
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

OpFoldResult AttentionOp::fold(FoldAdaptor) {
  if (getKind() == AttentionKind::none)
    return getInput();
  return {};
}
