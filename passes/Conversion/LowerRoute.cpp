//===- LowerRoute.cpp - pce.route to linalg on tensors --------------------===//
//
// Lowers every router kind with inference semantics (docs/SEMANTICS.md §3):
//
//   uniform   w = 1/E                                   (a filled tensor)
//   position  w = softmax(beta * onehot(table[p]))      (a constant [P, E],
//                                                         broadcast over B)
//   cosine,   s = <emb, k_e> / max(|emb| |k_e|, 1e-12)
//   gumbel    w = softmax(s / tau)                      (no noise at inference)
//   mlp       w = softmax(W2 h + b2), h = relu(W1 u + b1), u = emb or, with
//             normalize_input, emb / max(|emb|, 1e-12); with cosine_head
//             w = softmax(cos(h, W2_e) / tau) (the cosine router over h);
//             with linear_hidden h = W1 u + b1
//
// followed, for 0 < top_k < E, by the top-k mask (ties keep the lower expert)
// and the optional renormalisation. Every value is computed in the op's
// element type; softmax subtracts the row maximum.
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

#include <cmath>

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Router pieces
//===----------------------------------------------------------------------===//

/// The position router's weights: `softmax(beta * onehot(table[p]))` depends
/// only on p, so it is a constant [P, E] (computed in double, rounded once)
/// broadcast over the batch.
Value positionWeights(OpBuilder &b, Location loc, RouteOp op,
                      RankedTensorType type) {
  int64_t numPatches = type.getShape()[1], numExperts = type.getShape()[2];
  double beta = op.getBeta().convertToDouble();
  // Each row holds one logit beta and E-1 logits 0.
  double top = std::max(beta, 0.0);
  double hot = std::exp(beta - top), cold = std::exp(-top);
  double denom = hot + static_cast<double>(numExperts - 1) * cold;
  Type element = type.getElementType();
  SmallVector<Attribute> values;
  values.reserve(numPatches * numExperts);
  for (int64_t p = 0; p < numPatches; ++p) {
    int64_t chosen = op.getTable() ? (*op.getTable())[p] : p % numExperts;
    for (int64_t e = 0; e < numExperts; ++e)
      values.push_back(
          b.getFloatAttr(element, (e == chosen ? hot : cold) / denom));
  }
  auto tableType = RankedTensorType::get({numPatches, numExperts}, element);
  Value table = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(tableType, values));
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  return linalg::BroadcastOp::create(b, loc, table, empty, ArrayRef<int64_t>{0}).getResult()[0];
}

/// Keeps the k largest weights of each row (ties go to the lower index) and
/// zeroes the others.
Value keepTopK(OpBuilder &b, Location loc, Value weights, int64_t k) {
  auto type = cast<RankedTensorType>(weights.getType());
  Value rank = topKRanks(b, loc, weights);
  return buildElementwise(
      b, loc, {weights, rank}, type,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Type countType = nb.getI64Type();
        Value limit = arith::ConstantOp::create(nb, nloc, countType,
                                                nb.getIntegerAttr(countType, k));
        Value kept = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::slt,
                                           a[1], limit);
        Value zeroWeight = floatConstant(nb, nloc, type.getElementType(), 0.0);
        return arith::SelectOp::create(nb, nloc, kept, a[0], zeroWeight);
      });
}

//===----------------------------------------------------------------------===//
// The pattern
//===----------------------------------------------------------------------===//

struct LowerRoute : OpConversionPattern<RouteOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(RouteOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || !type.hasStaticShape() || !isa<FloatType>(type.getElementType()))
      return rewriter.notifyMatchFailure(op, "needs a static float result");
    int64_t numExperts = type.getShape()[2];

    Value weights;
    switch (op.getKind()) {
    case RouterKind::uniform:
      weights = filledTensor(rewriter, loc, type.getShape(),
                             type.getElementType(),
                             1.0 / static_cast<double>(numExperts));
      break;
    case RouterKind::position:
      weights = positionWeights(rewriter, loc, op, type);
      break;
    case RouterKind::cosine:
    case RouterKind::gumbel: // inference: no Gumbel noise, the cosine router
      weights = softmaxLastDim(
          rewriter, loc,
          cosineLogits(rewriter, loc, adaptor.getInput(), adaptor.getKeys(),
                       adaptor.getLogTau(), op.getTauValue())
              .logits);
      break;
    case RouterKind::mlp:
      weights = softmaxLastDim(
          rewriter, loc,
          mlpLogits(rewriter, loc, adaptor.getInput(), adaptor.getMlp(),
                    mlpOptions(op, adaptor.getLogTau()))
              .logits);
      break;
    }

    // top_k = E keeps everything and is not renormalised (Reference.md).
    int64_t k = op.getTopK();
    if (k > 0 && k < numExperts) {
      weights = keepTopK(rewriter, loc, weights, k);
      if (op.getRenormalize())
        weights = normalizeRows(rewriter, loc, weights);
    }
    rewriter.replaceOp(op, weights);
    return success();
  }
};

} // namespace

void mlir::pce::populateLowerRoutePatterns(RewritePatternSet &patterns) {
  patterns.add<LowerRoute>(patterns.getContext());
}
