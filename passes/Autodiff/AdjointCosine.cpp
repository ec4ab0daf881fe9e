//===- AdjointCosine.cpp - the adjoint of cosine router scores ------------===//

#include "passes/Autodiff/AdjointCosine.h"

#include "dialect/PCEConstants.h"
#include "passes/Builders/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;

namespace mlir::pce::adjoint {

namespace {

Type elementOf(Value v) { return typeOf(v).getElementType(); }

class CosineBackward {
public:
  CosineBackward(OpBuilder &b, Location loc, double tau, Value grad,
                 Value logTau, CosineSaved saved)
      : b(b), loc(loc), grad(grad), logTau(logTau), saved(saved), tau(tau),
        element(elementOf(grad)) {}

  CosineGrads build(Value emb, Value keys) {
    // Per score: a = g / (tau * denom), and c = g * l / |x|^2 (x = emb or k)
    // where the floor is not hit, so that the cos terms are g * cos / |x|^2.
    Value direct = perScore([](OpBuilder &nb, Location nloc, const Terms &t) {
      return arith::DivFOp::create(nb, nloc, t.grad,
                                   ArithBuilder(nb, nloc).mul(t.tau, t.denom))
          .getResult();
    });
    auto radial = [&](bool ofEmb) {
      return perScore([&](OpBuilder &nb, Location nloc, const Terms &t) {
        ArithBuilder ab(nb, nloc);
        Value c = ab.mul(t.grad, t.logit);
        c = arith::DivFOp::create(nb, nloc, c,
                                  ofEmb ? t.embSquare : t.keySquare);
        Value zero = floatConstant(nb, nloc, element, 0.0);
        return ab.select(t.floored, zero, c);
      });
    };
    CosineGrads grads;
    grads.emb = embGrad(direct, radial(/*ofEmb=*/true), emb, keys);
    grads.keys = keyGrad(direct, radial(/*ofEmb=*/false), emb, keys);
    if (logTau)
      grads.logTau = logTauGrad();
    return grads;
  }

private:
  /// The scalars of one score (b, p, e) in `perScore`'s body.
  struct Terms {
    Value grad, logit, embSquare, keySquare, tau;
    Value denom;   // max(|emb| |k_e|, kCosineNormFloor)
    Value floored; // |emb| |k_e| < kCosineNormFloor (i1)
  };
  using ScoreFn = function_ref<Value(OpBuilder &, Location, const Terms &)>;

  /// An elementwise [B, P, E] generic over the gradient, the logits, the
  /// squared norms and tau; the denominator and the floor test are computed
  /// as the forward does.
  Value perScore(ScoreFn fn) {
    MLIRContext *ctx = b.getContext();
    SmallVector<Value> inputs = {grad, saved.logits, saved.embSquares,
                                 saved.keySquares};
    SmallVector<AffineMap> maps = {
        loopsMap(ctx, 3, {0, 1, 2}), loopsMap(ctx, 3, {0, 1, 2}),
        loopsMap(ctx, 3, {0, 1}), loopsMap(ctx, 3, {2})};
    if (logTau) {
      inputs.push_back(logTau);
      maps.push_back(AffineMap::get(3, 0, ctx)); // 0-d: the same everywhere
    }
    maps.push_back(loopsMap(ctx, 3, {0, 1, 2}));
    Value init = tensor::EmptyOp::create(b, loc, typeOf(grad).getShape(),
                                         element);
    return buildGeneric(
        b, loc, inputs, init, maps, {},
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Terms t{a[0], a[1], a[2], a[3], {}, {}, {}};
          t.tau = logTau ? Value(math::ExpOp::create(nb, nloc, a[4]))
                         : floatConstant(nb, nloc, element, tau);
          Value keyNorm = math::SqrtOp::create(nb, nloc, a[3]);
          Value embNorm = math::SqrtOp::create(nb, nloc, a[2]);
          Value norms = ArithBuilder(nb, nloc).mul(embNorm, keyNorm);
          Value floor = floatConstant(nb, nloc, element, kCosineNormFloor);
          t.floored = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::OLT, norms, floor);
          t.denom = arith::MaximumFOp::create(nb, nloc, norms, floor);
          return fn(nb, nloc, t);
        });
  }

  /// `sum_e a[b,p,e] k[e,d] - emb[b,p,d] sum_e c[b,p,e]`.
  Value embGrad(Value direct, Value radial, Value emb, Value keys) {
    MLIRContext *ctx = b.getContext();
    auto shape = typeOf(emb).getShape();
    Value init = filledTensor(b, loc, shape, element, 0.0);
    // Loops (b, p, d, e).
    AffineMap score = loopsMap(ctx, 4, {0, 1, 3});
    AffineMap maps[] = {score, loopsMap(ctx, 4, {3, 2}), score,
                        loopsMap(ctx, 4, {0, 1, 2}),
                        loopsMap(ctx, 4, {0, 1, 2})};
    return buildGeneric(b, loc, {direct, keys, radial, emb}, init, maps, {3},
                        radialDifference);
  }

  /// `sum_{b,p} a[b,p,e] emb[b,p,d] - k[e,d] sum_{b,p} c[b,p,e]`.
  Value keyGrad(Value direct, Value radial, Value emb, Value keys) {
    MLIRContext *ctx = b.getContext();
    Value init = filledTensor(b, loc, typeOf(keys).getShape(), element, 0.0);
    // Loops (e, d, b, p).
    AffineMap score = loopsMap(ctx, 4, {2, 3, 0});
    AffineMap maps[] = {score, loopsMap(ctx, 4, {2, 3, 1}), score,
                        loopsMap(ctx, 4, {0, 1}), loopsMap(ctx, 4, {0, 1})};
    return buildGeneric(b, loc, {direct, emb, radial, keys}, init, maps, {2, 3},
                        radialDifference);
  }

  /// `acc + (a[0] a[1] - a[2] a[3])`: a gradient's direct term less its
  /// radial one.
  static Value radialDifference(OpBuilder &nb, Location nloc, ValueRange a) {
    ArithBuilder ab(nb, nloc);
    Value radial = ab.mul(a[2], a[3]);
    Value direct = ab.mul(a[0], a[1]);
    return ab.add(a[4], ab.sub(direct, radial));
  }

  /// `-sum g * l`, 0-d.
  Value logTauGrad() {
    MLIRContext *ctx = b.getContext();
    Value init = filledTensor(b, loc, {}, element, 0.0);
    AffineMap all = loopsMap(ctx, 3, {0, 1, 2});
    AffineMap maps[] = {all, all, AffineMap::get(3, 0, ctx)};
    return buildGeneric(b, loc, {grad, saved.logits}, init, maps, {0, 1, 2},
                        [](OpBuilder &nb, Location nloc, ValueRange a) {
                          ArithBuilder ab(nb, nloc);
                          return ab.sub(a[2], ab.mul(a[0], a[1]));
                        });
  }

  OpBuilder &b;
  Location loc;
  Value grad, logTau;
  CosineSaved saved;
  double tau;
  Type element;
};

} // namespace

CosineGrads backThroughCosine(OpBuilder &b, Location loc, double tau,
                              Value grad, Value logTau,
                              const CosineSaved &saved, Value x, Value keys) {
  return CosineBackward(b, loc, tau, grad, logTau, saved).build(x, keys);
}

} // namespace mlir::pce::adjoint
