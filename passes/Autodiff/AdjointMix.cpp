//===- AdjointMix.cpp - adjoints of pce.mix and pce.attention -------------===//
//
// Both train as they infer (the default training forward clones them), so
// only their adjoints are written here (docs/SEMANTICS.md §4):
//
//   mix sum     out[b,p,c,i,j] = sum_e w[b,p,e] y[b,p,e,c,i,j]
//                 gy = w g,  gw = sum_{c,i,j} g y
//   mix concat  out[b,p,o,i,j] = bc[o] + sum_{e,c} Wc[o,e*Co+c] w[b,p,e] y[b,p,e,c,i,j]
//                 gz = sum_o Wc g (the gradient of w y),  gy = w gz,
//                 gw = sum_{c,i,j} y gz,  gWc = sum_{b,p,i,j} g (w y),
//                 gbc = sum_{b,p,i,j} g
//   attention se  out = x * sigmoid(l), l = W2 relu(W1 s + b1) + b2,
//                 s = mean_{i,j} x; the small per-patch values (s, the hidden
//                 layer, the gate) are recomputed from x rather than saved.
//
// Sums over pixels first run into one accumulator per pixel column, then over
// the columns: the first pass reads rows of pw lanes contiguously and so
// vectorises (pce-vectorize-generics).
//
//===----------------------------------------------------------------------===//

#include "passes/Autodiff/Adjoint.h"

#include "dialect/PCEOps.h"
#include "passes/Autodiff/AdjointDense.h"
#include "passes/Builders/PCEMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::adjoint;
using namespace mlir::pce::lowering;

namespace {

/// `sum term(inputs...)` into a tensor of `shape` over the loops in `reduced`
/// of a nest whose maps are `maps` (inputs', then the result's).
Value sumInto(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
              ValueRange inputs, ArrayRef<AffineMap> maps,
              ArrayRef<unsigned> reduced, BodyFn term) {
  Value init = filledTensor(b, loc, shape, typeOf(inputs[0]).getElementType(),
                            0.0);
  return buildGeneric(b, loc, inputs, init, maps, reduced,
                      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                        return ArithBuilder(nb, nloc).add(
                            a.back(), term(nb, nloc, a.drop_back()));
                      });
}

/// Sums the last dimension away.
Value sumLastDim(OpBuilder &b, Location loc, Value x) {
  return reduceLastDim(b, loc, x, 0.0,
                       [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                         return ArithBuilder(nb, nloc).add(a[1], a[0]);
                       });
}

/// The product of `a`.
Value product(OpBuilder &nb, Location nloc, ValueRange a) {
  ArithBuilder ab(nb, nloc);
  Value p = a[0];
  for (Value v : a.drop_front())
    p = ab.mul(p, v);
  return p;
}
/// The product of the inputs of a generic's body (`a` minus the output).
Value inputsProduct(OpBuilder &nb, Location nloc, ValueRange a) {
  return product(nb, nloc, a.drop_back());
}

//===----------------------------------------------------------------------===//
// mix
//===----------------------------------------------------------------------===//

struct MixAdjoint final : AdjointOpInterface::ExternalModel<MixAdjoint, MixOp> {
  FailureOr<SmallVector<Value>>
  buildAdjoint(Operation *operation, OpBuilder &b, ValueRange operands,
               ValueRange results, ValueRange, ValueRange resultGrads) const {
    auto op = cast<MixOp>(operation);
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value w = operands[0], y = operands[1];
    Value g = orZeros(b, loc, resultGrads[0], results[0].getType());
    RankedTensorType yType = typeOf(y);
    ArrayRef<int64_t> ys = yType.getShape(); // [B,P,E,Co,ph,pw]
    Type element = yType.getElementType();
    AffineMap identity6 = AffineMap::getMultiDimIdentityMap(6, ctx);

    // The gradient of the weighted experts w y: g itself (sum) or the
    // projection's transpose applied to it (concat).
    Value gz;
    Value wc3;
    if (op.getKind() == MixKind::concat) {
      int64_t outChannels = typeOf(g).getShape()[2];
      wc3 = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({outChannels, ys[2], ys[3]}, element),
          operands[2], SmallVector<ReassociationIndices>{{0}, {1, 2}});
      gz = concatProjectionTransposed(b, loc, g, operands[2], yType);
    }

    // gy = w gz; loops (b, p, e, c, i, j).
    AffineMap perPatch = loopsMap(ctx, 6, {0, 1, 2});
    Value gy;
    if (gz) {
      gy = buildGeneric(b, loc, {w, gz},
                        tensor::EmptyOp::create(b, loc, ys, element),
                        {perPatch, identity6, identity6}, {}, inputsProduct);
    } else {
      gy = buildGeneric(b, loc, {w, g},
                        tensor::EmptyOp::create(b, loc, ys, element),
                        {perPatch, loopsMap(ctx, 6, {0, 1, 3, 4, 5}), identity6},
                        {}, inputsProduct);
    }

    // gw[b,p,e] = sum_{c,i,j} y gz; loops (b, p, e, c, i, j).
    AffineMap columns = loopsMap(ctx, 6, {0, 1, 2, 5});
    Value gwColumns =
        gz ? sumInto(b, loc, {ys[0], ys[1], ys[2], ys[5]}, {y, gz},
                     {identity6, identity6, columns}, {3, 4}, product)
           : sumInto(b, loc, {ys[0], ys[1], ys[2], ys[5]}, {y, g},
                     {identity6, loopsMap(ctx, 6, {0, 1, 3, 4, 5}), columns},
                     {3, 4}, product);
    Value gw = sumLastDim(b, loc, gwColumns);
    if (op.getKind() == MixKind::sum)
      return SmallVector<Value>{gw, gy};

    // gWc[o,e,c] = sum_{b,p,i,j} g[b,p,o,i,j] w[b,p,e] y[b,p,e,c,i,j];
    // loops (b, p, o, e, c, i, j).
    ArrayRef<int64_t> ws = typeOf(wc3).getShape();
    Value gwcColumns = sumInto(
        b, loc, {ws[0], ws[1], ws[2], ys[5]}, {g, w, y},
        {loopsMap(ctx, 7, {0, 1, 2, 5, 6}), loopsMap(ctx, 7, {0, 1, 3}),
         loopsMap(ctx, 7, {0, 1, 3, 4, 5, 6}), loopsMap(ctx, 7, {2, 3, 4, 6})},
        {0, 1, 5}, product);
    Value gwc = tensor::CollapseShapeOp::create(
        b, loc, sumLastDim(b, loc, gwcColumns),
        SmallVector<ReassociationIndices>{{0}, {1, 2}});
    // gbc[o] = sum_{b,p,i,j} g; loops (b, p, o, i, j).
    Value gbcColumns = sumInto(
        b, loc, {ws[0], ys[5]}, {g},
        {AffineMap::getMultiDimIdentityMap(5, ctx), loopsMap(ctx, 5, {2, 4})},
        {0, 1, 3}, product);
    Value gbc = sumLastDim(b, loc, gbcColumns);
    return SmallVector<Value>{gw, gy, gwc, gbc};
  }
};

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

struct AttentionAdjoint final
    : AdjointOpInterface::ExternalModel<AttentionAdjoint, AttentionOp> {
  FailureOr<SmallVector<Value>>
  buildAdjoint(Operation *operation, OpBuilder &b, ValueRange operands,
               ValueRange results, ValueRange, ValueRange resultGrads) const {
    auto op = cast<AttentionOp>(operation);
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value g = orZeros(b, loc, resultGrads[0], results[0].getType());
    if (op.getKind() == AttentionKind::none)
      return SmallVector<Value>{g};

    Value x = operands[0];
    Value w1 = operands[1], b1 = operands[2], w2 = operands[3], b2 = operands[4];
    RankedTensorType xType = typeOf(x);
    ArrayRef<int64_t> xs = xType.getShape(); // [B,P,Co,ph,pw]
    Type element = xType.getElementType();
    auto elementwise = [&](ValueRange inputs, BodyFn body) {
      return buildElementwise(b, loc, inputs, typeOf(inputs[0]), body);
    };

    // The forward's per-patch values.
    Value squeezed = patchChannelMeans(b, loc, x);                // [B,P,Co]
    Value hiddenPre = contractLastDim(b, loc, squeezed, w1, b1);  // [B,P,Hd]
    Value hidden = elementwise({hiddenPre}, [](OpBuilder &nb, Location nloc,
                                               ValueRange a) -> Value {
      return relu(nb, nloc, a[0]);
    });
    Value logits = contractLastDim(b, loc, hidden, w2, b2);       // [B,P,Co]
    Value gate = elementwise({logits}, [&](OpBuilder &nb, Location nloc,
                                           ValueRange a) -> Value {
      Value one = floatConstant(nb, nloc, element, 1.0);
      Value expNeg = math::ExpOp::create(nb, nloc, arith::NegFOp::create(nb, nloc, a[0]));
      return arith::DivFOp::create(nb, nloc, one,
                                   ArithBuilder(nb, nloc).add(one, expNeg));
    });

    // ggate[b,p,c] = sum_{i,j} g x; then through the sigmoid:
    // glogits = ggate * gate * (1 - gate).
    AffineMap identity = AffineMap::getMultiDimIdentityMap(5, ctx);
    Value ggate = sumLastDim(
        b, loc,
        sumInto(b, loc, {xs[0], xs[1], xs[2], xs[4]}, {g, x},
                {identity, identity, loopsMap(ctx, 5, {0, 1, 2, 4})}, {3},
                product));
    Value glogits = elementwise({ggate, gate}, [&](OpBuilder &nb, Location nloc,
                                                   ValueRange a) -> Value {
      ArithBuilder ab(nb, nloc);
      Value one = floatConstant(nb, nloc, element, 1.0);
      Value slope = ab.mul(a[1], ab.sub(one, a[1]));
      return ab.mul(a[0], slope);
    });
    // The two dense layers' adjoints (AdjointDense.h), loops patch-major.
    const DenseLoops loops = DenseLoops::PatchMajor;
    Value gw2 = denseWeightGrad(b, loc, glogits, hidden, loops);
    Value gb2 = denseBiasGrad(b, loc, glogits, loops);
    Value ghidden = denseInputGrad(b, loc, glogits, w2, /*gate=*/{}, loops);
    Value ghiddenPre = elementwise({ghidden, hiddenPre}, [&](OpBuilder &nb,
                                                             Location nloc,
                                                             ValueRange a) -> Value {
      Value zero = floatConstant(nb, nloc, element, 0.0);
      Value active = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OGT,
                                           a[1], zero);
      return arith::SelectOp::create(nb, nloc, active, a[0], zero);
    });
    Value gw1 = denseWeightGrad(b, loc, ghiddenPre, squeezed, loops);
    Value gb1 = denseBiasGrad(b, loc, ghiddenPre, loops);
    Value gsqueezed = denseInputGrad(b, loc, ghiddenPre, w1, /*gate=*/{}, loops);

    // gx = g * gate + gsqueezed / (ph * pw).
    double pixels = static_cast<double>(xs[3] * xs[4]);
    AffineMap perChannel = loopsMap(ctx, 5, {0, 1, 2});
    Value gx = buildGeneric(
        b, loc, {g, gate, gsqueezed},
        tensor::EmptyOp::create(b, loc, xs, element),
        {identity, perChannel, perChannel, identity}, {},
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value mean = arith::DivFOp::create(
              nb, nloc, a[2], floatConstant(nb, nloc, element, pixels));
          ArithBuilder ab(nb, nloc);
          return ab.add(ab.mul(a[0], a[1]), mean);
        });
    return SmallVector<Value>{gx, gw1, gb1, gw2, gb2};
  }
};

} // namespace

void mlir::pce::adjoint::attachMixAdjoints(MLIRContext *ctx) {
  MixOp::attachInterface<MixAdjoint>(*ctx);
  AttentionOp::attachInterface<AttentionAdjoint>(*ctx);
}
