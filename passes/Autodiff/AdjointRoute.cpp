//===- AdjointRoute.cpp - training forward and adjoint of pce.route -------===//
//
// Training semantics (docs/SEMANTICS.md §3):
//
//   uniform   w = 1/E                                  (as inference)
//   position  w = softmax(beta * onehot(table[p]) + sigma * xi), xi ~ N(0, 1)
//   cosine    w = softmax(l),  l = cos(emb, k_e) / tau
//   gumbel    w = softmax((l + g) / gumbel_tau), g ~ Gumbel(0, 1); with `hard`
//             the one-hot of its argmax, differentiated as the soft weights
//             (straight-through)
//   mlp       w = softmax(W2 h + b2), h = relu(W1 u + b1), u = emb or, with
//             normalize_input, emb / max(|emb|, 1e-12); with cosine_head
//             w = softmax(cos(h, W2_e) / tau), differentiated as the cosine
//             router with h for the embeddings and W2 for the keys; with
//             linear_hidden h = W1 u + b1 (no ReLU, so no gate)
//
// then top-k: the k largest values are kept (ties to the lower expert) and,
// with `renormalize`, divided by their sum. The adjoint runs the chain
// backwards: through the kept weights (and the renormalisation), the softmax,
// then the logits' parameters. Uniform and position routers read nothing
// trainable, so nothing receives a gradient from them.
//
//===----------------------------------------------------------------------===//

#include "passes/Autodiff/Adjoint.h"

#include "dialect/PCEConstants.h"
#include "dialect/PCEOps.h"
#include "passes/Autodiff/AdjointCosine.h"
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

//===----------------------------------------------------------------------===//
// What a router's training forward saves for its adjoint
//===----------------------------------------------------------------------===//

/// The `k` of an active top-k, or 0 when the router is dense (`top_k = 0` or
/// `top_k >= E` keep every weight and do not renormalise).
int64_t activeTopK(RouteOp op) {
  int64_t k = op.getTopK();
  return k > 0 && k < op.getType().getShape()[2] ? k : 0;
}

bool readsKeys(RouteOp op) {
  return op.getKind() == RouterKind::cosine ||
         op.getKind() == RouterKind::gumbel;
}

bool isTrainable(RouteOp op) {
  return readsKeys(op) || op.getKind() == RouterKind::mlp;
}

/// The saved values, in the order they cross to `<f>_backward`. Which of them
/// exist follows from the op's kind and options alone.
struct Saved {
  Value soft;                   // the softmax the gradient flows through
  Value logits;                 // cosine, gumbel, mlp cosine head: cos / tau
  Value embSquares, keySquares; // cosine, gumbel: |emb|^2, |k_e|^2;
                                // mlp with normalize_input: |emb|^2
  Value hidden;                 // mlp: relu(W1 u + b1)
  Value hiddenSquares;          // mlp cosine head: |hidden|^2
  Value headSquares;            // mlp cosine head: |W2_e|^2
  Value mask;                   // top-k: 1 where a weight is kept, else 0
  Value keptSum;                // top-k with renormalize: sum of kept weights

  SmallVector<Value> pack() const {
    SmallVector<Value> values;
    for (Value v : {soft, logits, embSquares, keySquares, hidden, hiddenSquares,
                    headSquares, mask, keptSum})
      if (v)
        values.push_back(v);
    return values;
  }

  static FailureOr<Saved> unpack(RouteOp op, ValueRange values) {
    Saved s;
    SmallVector<Value *> slots = {&s.soft};
    if (readsKeys(op))
      slots.append({&s.logits, &s.embSquares, &s.keySquares});
    if (op.getKind() == RouterKind::mlp) {
      if (op.getCosineHead())
        slots.push_back(&s.logits);
      if (op.getNormalizeInput())
        slots.push_back(&s.embSquares);
      slots.push_back(&s.hidden);
      if (op.getCosineHead())
        slots.append({&s.hiddenSquares, &s.headSquares});
    }
    if (activeTopK(op)) {
      slots.push_back(&s.mask);
      if (op.getRenormalize())
        slots.push_back(&s.keptSum);
    }
    if (slots.size() != values.size())
      return failure();
    for (auto [slot, v] : llvm::zip(slots, values))
      *slot = v;
    return s;
  }
};

//===----------------------------------------------------------------------===//
// Training forward pieces
//===----------------------------------------------------------------------===//

Type elementOf(Value v) { return typeOf(v).getElementType(); }

/// `1` where `rank < k`, else `0`, in the element type of `like`.
Value rankBelow(OpBuilder &b, Location loc, Value rank, int64_t k,
                RankedTensorType like) {
  return buildElementwise(
      b, loc, {rank}, like,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Type countType = nb.getI64Type();
        Value limit = arith::ConstantOp::create(
            nb, nloc, countType, nb.getIntegerAttr(countType, k));
        Value kept = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::slt,
                                           a[0], limit);
        Type element = like.getElementType();
        return arith::SelectOp::create(nb, nloc, kept,
                                       floatConstant(nb, nloc, element, 1.0),
                                       floatConstant(nb, nloc, element, 0.0));
      });
}

/// The position router's logits `beta * onehot(table[p]) + sigma * xi`.
Value positionLogits(OpBuilder &b, Location loc, RouteOp op, Value noise) {
  RankedTensorType type = op.getType();
  int64_t numPatches = type.getShape()[1], numExperts = type.getShape()[2];
  Type element = type.getElementType();
  double beta = op.getBeta().convertToDouble();
  SmallVector<Attribute> values;
  values.reserve(numPatches * numExperts);
  for (int64_t p = 0; p < numPatches; ++p) {
    int64_t chosen = op.getTable() ? (*op.getTable())[p] : p % numExperts;
    for (int64_t e = 0; e < numExperts; ++e)
      values.push_back(b.getFloatAttr(element, e == chosen ? beta : 0.0));
  }
  auto tableType = RankedTensorType::get({numPatches, numExperts}, element);
  Value table = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(tableType, values));

  MLIRContext *ctx = b.getContext();
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  AffineMap maps[] = {loopsMap(ctx, 3, {1, 2}), loopsMap(ctx, 3, {0, 1, 2}),
                      loopsMap(ctx, 3, {0, 1, 2})};
  double sigma = op.getSigma().convertToDouble();
  return buildGeneric(b, loc, {table, noise}, init, maps, {},
                      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                        ArithBuilder ab(nb, nloc);
                        Value scale = floatConstant(nb, nloc, element, sigma);
                        return ab.add(a[0], ab.mul(scale, a[1]));
                      });
}

/// The Gumbel-softmax's logits `(l + g) / gumbel_tau`.
Value gumbelLogits(OpBuilder &b, Location loc, RouteOp op, Value logits,
                   Value noise) {
  double gumbelTau = op.getGumbelTau().convertToDouble();
  return buildElementwise(
      b, loc, {logits, noise}, typeOf(logits),
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value tau = floatConstant(nb, nloc, elementOf(logits), gumbelTau);
        return arith::DivFOp::create(
            nb, nloc, ArithBuilder(nb, nloc).add(a[0], a[1]), tau);
      });
}

/// The one-hot of each row's argmax (ties to the lower index).
Value oneHotArgmax(OpBuilder &b, Location loc, Value weights) {
  return rankBelow(b, loc, topKRanks(b, loc, weights), 1, typeOf(weights));
}

/// The top-k of `weights`: sets `mask` (and `keptSum` when renormalising) in
/// `saved` and returns the router's result.
Value applyTopK(OpBuilder &b, Location loc, RouteOp op, Value weights,
                Saved &saved) {
  int64_t k = activeTopK(op);
  if (!k)
    return weights;
  saved.mask =
      rankBelow(b, loc, topKRanks(b, loc, weights), k, typeOf(weights));
  Value kept = buildElementwise(
      b, loc, {weights, saved.mask}, typeOf(weights),
      [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        return ArithBuilder(nb, nloc).mul(a[0], a[1]);
      });
  if (!op.getRenormalize())
    return kept;
  saved.keptSum = reduceLastDim(
      b, loc, kept, 0.0, [](OpBuilder &nb, Location nloc, ValueRange a) {
        return ArithBuilder(nb, nloc).add(a[1], a[0]);
      });
  return combineWithRow(b, loc, kept, saved.keptSum,
                        [](OpBuilder &nb, Location nloc, ValueRange a) {
                          return arith::DivFOp::create(nb, nloc, a[0], a[1])
                              .getResult();
                        });
}

//===----------------------------------------------------------------------===//
// Adjoint pieces (rank-3 operands: [B, P, .])
//===----------------------------------------------------------------------===//

/// `sum_e x[b, p, e] * y[b, p, e]`, [B, P].
Value rowDot(OpBuilder &b, Location loc, Value x, Value y) {
  MLIRContext *ctx = b.getContext();
  Value init = filledTensor(b, loc, typeOf(x).getShape().drop_back(),
                            elementOf(x), 0.0);
  AffineMap all = loopsMap(ctx, 3, {0, 1, 2});
  AffineMap maps[] = {all, all, loopsMap(ctx, 3, {0, 1})};
  return buildGeneric(b, loc, {x, y}, init, maps, {2}, multiplyAdd);
}

/// The gradient of the dense weights from that of the top-k result `out`:
/// `mask * g`, or with renormalisation `mask * (g - <g, out>) / keptSum`.
Value backThroughTopK(OpBuilder &b, Location loc, Value grad, Value out,
                      const Saved &saved) {
  if (!saved.keptSum)
    return buildElementwise(b, loc, {grad, saved.mask}, typeOf(grad),
                            [](OpBuilder &nb, Location nloc, ValueRange a) {
                              return ArithBuilder(nb, nloc).mul(a[0], a[1]);
                            });
  MLIRContext *ctx = b.getContext();
  Value dot = rowDot(b, loc, grad, out);
  AffineMap all = loopsMap(ctx, 3, {0, 1, 2}), row = loopsMap(ctx, 3, {0, 1});
  AffineMap maps[] = {all, all, row, row, all};
  Value init = tensor::EmptyOp::create(b, loc, typeOf(grad).getShape(),
                                       elementOf(grad));
  return buildGeneric(
      b, loc, {grad, saved.mask, dot, saved.keptSum}, init, maps, {},
      [](OpBuilder &nb, Location nloc, ValueRange a) {
        ArithBuilder ab(nb, nloc);
        Value centred = arith::DivFOp::create(nb, nloc, ab.sub(a[0], a[2]), a[3]);
        return ab.mul(a[1], centred);
      });
}

/// The gradient of the softmax's logits, times `scale`:
/// `scale * soft * (g - <g, soft>)`.
Value backThroughSoftmax(OpBuilder &b, Location loc, Value grad, Value soft,
                         double scale) {
  MLIRContext *ctx = b.getContext();
  Value dot = rowDot(b, loc, grad, soft);
  AffineMap all = loopsMap(ctx, 3, {0, 1, 2});
  AffineMap maps[] = {all, all, loopsMap(ctx, 3, {0, 1}), all};
  Value init = tensor::EmptyOp::create(b, loc, typeOf(grad).getShape(),
                                       elementOf(grad));
  Type element = elementOf(grad);
  return buildGeneric(
      b, loc, {grad, soft, dot}, init, maps, {},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        ArithBuilder ab(nb, nloc);
        Value g = ab.mul(a[1], ab.sub(a[0], a[2]));
        if (scale == 1.0)
          return g;
        return ab.mul(g, floatConstant(nb, nloc, element, scale));
      });
}

/// The gradient of `x` from that of its unit rows `u = x / max(|x|, floor)`
/// (kCosineNormFloor, as lowering::unitRows): `(g - u <g, u>) / |x|` where
/// the floor is not hit, `g / floor` where it is.
Value backThroughUnitRows(OpBuilder &b, Location loc, Value grad, Value unit,
                          Value squares) {
  MLIRContext *ctx = b.getContext();
  Value dot = rowDot(b, loc, grad, unit);
  AffineMap all = loopsMap(ctx, 3, {0, 1, 2}), row = loopsMap(ctx, 3, {0, 1});
  AffineMap maps[] = {all, all, row, row, all};
  Type element = elementOf(grad);
  Value init =
      tensor::EmptyOp::create(b, loc, typeOf(grad).getShape(), element);
  return buildGeneric(
      b, loc, {grad, unit, dot, squares}, init, maps, {},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        ArithBuilder ab(nb, nloc);
        Value norm = math::SqrtOp::create(nb, nloc, a[3]);
        Value floor = floatConstant(nb, nloc, element, kCosineNormFloor);
        Value floored = arith::CmpFOp::create(
            nb, nloc, arith::CmpFPredicate::OLT, norm, floor);
        Value tangent =
            ab.select(floored, a[0], ab.sub(a[0], ab.mul(a[1], a[2])));
        Value denom = arith::MaximumFOp::create(nb, nloc, norm, floor);
        return arith::DivFOp::create(nb, nloc, tangent, denom);
      });
}

/// The MLP router's parameter and input gradients; `emb` is the gradient of
/// its first layer's input (the embeddings, or their unit rows).
struct MlpGrads {
  Value emb, w1, b1, w2, b2, logTau;
};

/// The dense layers' adjoints (AdjointDense.h) are built with the summed
/// loops innermost.
constexpr DenseLoops kMlpLoops = DenseLoops::SumsInnermost;

/// The first layer's gradients from `preActivation`, that of `W1 input + b1`.
void backThroughFirstLayer(OpBuilder &b, Location loc, Value preActivation,
                           Value input, ValueRange mlp, MlpGrads &g) {
  g.b1 = denseBiasGrad(b, loc, preActivation, kMlpLoops);
  g.w1 = denseWeightGrad(b, loc, preActivation, input, kMlpLoops);
  g.emb = denseInputGrad(b, loc, preActivation, mlp[0], /*gate=*/{}, kMlpLoops);
}

/// From `grad`, that of the logits `W2 h + b2`, `h = relu(W1 input + b1)`
/// (or, `linear`, `W1 input + b1`); the ReLU's adjoint is fused into the
/// second layer's input gradient.
MlpGrads backThroughMlp(OpBuilder &b, Location loc, Value grad, Value input,
                        ValueRange mlp, Value hidden, bool linear) {
  MlpGrads g;
  g.b2 = denseBiasGrad(b, loc, grad, kMlpLoops);
  g.w2 = denseWeightGrad(b, loc, grad, hidden, kMlpLoops);
  Value gate = linear ? Value() : hidden;
  backThroughFirstLayer(
      b, loc, denseInputGrad(b, loc, grad, mlp[2], gate, kMlpLoops), input,
      mlp, g);
  return g;
}

/// `g` where `hidden > 0`, else 0: the ReLU's adjoint.
Value backThroughRelu(OpBuilder &b, Location loc, Value grad, Value hidden) {
  Type element = elementOf(grad);
  return buildElementwise(
      b, loc, {grad, hidden}, typeOf(grad),
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value zero = floatConstant(nb, nloc, element, 0.0);
        Value active = arith::CmpFOp::create(
            nb, nloc, arith::CmpFPredicate::OGT, a[1], zero);
        return arith::SelectOp::create(nb, nloc, active, a[0], zero);
      });
}


//===----------------------------------------------------------------------===//
// The adjoint
//===----------------------------------------------------------------------===//

struct RouteAdjoint final
    : AdjointOpInterface::ExternalModel<RouteAdjoint, RouteOp> {
  FailureOr<TrainingForward>
  buildTrainingForward(Operation *operation, OpBuilder &b, ValueRange operands,
                       AdjointContext &ctx) const {
    auto op = cast<RouteOp>(operation);
    RouteOp::Adaptor adaptor(operands, op);
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    if (!type.hasStaticShape() || type.getRank() != 3) {
      op.emitError("training needs a static [B, P, E] result");
      return failure();
    }
    if (isTrainable(op) && typeOf(adaptor.getInput()).getRank() != 3) {
      op.emitError("training needs embeddings [B, P, D]");
      return failure();
    }

    Saved saved;
    Value weights;
    switch (op.getKind()) {
    case RouterKind::uniform:
      return cloneForTraining(b, op, operands);
    case RouterKind::position: {
      if (op.getSigma().convertToDouble() == 0.0)
        return cloneForTraining(b, op, operands);
      Value noise = ctx.addNoiseInput(TrainingNoise::Normal, type);
      if (!noise)
        return failure();
      weights = softmaxLastDim(b, loc, positionLogits(b, loc, op, noise));
      break;
    }
    case RouterKind::cosine:
    case RouterKind::gumbel: {
      CosineLogits cosine =
          cosineLogits(b, loc, adaptor.getInput(), adaptor.getKeys(),
                       adaptor.getLogTau(), op.getTauValue());
      saved.logits = cosine.logits;
      saved.embSquares = cosine.embSquares;
      saved.keySquares = cosine.keySquares;
      if (op.getKind() == RouterKind::cosine) {
        weights = saved.soft = softmaxLastDim(b, loc, cosine.logits);
        break;
      }
      Value noise = ctx.addNoiseInput(TrainingNoise::Gumbel, type);
      if (!noise)
        return failure();
      saved.soft =
          softmaxLastDim(b, loc, gumbelLogits(b, loc, op, cosine.logits, noise));
      // Straight-through: the adjoint differentiates `soft` instead.
      weights = op.getHard() ? oneHotArgmax(b, loc, saved.soft) : saved.soft;
      break;
    }
    case RouterKind::mlp: {
      MlpLogits mlp = mlpLogits(b, loc, adaptor.getInput(), adaptor.getMlp(),
                                mlpOptions(op, adaptor.getLogTau()));
      saved.hidden = mlp.hidden;
      saved.embSquares = mlp.embSquares;
      if (op.getCosineHead()) {
        saved.logits = mlp.logits;
        saved.hiddenSquares = mlp.hiddenSquares;
        saved.headSquares = mlp.headSquares;
      }
      weights = saved.soft = softmaxLastDim(b, loc, mlp.logits);
      break;
    }
    }
    TrainingForward forward;
    forward.results.push_back(applyTopK(b, loc, op, weights, saved));
    // A position router has no adjoint to read anything.
    if (isTrainable(op))
      forward.saved = saved.pack();
    return forward;
  }

  FailureOr<SmallVector<Value>>
  buildAdjoint(Operation *operation, OpBuilder &b, ValueRange operands,
               ValueRange results, ValueRange savedValues,
               ValueRange resultGrads) const {
    auto op = cast<RouteOp>(operation);
    SmallVector<Value> grads(op->getNumOperands());
    if (!isTrainable(op) || !resultGrads[0])
      return grads;
    FailureOr<Saved> saved = Saved::unpack(op, savedValues);
    if (failed(saved)) {
      op.emitError("unexpected saved values of the route adjoint");
      return failure();
    }
    RouteOp::Adaptor adaptor(operands, op);
    Location loc = op.getLoc();

    Value grad = resultGrads[0];
    if (saved->mask)
      grad = backThroughTopK(b, loc, grad, results[0], *saved);
    // The Gumbel softmax divides its logits by gumbel_tau.
    double scale = op.getKind() == RouterKind::gumbel
                       ? 1.0 / op.getGumbelTau().convertToDouble()
                       : 1.0;
    Value logitGrad = backThroughSoftmax(b, loc, grad, saved->soft, scale);

    auto segment = [&](unsigned index) {
      return op.getODSOperandIndexAndLength(index).first;
    };
    unsigned input = segment(0);
    if (op.getKind() == RouterKind::mlp) {
      Value emb = adaptor.getInput(), unit;
      if (op.getNormalizeInput())
        unit = unitRows(b, loc, emb, saved->embSquares);
      Value firstInput = unit ? unit : emb;
      ValueRange params = adaptor.getMlp();
      MlpGrads g;
      if (op.getCosineHead()) {
        // The head is the cosine router of the hidden features against W2.
        CosineGrads head = backThroughCosine(
            b, loc, op.getTauValue(), logitGrad, adaptor.getLogTau(),
            {saved->logits, saved->hiddenSquares, saved->headSquares},
            saved->hidden, params[2]);
        g.w2 = head.keys;
        g.logTau = head.logTau;
        Value preActivation =
            op.getLinearHidden()
                ? head.emb
                : backThroughRelu(b, loc, head.emb, saved->hidden);
        backThroughFirstLayer(b, loc, preActivation, firstInput, params, g);
      } else {
        g = backThroughMlp(b, loc, logitGrad, firstInput, params,
                           saved->hidden, op.getLinearHidden());
      }
      unsigned mlp = segment(2);
      grads[input] =
          unit ? backThroughUnitRows(b, loc, g.emb, unit, saved->embSquares)
               : g.emb;
      grads[mlp] = g.w1;
      grads[mlp + 1] = g.b1;
      grads[mlp + 2] = g.w2;
      if (g.b2)
        grads[mlp + 3] = g.b2;
      if (g.logTau)
        grads[segment(3)] = g.logTau;
      return grads;
    }
    CosineGrads g = backThroughCosine(
        b, loc, op.getTauValue(), logitGrad, adaptor.getLogTau(),
        {saved->logits, saved->embSquares, saved->keySquares},
        adaptor.getInput(), adaptor.getKeys());
    grads[input] = g.emb;
    grads[segment(1)] = g.keys;
    if (g.logTau)
      grads[segment(3)] = g.logTau;
    return grads;
  }
};

} // namespace

void mlir::pce::adjoint::attachRouteAdjoint(MLIRContext *ctx) {
  RouteOp::attachInterface<RouteAdjoint>(*ctx);
}
