//===- LowerRoute.cpp - pce.route to linalg on tensors --------------------===//
//
// Lowers every router kind with inference semantics (docs/SEMANTICS.md §3):
//
//   uniform   w = 1/E                                   (a filled tensor)
//   position  w = softmax(beta * onehot(table[p]))      (a constant [P, E],
//                                                         broadcast over B)
//   cosine,   s = <emb, k_e> / max(|emb| |k_e|, 1e-12)
//   gumbel    w = softmax(s / tau)                      (no noise at inference)
//   mlp       w = softmax(W2 relu(W1 emb + b1) + b2)
//
// followed, for 0 < top_k < E, by the top-k mask (ties keep the lower expert)
// and the optional renormalisation. Every value is computed in the op's
// element type; softmax subtracts the row maximum.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Lowering.h"
#include "passes/LoweringUtils.h"

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

/// Reduces the last dimension of `x` with `combine`, starting from `initial`.
Value reduceLastDim(OpBuilder &b, Location loc, Value x, double initial,
                    BodyFn combine) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  Value init = filledTensor(b, loc, type.getShape().drop_back(),
                            type.getElementType(), initial);
  AffineMap maps[] = {AffineMap::getMultiDimIdentityMap(rank, ctx),
                      loopsMap(ctx, rank, firstLoops(rank - 1))};
  return buildGeneric(b, loc, {x}, init, maps, {rank - 1}, combine);
}

/// `x[..., e] <op> r[...]` for a row value `r` (one per last-dim row).
Value combineWithRow(OpBuilder &b, Location loc, Value x, Value row, BodyFn fn) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType());
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap maps[] = {identity, loopsMap(ctx, rank, firstLoops(rank - 1)),
                      identity};
  return buildGeneric(b, loc, {x, row}, init, maps, {}, fn);
}

/// Divides each last-dim row of `x` by its sum.
Value normalizeRows(OpBuilder &b, Location loc, Value x) {
  Value sum = reduceLastDim(b, loc, x, 0.0,
                            [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                              return arith::AddFOp::create(nb, nloc, a[1], a[0]);
                            });
  return combineWithRow(b, loc, x, sum,
                        [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                          return arith::DivFOp::create(nb, nloc, a[0], a[1]);
                        });
}

/// Softmax over the last dimension, stable: `exp(x - max) / sum exp(x - max)`.
Value softmaxLastDim(OpBuilder &b, Location loc, Value logits) {
  Value rowMax =
      reduceLastDim(b, loc, logits, -INFINITY,
                    [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                      return arith::MaximumFOp::create(nb, nloc, a[1], a[0]);
                    });
  Value shifted = combineWithRow(
      b, loc, logits, rowMax, [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value diff = arith::SubFOp::create(nb, nloc, a[0], a[1]);
        return math::ExpOp::create(nb, nloc, diff);
      });
  return normalizeRows(b, loc, shifted);
}

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

/// Cosine logits divided by the temperature:
/// `<emb, k_e> / max(|emb| * |k_e|, 1e-12) / tau`, tau = the attribute or
/// `exp(log_tau)`.
Value cosineLogits(OpBuilder &b, Location loc, RouteOp op, Value emb,
                   Value keys, Value logTau, RankedTensorType type) {
  MLIRContext *ctx = b.getContext();
  Type element = type.getElementType();
  auto sumSquares = [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
    Value sq = arith::MulFOp::create(nb, nloc, a[0], a[0]);
    return arith::AddFOp::create(nb, nloc, a[1], sq);
  };
  Value dot = contractLastDim(b, loc, emb, keys, /*bias=*/nullptr); // [B,P,E]
  Value embSq = reduceLastDim(b, loc, emb, 0.0, sumSquares);         // [B,P]
  Value keySq = reduceLastDim(b, loc, keys, 0.0, sumSquares);        // [E]

  SmallVector<Value> inputs = {dot, embSq, keySq};
  SmallVector<AffineMap> maps = {loopsMap(ctx, 3, {0, 1, 2}),
                                 loopsMap(ctx, 3, {0, 1}),
                                 loopsMap(ctx, 3, {2})};
  if (logTau) {
    inputs.push_back(logTau);
    maps.push_back(AffineMap::get(3, 0, ctx)); // 0-d: the same scalar everywhere
  }
  maps.push_back(loopsMap(ctx, 3, {0, 1, 2}));
  double tau = op.getTauValue();
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  return buildGeneric(
      b, loc, inputs, init, maps, {},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value embNorm = math::SqrtOp::create(nb, nloc, a[1]);
        Value keyNorm = math::SqrtOp::create(nb, nloc, a[2]);
        Value norms = arith::MulFOp::create(nb, nloc, embNorm, keyNorm);
        Value floor = floatConstant(nb, nloc, element, 1e-12);
        Value denom = arith::MaximumFOp::create(nb, nloc, norms, floor);
        Value cosine = arith::DivFOp::create(nb, nloc, a[0], denom);
        Value temperature = logTau ? Value(math::ExpOp::create(nb, nloc, a[3]))
                                   : floatConstant(nb, nloc, element, tau);
        return arith::DivFOp::create(nb, nloc, cosine, temperature);
      });
}

/// `W2 relu(W1 emb + b1) + b2`.
Value mlpLogits(OpBuilder &b, Location loc, Value emb, ValueRange mlp) {
  Value hidden = contractLastDim(b, loc, emb, mlp[0], mlp[1]);
  auto hiddenType = cast<RankedTensorType>(hidden.getType());
  Value relu = buildElementwise(
      b, loc, {hidden}, hiddenType,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value zero = floatConstant(nb, nloc, hiddenType.getElementType(), 0.0);
        return arith::MaximumFOp::create(nb, nloc, a[0], zero);
      });
  return contractLastDim(b, loc, relu, mlp[2], mlp[3]);
}

/// Keeps the k largest weights of each row and zeroes the others. The rank of
/// expert e is `#{e' : w[e'] > w[e] or (w[e'] == w[e] and e' < e)}` (ties go to
/// the lower index), counted by a reduction over e'; e is kept iff rank < k.
Value keepTopK(OpBuilder &b, Location loc, Value weights, int64_t k) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(weights.getType());
  Type countType = b.getI64Type();
  Value emptyRank = tensor::EmptyOp::create(b, loc, type.getShape(), countType);
  Value zero = arith::ConstantOp::create(b, loc, countType,
                                         b.getIntegerAttr(countType, 0));
  Value rankInit =
      linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{emptyRank})
          .getResult(0);
  // Loops (b, p, e, e'), e' reduced.
  AffineMap maps[] = {loopsMap(ctx, 4, {0, 1, 2}), loopsMap(ctx, 4, {0, 1, 3}),
                      loopsMap(ctx, 4, {0, 1, 2})};
  Value rank = buildGeneric(
      b, loc, {weights, weights}, rankInit, maps, {3},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value e = linalg::IndexOp::create(nb, nloc, 2);
        Value other = linalg::IndexOp::create(nb, nloc, 3);
        Value greater = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OGT,
                                              a[1], a[0]);
        Value equal = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ,
                                            a[1], a[0]);
        Value lower = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ult,
                                            other, e);
        Value tieAhead = arith::AndIOp::create(nb, nloc, equal, lower);
        Value ahead = arith::OrIOp::create(nb, nloc, greater, tieAhead);
        Value one = arith::ExtUIOp::create(nb, nloc, countType, ahead);
        return arith::AddIOp::create(nb, nloc, a[2], one);
      });
  return buildElementwise(
      b, loc, {weights, rank}, type,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
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
          cosineLogits(rewriter, loc, op, adaptor.getInput(), adaptor.getKeys(),
                       adaptor.getLogTau(), type));
      break;
    case RouterKind::mlp:
      weights = softmaxLastDim(
          rewriter, loc, mlpLogits(rewriter, loc, adaptor.getInput(), adaptor.getMlp()));
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
