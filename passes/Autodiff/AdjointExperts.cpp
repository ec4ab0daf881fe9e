//===- AdjointExperts.cpp - training forward and adjoint of pce.experts ---===//
//
// Training semantics (docs/SEMANTICS.md §4, docs/Rationale.md "Training
// semantics decided with the reference"):
//
//   conv   = conv(patches, K)                      [B,P,E,Co,ph,pw], no bias
//   m      = w != 0 under a top-k router (0 < top_k < E) of the consuming
//            pce.mix, else 1                       [B,P,E]
//   n[e]   = ph*pw * sum_{b,p} m[b,p,e]
//   mu     = sum m*conv / n,  var = sum m*(conv - mu)^2 / n   (n > 0)
//          = running statistics                    (n = 0)
//   xhat   = (conv - mu) / sqrt(var + eps)
//   y      = relu(gamma * xhat + beta)
//
// and the batch statistics `batch.<running mean/var>` (the unbiased
// variance; the running value where n = 0). The affine form trains as it
// infers: y = relu(scale * conv + shift).
//
// The adjoint of batch norm over the masked set: every y (routed or not) reads
// the statistics, but only routed entries enter them, so with gpre the
// gradient at gamma * xhat + beta and r = m / n (0 where n = 0):
//
//   gbeta  = sum gpre,  ggamma = sum gpre * xhat       (over every entry)
//   gconv  = gamma / sqrt(var + eps) * (gpre - r * (gbeta + xhat * ggamma))
//
// The convolution's adjoint is two convolutions that the CPU pipeline
// vectorises (pce-vectorize-convolutions): the input gradient is the zero-
// padded output gradient convolved with the flipped, transposed kernels; the
// kernel gradient correlates the patches, with the images as channels, with
// the output gradient.
//
//===----------------------------------------------------------------------===//

#include "passes/Autodiff/Adjoint.h"

#include "dialect/PCEOps.h"
#include "passes/Builders/PCEMath.h"
#include "passes/Builders/RoutedConvolution.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::adjoint;
using namespace mlir::pce::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Builders on [B,P,E,Co,ph,pw] tensors
//===----------------------------------------------------------------------===//

Type elementOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}
ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

/// The map reading operand `v` from the loops (b, p, e, c, i, j) of a 6-D
/// nest over [B,P,E,Co,ph,pw]: 6-D operands, per-patch `[B,P,E]`,
/// per-(expert, channel) `[E,Co]` and per-expert `[E]` ones. Every map reads
/// its loops in increasing order, so that vectorised reads and writes need
/// no transposition.
AffineMap operandMap(MLIRContext *ctx, Value v) {
  switch (shapeOf(v).size()) {
  case 6:
    return AffineMap::getMultiDimIdentityMap(6, ctx);
  case 3:
    return loopsMap(ctx, 6, {0, 1, 2});
  case 2:
    return loopsMap(ctx, 6, {2, 3});
  default:
    return loopsMap(ctx, 6, {2});
  }
}

/// `body(inputs...)` at every element of the 6-D result of `type`; inputs are
/// 6-D, [B,P,E], [E,Co] or [E] (broadcast).
Value elementwise6(OpBuilder &b, Location loc, RankedTensorType type,
                   ValueRange inputs, BodyFn body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value v : inputs)
    maps.push_back(operandMap(ctx, v));
  maps.push_back(AffineMap::getMultiDimIdentityMap(6, ctx));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType());
  return buildGeneric(b, loc, inputs, init, maps, {}, body);
}

/// `sum_{b,p,i,j} term(inputs...)` per (expert, channel): [E, Co]. The sum
/// first runs into one accumulator per pixel column, so that rows of pw
/// lanes vectorise (pce-vectorize-generics), then over the columns.
Value sumPerChannel(OpBuilder &b, Location loc, RankedTensorType type,
                    ValueRange inputs, BodyFn term) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> s = type.getShape();
  Type element = type.getElementType();
  SmallVector<AffineMap> maps;
  for (Value v : inputs)
    maps.push_back(operandMap(ctx, v));
  maps.push_back(loopsMap(ctx, 6, {2, 3, 5}));
  Value init = filledTensor(b, loc, {s[2], s[3], s[5]}, element, 0.0);
  Value columns = buildGeneric(
      b, loc, inputs, init, maps, {0, 1, 4},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value t = term(nb, nloc, a.drop_back());
        return arith::AddFOp::create(nb, nloc, a.back(), t);
      });
  return reduceLastDim(b, loc, columns, 0.0,
                       [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                         return arith::AddFOp::create(nb, nloc, a[1], a[0]);
                       });
}

/// `body(inputs...)` per (expert, channel); inputs are [E,Co] or [E].
Value perChannel(OpBuilder &b, Location loc, RankedTensorType type,
                 ValueRange inputs, BodyFn body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value v : inputs)
    maps.push_back(loopsMap(ctx, 2, shapeOf(v).size() == 2
                                        ? ArrayRef<unsigned>{0, 1}
                                        : ArrayRef<unsigned>{0}));
  maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType());
  return buildGeneric(b, loc, inputs, init, maps, {}, body);
}

Value isPositive(OpBuilder &b, Location loc, Value x) {
  Value zero = floatConstant(b, loc, x.getType(), 0.0);
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
}

//===----------------------------------------------------------------------===//
// The convolution's adjoint
//===----------------------------------------------------------------------===//

/// The gradients of `patches` and `kernels` of `expertsConvolution` from the
/// gradient `gconv [B,P,E,Co,ph,pw]` of its result.
std::pair<Value, Value> convolutionAdjoint(OpBuilder &b, Location loc,
                                           Value patches, Value kernels,
                                           Value gconv) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> k = shapeOf(kernels);
  int64_t kh = k[3], kw = k[4];
  SmallVector<ReassociationIndices> mergeFirstTwo = {{0, 1}, {2}, {3}, {4}};
  Value images = tensor::CollapseShapeOp::create(b, loc, patches, mergeFirstTwo);
  Value filters = tensor::CollapseShapeOp::create(b, loc, kernels, mergeFirstTwo);
  Value grad = tensor::CollapseShapeOp::create(
      b, loc, gconv,
      SmallVector<ReassociationIndices>{{0, 1}, {2, 3}, {4}, {5}}); // [N,F,ph,pw]

  // gimages[n,ci,u,v] = sum_{f,a,b} gpad[n,f,u+a,v+b] * K[f,ci,kh-1-a,kw-1-b]:
  // a valid convolution with the flipped kernels, input and output channels
  // swapped.
  ArrayRef<int64_t> fs = shapeOf(filters); // [F,Cin,kh,kw]
  Value flippedInit =
      tensor::EmptyOp::create(b, loc, {fs[1], fs[0], kh, kw}, elementOf(filters));
  AffineExpr ci, f, a, c;
  bindDims(ctx, ci, f, a, c);
  AffineMap flippedRead =
      AffineMap::get(4, 0, {f, ci, kh - 1 - a, kw - 1 - c}, ctx);
  Value flipped = buildGeneric(
      b, loc, {filters}, flippedInit,
      {flippedRead, AffineMap::getMultiDimIdentityMap(4, ctx)}, {},
      [](OpBuilder &, Location, ValueRange v) { return v[0]; });
  Value gimages = conv2d(b, loc, padLastTwo(b, loc, grad, kh - 1, kw - 1), flipped);
  Value gpatches = tensor::ExpandShapeOp::create(
      b, loc, patches.getType(), gimages,
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});

  // gK[f,ci,a,c] = sum_{n,i,j} images[n,ci,i+a,j+c] * grad[n,f,i,j]: a
  // convolution of the images' channels (batch ci, channels n) with the
  // gradient's (filters f, channels n), result [Cin,F,kh,kw].
  Value gfilters = conv2d(b, loc, transposeTensor(b, loc, images, {1, 0, 2, 3}),
                          transposeTensor(b, loc, grad, {1, 0, 2, 3}));
  Value gkernels = tensor::ExpandShapeOp::create(
      b, loc, kernels.getType(), transposeTensor(b, loc, gfilters, {1, 0, 2, 3}),
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});
  return {gpatches, gkernels};
}

//===----------------------------------------------------------------------===//
// The routed mask
//===----------------------------------------------------------------------===//

/// The routing weights whose non-zero entries select the patches of each
/// expert's batch statistics (the weights of a pce.mix reading `op` under a
/// top-k router), or null when every patch counts. Fails when those weights
/// are computed after `op`.
FailureOr<Value> routedWeights(ExpertsOp op, AdjointContext &ctx) {
  int64_t experts = shapeOf(op.getKernels())[0];
  for (Operation *user : op.getResult().getUsers()) {
    auto mix = dyn_cast<MixOp>(user);
    if (!mix || mix.getExperts() != op.getResult())
      continue;
    auto route = mix.getWeights().getDefiningOp<RouteOp>();
    if (!route)
      return Value();
    int64_t topK = route.getTopK();
    if (topK <= 0 || topK >= experts)
      return Value();
    Value weights = ctx.lookup(mix.getWeights());
    if (!weights) {
      op.emitError("the routing weights that select the patches of the "
                   "experts' batch statistics must be computed before them");
      return failure();
    }
    return weights;
  }
  return Value();
}

/// Whether the convolution may skip the pairs a top-k router dropped: when
/// the consuming mix is the only reader of the experts' result, their
/// outputs there are multiplied by a zero weight and receive no gradient.
bool convolvesRoutedOnly(ExpertsOp op) { return op->hasOneUse(); }

//===----------------------------------------------------------------------===//
// The external model
//===----------------------------------------------------------------------===//

struct ExpertsAdjoint final
    : AdjointOpInterface::ExternalModel<ExpertsAdjoint, ExpertsOp> {
  FailureOr<TrainingForward> buildTrainingForward(Operation *op, OpBuilder &b,
                                                  ValueRange operands,
                                                  AdjointContext &ctx) const;
  FailureOr<SmallVector<Value>>
  buildAdjoint(Operation *op, OpBuilder &b, ValueRange operands,
               ValueRange results, ValueRange saved,
               ValueRange resultGrads) const;
};

FailureOr<TrainingForward>
ExpertsAdjoint::buildTrainingForward(Operation *operation, OpBuilder &b,
                                     ValueRange operands,
                                     AdjointContext &ctx) const {
  auto op = cast<ExpertsOp>(operation);
  Location loc = op.getLoc();
  bool affine = op.getBn().empty();
  FailureOr<Value> weights = routedWeights(op, ctx);
  if (failed(weights)) {
    if (!affine)
      return failure();
    weights = Value(); // affine statistics need no mask: compute densely
  }
  bool sparse = *weights && ctx.routedConvolutions() && convolvesRoutedOnly(op);
  Value conv = sparse ? routedExpertsConvolution(b, loc, operands[0],
                                                 operands[1], *weights)
                      : expertsConvolution(b, loc, operands[0], operands[1]);
  auto type = cast<RankedTensorType>(conv.getType());
  Type element = type.getElementType();
  ArrayRef<int64_t> s = type.getShape();
  TrainingForward forward;

  if (affine) { // as in inference
    forward.results.push_back(
        scaleShiftRelu(b, loc, conv, operands[2], operands[3]));
    forward.saved.push_back(conv);
    if (sparse)
      forward.saved.push_back(*weights);
    return forward;
  }
  Value gamma = operands[2], beta = operands[3];
  Value runningMean = operands[4], runningVar = operands[5];
  auto channelsType = cast<RankedTensorType>(gamma.getType());
  double pixels = static_cast<double>(s[4] * s[5]);

  // The mask m and the count n[e] of the (patch, pixel)s it selects.
  Value mask, count;
  auto expertsType = RankedTensorType::get({s[2]}, element);
  if (*weights) {
    mask = buildElementwise(
        b, loc, {*weights}, cast<RankedTensorType>((*weights).getType()),
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value zero = floatConstant(nb, nloc, element, 0.0);
          Value one = floatConstant(nb, nloc, element, 1.0);
          Value routed = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::UNE, a[0], zero);
          return arith::SelectOp::create(nb, nloc, routed, one, zero);
        });
    MLIRContext *mctx = b.getContext();
    Value init = filledTensor(b, loc, expertsType.getShape(), element, 0.0);
    count = buildGeneric(
        b, loc, {mask}, init,
        {AffineMap::getMultiDimIdentityMap(3, mctx), loopsMap(mctx, 3, {2})},
        {0, 1},
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value n = arith::MulFOp::create(
              nb, nloc, a[0], floatConstant(nb, nloc, element, pixels));
          return arith::AddFOp::create(nb, nloc, a[1], n);
        });
  } else {
    count = filledTensor(b, loc, expertsType.getShape(), element,
                         static_cast<double>(s[0] * s[1]) * pixels);
  }
  auto masked = [&](ValueRange inputs) {
    SmallVector<Value> all(inputs);
    if (mask)
      all.push_back(mask);
    return all;
  };
  auto applyMask = [&](OpBuilder &nb, Location nloc, ValueRange a,
                       Value term) -> Value {
    return mask ? arith::MulFOp::create(nb, nloc, a.back(), term).getResult()
                : term;
  };
  // `stat / n` where n > 0, else the running statistic.
  auto normalise = [&](Value sum, Value running) {
    return perChannel(
        b, loc, channelsType, {sum, count, running},
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value zero = floatConstant(nb, nloc, element, 0.0);
          Value any = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OGT,
                                            a[1], zero);
          Value mean = arith::DivFOp::create(nb, nloc, a[0], a[1]);
          return arith::SelectOp::create(nb, nloc, any, mean, a[2]);
        });
  };

  // Two passes (mean, then centred squares) as the reference computes them.
  Value sum = sumPerChannel(
      b, loc, type, masked({conv}),
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        return applyMask(nb, nloc, a, a[0]);
      });
  Value mean = normalise(sum, runningMean);
  Value squares = sumPerChannel(
      b, loc, type, masked({conv, mean}),
      [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value centred = arith::SubFOp::create(nb, nloc, a[0], a[1]);
        Value square = arith::MulFOp::create(nb, nloc, centred, centred);
        return applyMask(nb, nloc, a, square);
      });
  Value var = normalise(squares, runningVar);
  double eps = op.getEps().convertToDouble();
  Value invStd = perChannel(
      b, loc, channelsType, {var},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value shifted = arith::AddFOp::create(
            nb, nloc, a[0], floatConstant(nb, nloc, element, eps));
        Value std = math::SqrtOp::create(nb, nloc, shifted);
        return arith::DivFOp::create(
            nb, nloc, floatConstant(nb, nloc, element, 1.0), std);
      });
  Value xhat = elementwise6(
      b, loc, type, {conv, mean, invStd},
      [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value centred = arith::SubFOp::create(nb, nloc, a[0], a[1]);
        return arith::MulFOp::create(nb, nloc, centred, a[2]);
      });
  forward.results.push_back(scaleShiftRelu(b, loc, xhat, gamma, beta));

  // What the running statistics move towards: the batch mean and the
  // unbiased batch variance (factor 1 for a single value), or the running
  // value itself where no patch chose the expert (mean and var are then
  // the running statistics already).
  StringRef meanName = ctx.parameterName(op.getBn()[2]);
  if (!meanName.empty())
    ctx.addResult(("batch." + meanName).str(), mean);
  StringRef varName = ctx.parameterName(op.getBn()[3]);
  if (!varName.empty()) {
    Value unbiased = perChannel(
        b, loc, channelsType, {var, count},
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value one = floatConstant(nb, nloc, element, 1.0);
          Value several = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::OGT, a[1], one);
          Value less = arith::SubFOp::create(nb, nloc, a[1], one);
          Value ratio = arith::DivFOp::create(nb, nloc, a[1], less);
          Value factor = arith::SelectOp::create(nb, nloc, several, ratio, one);
          return arith::MulFOp::create(nb, nloc, a[0], factor);
        });
    ctx.addResult(("batch." + varName).str(), unbiased);
  }

  forward.saved = {xhat, invStd};
  if (mask) {
    // r = m / n: the share of each routed entry in its expert's statistics.
    Value share = buildGeneric(
        b, loc, {mask, count},
        tensor::EmptyOp::create(b, loc, shapeOf(mask), element),
        {AffineMap::getMultiDimIdentityMap(3, b.getContext()),
         loopsMap(b.getContext(), 3, {2}),
         AffineMap::getMultiDimIdentityMap(3, b.getContext())},
        {}, [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value zero = floatConstant(nb, nloc, element, 0.0);
          Value routed = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::UNE, a[0], zero);
          Value inverse = arith::DivFOp::create(
              nb, nloc, floatConstant(nb, nloc, element, 1.0), a[1]);
          return arith::SelectOp::create(nb, nloc, routed, inverse, zero);
        });
    forward.saved.push_back(share);
  }
  // The weights mark the routed pairs for the adjoint's convolutions; they
  // are saved only when the forward convolved those pairs alone.
  if (sparse)
    forward.saved.push_back(*weights);
  return forward;
}

FailureOr<SmallVector<Value>>
ExpertsAdjoint::buildAdjoint(Operation *operation, OpBuilder &b,
                             ValueRange operands, ValueRange results,
                             ValueRange saved, ValueRange resultGrads) const {
  auto op = cast<ExpertsOp>(operation);
  Location loc = op.getLoc();
  auto type = cast<RankedTensorType>(results[0].getType());
  Type element = type.getElementType();
  ArrayRef<int64_t> s = type.getShape();
  auto channelsType = cast<RankedTensorType>(operands[2].getType());
  Value gy = orZeros(b, loc, resultGrads[0], type);
  Value scale = operands[2], shift = operands[3];

  // The gradient at the ReLU's input, and its sums per (expert, channel)
  // alone and times the normalised (bn) or raw (affine) convolution.
  auto reluGrad = [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
    // a = gy, x, scale, shift
    Value scaled = arith::MulFOp::create(nb, nloc, a[2], a[1]);
    Value pre = arith::AddFOp::create(nb, nloc, scaled, a[3]);
    Value zero = floatConstant(nb, nloc, element, 0.0);
    return arith::SelectOp::create(nb, nloc, isPositive(nb, nloc, pre), a[0],
                                   zero);
  };
  Value x = saved[0]; // xhat (bn) or conv (affine)
  Value gshift = sumPerChannel(b, loc, type, {gy, x, scale, shift}, reluGrad);
  Value gscale = sumPerChannel(
      b, loc, type, {gy, x, scale, shift},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        return arith::MulFOp::create(nb, nloc, reluGrad(nb, nloc, a), a[1]);
      });

  Value gconv;
  if (op.getBn().empty()) {
    gconv = elementwise6(b, loc, type, {gy, x, scale, shift},
                         [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                           return arith::MulFOp::create(
                               nb, nloc, reluGrad(nb, nloc, a), a[2]);
                         });
  } else {
    // gconv = gamma * invstd * (gpre - r * (gbeta + xhat * ggamma)); r is
    // 1 / n everywhere when every patch counts.
    Value invStd = saved[1];
    Value coefficient = perChannel(
        b, loc, channelsType, {scale, invStd},
        [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          return arith::MulFOp::create(nb, nloc, a[0], a[1]);
        });
    SmallVector<Value> inputs = {gy, x, scale, shift, coefficient, gshift,
                                 gscale};
    bool routed = saved.size() > 2;
    if (routed)
      inputs.push_back(saved[2]);
    double dense = 1.0 / static_cast<double>(s[0] * s[1] * s[4] * s[5]);
    gconv = elementwise6(
        b, loc, type, inputs,
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value gpre = reluGrad(nb, nloc, a.take_front(4));
          Value share =
              routed ? a[7] : floatConstant(nb, nloc, element, dense);
          Value slope = arith::MulFOp::create(nb, nloc, a[1], a[6]);
          Value statistics = arith::AddFOp::create(nb, nloc, a[5], slope);
          Value shared = arith::MulFOp::create(nb, nloc, share, statistics);
          Value own = arith::SubFOp::create(nb, nloc, gpre, shared);
          return arith::MulFOp::create(nb, nloc, a[4], own);
        });
  }

  // The routing weights, saved last when the forward convolved only the
  // routed pairs: gconv is zero on the others.
  bool sparse = saved.size() == (op.getBn().empty() ? 2u : 4u);
  auto [gpatches, gkernels] =
      sparse ? routedConvolutionAdjoint(b, loc, operands[0], operands[1],
                                        saved.back(), gconv)
             : convolutionAdjoint(b, loc, operands[0], operands[1], gconv);
  SmallVector<Value> grads = {gpatches, gkernels, gscale, gshift};
  grads.resize(operands.size()); // none for the running statistics
  return grads;
}

} // namespace

void mlir::pce::adjoint::attachExpertsAdjoint(MLIRContext *ctx) {
  ExpertsOp::attachInterface<ExpertsAdjoint>(*ctx);
}
