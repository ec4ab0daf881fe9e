//===- PCEMath.cpp - the PCE math shared by lowerings and adjoints --------===//

#include "passes/Builders/PCEMath.h"

#include "dialect/PCEConstants.h"
#include "dialect/PCEShapes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

namespace mlir::pce::lowering {

CosineLogits cosineLogits(OpBuilder &b, Location loc, Value emb, Value keys,
                          Value logTau, double tau) {
  MLIRContext *ctx = b.getContext();
  Value dot = contractLastDim(b, loc, emb, keys, /*bias=*/nullptr); // [B,P,E]
  Value embSq = rowSquares(b, loc, emb);                             // [B,P]
  Value keySq = rowSquares(b, loc, keys);                            // [E]
  auto type = cast<RankedTensorType>(dot.getType());
  Type element = type.getElementType();

  SmallVector<Value> inputs = {dot, embSq, keySq};
  SmallVector<AffineMap> maps = {loopsMap(ctx, 3, {0, 1, 2}),
                                 loopsMap(ctx, 3, {0, 1}),
                                 loopsMap(ctx, 3, {2})};
  if (logTau) {
    inputs.push_back(logTau);
    maps.push_back(AffineMap::get(3, 0, ctx)); // 0-d: the same scalar everywhere
  }
  maps.push_back(loopsMap(ctx, 3, {0, 1, 2}));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  Value logits = buildGeneric(
      b, loc, inputs, init, maps, {},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value embNorm = math::SqrtOp::create(nb, nloc, a[1]);
        Value keyNorm = math::SqrtOp::create(nb, nloc, a[2]);
        Value norms = arith::MulFOp::create(nb, nloc, embNorm, keyNorm);
        Value floor = floatConstant(nb, nloc, element, kCosineNormFloor);
        Value denom = arith::MaximumFOp::create(nb, nloc, norms, floor);
        Value cosine = arith::DivFOp::create(nb, nloc, a[0], denom);
        Value temperature = logTau ? Value(math::ExpOp::create(nb, nloc, a[3]))
                                   : floatConstant(nb, nloc, element, tau);
        return arith::DivFOp::create(nb, nloc, cosine, temperature);
      });
  return {logits, embSq, keySq};
}

Value rowSquares(OpBuilder &b, Location loc, Value x) {
  return reduceLastDim(b, loc, x, 0.0,
                       [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                         Value sq = arith::MulFOp::create(nb, nloc, a[0], a[0]);
                         return arith::AddFOp::create(nb, nloc, a[1], sq);
                       });
}

Value unitRows(OpBuilder &b, Location loc, Value x, Value squares) {
  Type element = cast<RankedTensorType>(x.getType()).getElementType();
  return combineWithRow(
      b, loc, x, squares,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value norm = math::SqrtOp::create(nb, nloc, a[1]);
        Value floor = floatConstant(nb, nloc, element, kCosineNormFloor);
        Value denom = arith::MaximumFOp::create(nb, nloc, norm, floor);
        return arith::DivFOp::create(nb, nloc, a[0], denom);
      });
}

MlpLogits mlpLogits(OpBuilder &b, Location loc, Value emb, ValueRange mlp,
                    const MlpOptions &options) {
  MlpLogits result;
  result.input = emb;
  if (options.normalizeInput) {
    result.embSquares = rowSquares(b, loc, emb);
    result.input = unitRows(b, loc, emb, result.embSquares);
  }
  Value hidden = contractLastDim(b, loc, result.input, mlp[0], mlp[1]);
  auto hiddenType = cast<RankedTensorType>(hidden.getType());
  Value activation =
      options.linearHidden
          ? hidden
          : buildElementwise(
                b, loc, {hidden}, hiddenType,
                [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                  Value zero = floatConstant(
                      nb, nloc, hiddenType.getElementType(), 0.0);
                  return arith::MaximumFOp::create(nb, nloc, a[0], zero);
                });
  result.hidden = activation;
  if (!options.cosineHead) {
    result.logits = contractLastDim(b, loc, activation, mlp[2], mlp[3]);
    return result;
  }
  CosineLogits head =
      cosineLogits(b, loc, activation, mlp[2], options.logTau, options.tau);
  result.logits = head.logits;
  result.hiddenSquares = head.embSquares;
  result.headSquares = head.keySquares;
  return result;
}

Value topKRanks(OpBuilder &b, Location loc, Value weights) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(weights.getType());
  unsigned rank = type.getRank();
  Type countType = b.getI64Type();
  Value emptyRank = tensor::EmptyOp::create(b, loc, type.getShape(), countType);
  Value zero = arith::ConstantOp::create(b, loc, countType,
                                         b.getIntegerAttr(countType, 0));
  Value rankInit =
      linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{emptyRank})
          .getResult(0);
  // Loops (..., e, e'), e' reduced.
  unsigned e = rank - 1, other = rank;
  SmallVector<unsigned> own = firstLoops(rank), others = firstLoops(rank - 1);
  others.push_back(other);
  AffineMap maps[] = {loopsMap(ctx, rank + 1, own),
                      loopsMap(ctx, rank + 1, others),
                      loopsMap(ctx, rank + 1, own)};
  return buildGeneric(
      b, loc, {weights, weights}, rankInit, maps, {other},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value self = linalg::IndexOp::create(nb, nloc, e);
        Value rival = linalg::IndexOp::create(nb, nloc, other);
        Value greater = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OGT,
                                              a[1], a[0]);
        Value equal = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ,
                                            a[1], a[0]);
        Value lower = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ult,
                                            rival, self);
        Value tieAhead = arith::AndIOp::create(nb, nloc, equal, lower);
        Value ahead = arith::OrIOp::create(nb, nloc, greater, tieAhead);
        Value one = arith::ExtUIOp::create(nb, nloc, countType, ahead);
        return arith::AddIOp::create(nb, nloc, a[2], one);
      });
}

/// The per-(expert, channel) scale and shift of inference batch norm:
/// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`.
std::pair<Value, Value> foldBatchNorm(OpBuilder &b, Location loc, ValueRange bn,
                                      double eps) {
  auto type = cast<RankedTensorType>(bn[0].getType());
  Type element = type.getElementType();
  Value scale = buildElementwise(
      b, loc, {bn[0], bn[3]}, type,
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value epsilon = floatConstant(nb, nloc, element, eps);
        Value var = arith::AddFOp::create(nb, nloc, a[1], epsilon);
        Value std = math::SqrtOp::create(nb, nloc, var);
        return arith::DivFOp::create(nb, nloc, a[0], std);
      });
  Value shift = buildElementwise(
      b, loc, {bn[1], bn[2], scale}, type,
      [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value centre = arith::MulFOp::create(nb, nloc, a[1], a[2]);
        return arith::SubFOp::create(nb, nloc, a[0], centre);
      });
  return {scale, shift};
}

Value expertsConvolution(OpBuilder &b, Location loc, Value patches,
                         Value kernels) {
  auto patchesType = cast<RankedTensorType>(patches.getType());
  ArrayRef<int64_t> p = patchesType.getShape();
  ArrayRef<int64_t> k = cast<RankedTensorType>(kernels.getType()).getShape();
  Type element = patchesType.getElementType();
  // Every patch is an image and every (expert, channel) a filter of one
  // NCHW convolution: [B,P,Cin,Hp,Wp] -> [N,Cin,Hp,Wp], [E,Co,Cin,k,k] ->
  // [E*Co,Cin,k,k].
  SmallVector<ReassociationIndices> mergeFirstTwo = {{0, 1}, {2}, {3}, {4}};
  Value images =
      tensor::CollapseShapeOp::create(b, loc, patches, mergeFirstTwo);
  Value filters =
      tensor::CollapseShapeOp::create(b, loc, kernels, mergeFirstTwo);
  int64_t height = p[3] - k[3] + 1, width = p[4] - k[4] + 1;
  Value conv = conv2d(b, loc, images, filters);
  auto type = RankedTensorType::get({p[0], p[1], k[0], k[1], height, width},
                                    element);
  return tensor::ExpandShapeOp::create(
      b, loc, type, conv,
      SmallVector<ReassociationIndices>{{0, 1}, {2, 3}, {4}, {5}});
}

std::pair<Value, Value> expertsScaleShift(OpBuilder &b, Location loc,
                                          ValueRange bn, ValueRange affine,
                                          double eps) {
  if (bn.empty())
    return {affine[0], affine[1]};
  return foldBatchNorm(b, loc, bn, eps);
}

Value expertActivation(OpBuilder &b, Location loc, Value x, Value scale,
                       Value shift) {
  Value scaled = scale ? arith::MulFOp::create(b, loc, scale, x) : x;
  Value shifted = arith::AddFOp::create(b, loc, scaled, shift);
  return relu(b, loc, shifted);
}

Value scaleShiftRelu(OpBuilder &b, Location loc, Value x, Value scale,
                     Value shift) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  AffineMap identity = AffineMap::getMultiDimIdentityMap(6, ctx);
  AffineMap perFilter = loopsMap(ctx, 6, {2, 3});
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType());
  bool scaled = !isSplatOne(scale);
  SmallVector<Value> inputs = {x};
  SmallVector<AffineMap> maps = {identity};
  if (scaled) {
    inputs.push_back(scale);
    maps.push_back(perFilter);
  }
  inputs.push_back(shift);
  maps.append({perFilter, identity});
  return buildGeneric(
      b, loc, inputs, init, maps, {},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        return scaled ? expertActivation(nb, nloc, a[0], a[1], a[2])
                      : expertActivation(nb, nloc, a[0], Value(), a[1]);
      });
}

Value inferenceExperts(OpBuilder &b, Location loc, Value patches,
                       Value kernels, ValueRange bn, ValueRange affine,
                       double eps) {
  Value conv = expertsConvolution(b, loc, patches, kernels);
  auto [scale, shift] = expertsScaleShift(b, loc, bn, affine, eps);
  return scaleShiftRelu(b, loc, conv, scale, shift);
}

Value patchChannelMeans(OpBuilder &b, Location loc, Value x) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  ArrayRef<int64_t> shape = type.getShape();
  SmallVector<int64_t> meanShape = {shape[0], shape[1], shape[2]};
  Value init = filledTensor(b, loc, meanShape, element, 0.0);
  AffineMap maps[] = {AffineMap::getMultiDimIdentityMap(5, ctx),
                      loopsMap(ctx, 5, {0, 1, 2})};
  Value sum = buildGeneric(b, loc, {x}, init, maps, {3, 4},
                           [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                             return arith::AddFOp::create(nb, nloc, a[1], a[0]);
                           });
  double count = static_cast<double>(shape[3] * shape[4]);
  return buildElementwise(
      b, loc, {sum}, cast<RankedTensorType>(sum.getType()),
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        return arith::DivFOp::create(nb, nloc, a[0],
                                     floatConstant(nb, nloc, element, count));
      });
}

//===----------------------------------------------------------------------===//
// Patching and embedding (LowerPatching.cpp, LowerEmbed.cpp and their adjoints)
//===----------------------------------------------------------------------===//

Value extractCore(OpBuilder &b, Location loc, Value patches, int64_t radius) {
  if (radius == 0)
    return patches;
  ArrayRef<int64_t> s = cast<RankedTensorType>(patches.getType()).getShape();
  SmallVector<OpFoldResult> offsets =
      getAsIndexOpFoldResult(b.getContext(), {0, 0, 0, radius, radius});
  SmallVector<OpFoldResult> sizes = getAsIndexOpFoldResult(
      b.getContext(), {s[0], s[1], s[2], s[3] - 2 * radius, s[4] - 2 * radius});
  SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, patches, offsets, sizes,
                                        strides);
}

/// [B, P, Co, ph, pw] -> [B, nph, npw, Co, ph, pw] -> [B, Co, nph, ph, npw, pw]
/// -> [B, Co, nph*ph, npw*pw].
Value unpatchifyGrid(OpBuilder &b, Location loc, Value patches, int64_t nph,
                     int64_t npw) {
  auto type = cast<RankedTensorType>(patches.getType());
  Type elemType = type.getElementType();
  ArrayRef<int64_t> s = type.getShape(); // B, P, Co, ph, pw
  auto gridType =
      RankedTensorType::get({s[0], nph, npw, s[2], s[3], s[4]}, elemType);
  Value grid = tensor::ExpandShapeOp::create(
      b, loc, gridType, patches,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}, {4}, {5}});

  SmallVector<int64_t> permutation = {0, 3, 1, 4, 2, 5};
  Value init = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{s[0], s[2], nph, s[3], npw, s[4]}, elemType);
  Value moved = linalg::TransposeOp::create(b, loc, grid, init, permutation)
                    .getResult()[0];

  auto imageType =
      RankedTensorType::get({s[0], s[2], nph * s[3], npw * s[4]}, elemType);
  return tensor::CollapseShapeOp::create(
      b, loc, imageType, moved,
      ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}, {4, 5}});
}

Value embedConv1x1(OpBuilder &b, Location loc, Value core, Value weight,
                   Value bias) {
  auto coreType = cast<RankedTensorType>(core.getType());
  ArrayRef<int64_t> s = coreType.getShape(); // B, P, Cin, ph, pw
  int64_t de = cast<RankedTensorType>(weight.getType()).getDimSize(0);
  Type elemType = coreType.getElementType();
  auto zType = RankedTensorType::get({s[0], s[1], de, s[3], s[4]}, elemType);

  Value empty = tensor::EmptyOp::create(b, loc, zType.getShape(), elemType);
  Value init = linalg::BroadcastOp::create(b, loc, bias, empty,
                                           ArrayRef<int64_t>{0, 1, 3, 4})
                   .getResult()[0];

  // Loops (b, p, d, i, j, c); c is reduced.
  MLIRContext *ctx = b.getContext();
  AffineMap maps[] = {loopsMap(ctx, 6, {0, 1, 5, 3, 4}),
                      loopsMap(ctx, 6, {2, 5}),
                      loopsMap(ctx, 6, {0, 1, 2, 3, 4})};
  return buildGeneric(b, loc, {core, weight}, init, maps, {5},
                      [](OpBuilder &b, Location loc, ValueRange args) -> Value {
                        Value prod =
                            arith::MulFOp::create(b, loc, args[0], args[1]);
                        return arith::AddFOp::create(b, loc, args[2], prod);
                      });
}

namespace {

/// The largest extent of the `bins` adaptive pooling bins over `size` rows.
int64_t maxBinExtent(int64_t size, int64_t bins) {
  int64_t extent = 0;
  for (int64_t u = 0; u < bins; ++u) {
    auto [begin, end] = shapes::poolBin(size, bins, u);
    extent = std::max(extent, end - begin);
  }
  return extent;
}

/// Row `begin(u) + k` of bin `u`, clamped to the bin's last row: a window
/// wider than the bin re-reads that row, which leaves the max unchanged, so
/// no mask is needed and no read leaves `z`.
Value binRow(OpBuilder &b, Location loc, IndexConstants &c, Value u, Value k,
             int64_t size, int64_t bins) {
  // begin = floor(u*size/bins), end = ceil((u+1)*size/bins), as
  // shapes::poolBin.
  Value scaled = arith::MulIOp::create(b, loc, u, c(size));
  Value begin = arith::DivUIOp::create(b, loc, scaled, c(bins));
  Value endNumerator =
      arith::AddIOp::create(b, loc, scaled, c(size + bins - 1));
  Value end = arith::DivUIOp::create(b, loc, endNumerator, c(bins));
  Value last = arith::SubIOp::create(b, loc, end, c(1));
  Value row = arith::AddIOp::create(b, loc, begin, k);
  return arith::MinUIOp::create(b, loc, row, last);
}

/// One level of sppMaxPool: `[B, P, De*l*l]`, and its argmax when asked.
Value maxPoolLevel(OpBuilder &b, Location loc, Value z, int64_t level,
                   Value *argmax) {
  auto zType = cast<RankedTensorType>(z.getType());
  ArrayRef<int64_t> s = zType.getShape(); // B, P, De, ph, pw
  auto elemType = cast<FloatType>(zType.getElementType());
  int64_t ph = s[3], pw = s[4];
  int64_t kh = maxBinExtent(ph, level), kw = maxBinExtent(pw, level);

  auto pooledType =
      RankedTensorType::get({s[0], s[1], s[2], level, level}, elemType);
  // -inf, not 0: embeddings can be negative.
  SmallVector<Value> inits = {
      filledTensor(b, loc, pooledType.getShape(), elemType,
                   -std::numeric_limits<double>::infinity())};
  // -1: no element taken yet.
  if (argmax)
    inits.push_back(
        filledTensor(b, loc, pooledType.getShape(), elemType, -1.0));

  // Loops (b, p, d, u, v, ki, kj); the window offsets ki, kj are reduced.
  // z is read with tensor.extract: bin bounds are not affine in (u, ki). The
  // unread `window` operand only gives ki, kj their extents, as in
  // linalg.pooling_* ops.
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps = {loopsMap(ctx, 7, {5, 6})};
  maps.append(inits.size(), loopsMap(ctx, 7, {0, 1, 2, 3, 4}));
  Value window =
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{kh, kw}, elemType);
  SmallVector<utils::IteratorType> iterators(5, utils::IteratorType::parallel);
  iterators.append(2, utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, ValueRange(inits).getTypes(), ValueRange{window}, inits, maps,
      iterators, [&](OpBuilder &b, Location loc, ValueRange args) {
        Value idx[7];
        for (unsigned k = 0; k < 7; ++k)
          idx[k] = linalg::IndexOp::create(b, loc, k);
        IndexConstants c(b, loc);
        Value row = binRow(b, loc, c, idx[3], idx[5], ph, level);
        Value col = binRow(b, loc, c, idx[4], idx[6], pw, level);
        Value value = tensor::ExtractOp::create(
            b, loc, z, ValueRange{idx[0], idx[1], idx[2], row, col});
        // maximumf propagates NaN, as PyTorch's max pooling does.
        SmallVector<Value> yields = {
            arith::MaximumFOp::create(b, loc, args[1], value)};
        if (argmax) {
          // PyTorch's rule `val > max || isnan(val)`, visiting the bin in
          // row-major order (re-read clamped rows and columns come after
          // their first visit and change nothing), starting from the first.
          Value best = args[1], bestIndex = args[2];
          Value greater = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OGT, value, best);
          Value isNan = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO,
                                              value, value);
          Value first = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OLT, bestIndex,
              floatConstant(b, loc, elemType, 0.0));
          Value take = arith::OrIOp::create(
              b, loc, arith::OrIOp::create(b, loc, greater, isNan), first);
          Value flat = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, row, c(pw)), col);
          Value flatF = arith::UIToFPOp::create(
              b, loc, elemType,
              arith::IndexCastUIOp::create(b, loc, b.getI64Type(), flat));
          yields.push_back(
              arith::SelectOp::create(b, loc, take, flatF, bestIndex));
        }
        linalg::YieldOp::create(b, loc, yields);
      });

  auto flatType =
      RankedTensorType::get({s[0], s[1], s[2] * level * level}, elemType);
  auto flatten = [&](Value pooled) -> Value {
    return tensor::CollapseShapeOp::create(
        b, loc, flatType, pooled,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3, 4}});
  };
  if (argmax)
    *argmax = flatten(generic.getResult(1));
  return flatten(generic.getResult(0));
}

} // namespace

Value sppMaxPool(OpBuilder &b, Location loc, Value z, ArrayRef<int64_t> levels,
                 Value *argmax) {
  auto zType = cast<RankedTensorType>(z.getType());
  ArrayRef<int64_t> s = zType.getShape(); // B, P, De, ph, pw
  Type elemType = zType.getElementType();
  int64_t bins = 0;
  for (int64_t level : levels)
    bins += level * level;
  SmallVector<int64_t> shape = {s[0], s[1], s[2] * bins};
  Value result = tensor::EmptyOp::create(b, loc, shape, elemType);
  if (argmax)
    *argmax = tensor::EmptyOp::create(b, loc, shape, elemType);
  // Levels are concatenated in order along the last dimension.
  int64_t offset = 0;
  for (int64_t level : levels) {
    Value levelArgmax;
    Value pooled =
        maxPoolLevel(b, loc, z, level, argmax ? &levelArgmax : nullptr);
    int64_t width = cast<RankedTensorType>(pooled.getType()).getDimSize(2);
    SmallVector<OpFoldResult> offsets =
        getAsIndexOpFoldResult(b.getContext(), {0, 0, offset});
    SmallVector<OpFoldResult> sizes =
        getAsIndexOpFoldResult(b.getContext(), {s[0], s[1], width});
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    result = tensor::InsertSliceOp::create(b, loc, pooled, result, offsets,
                                           sizes, strides);
    if (argmax)
      *argmax = tensor::InsertSliceOp::create(b, loc, levelArgmax, *argmax,
                                              offsets, sizes, strides);
    offset += width;
  }
  return result;
}

/// `x [K, F]` as 1x1 filters `[K, F, 1, 1]`.
static Value asPointFilters(OpBuilder &b, Location loc, Value x) {
  ArrayRef<int64_t> s = typeOf(x).getShape();
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({s[0], s[1], 1, 1}, typeOf(x).getElementType()),
      x, SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
}

Value concatProjection(OpBuilder &b, Location loc, Value weights,
                       Value experts, Value wc, Value bc) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType yType = typeOf(experts);
  ArrayRef<int64_t> y = yType.getShape(); // [B,P,E,Co,ph,pw]
  Type element = yType.getElementType();
  int64_t outChannels = typeOf(wc).getShape()[0];
  AffineMap identity = AffineMap::getMultiDimIdentityMap(6, ctx);
  Value weighted = buildGeneric(
      b, loc, {weights, experts}, tensor::EmptyOp::create(b, loc, y, element),
      {loopsMap(ctx, 6, {0, 1, 2}), identity, identity}, {},
      [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        return arith::MulFOp::create(nb, nloc, a[0], a[1]);
      });
  Value images = tensor::CollapseShapeOp::create(
      b, loc, weighted,
      SmallVector<ReassociationIndices>{{0, 1}, {2, 3}, {4}, {5}});
  Value empty = tensor::EmptyOp::create(
      b, loc, {y[0] * y[1], outChannels, y[4], y[5]}, element);
  Value init = linalg::BroadcastOp::create(b, loc, bc, empty,
                                           ArrayRef<int64_t>{0, 2, 3})
                   .getResult()[0];
  Value out = linalg::Conv2DNchwFchwOp::create(
                  b, loc, TypeRange{init.getType()},
                  ValueRange{images, asPointFilters(b, loc, wc)}, ValueRange{init})
                  .getResult(0);
  return tensor::ExpandShapeOp::create(
      b, loc,
      RankedTensorType::get({y[0], y[1], outChannels, y[4], y[5]}, element), out,
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});
}

Value concatProjectionTransposed(OpBuilder &b, Location loc, Value g,
                                 Value wc, RankedTensorType type) {
  // type: [B,P,E,Co,ph,pw]; wc: [Co', E*Co]
  Value wcT = transposeTensor(b, loc, wc, {1, 0});
  Value images = tensor::CollapseShapeOp::create(
      b, loc, g, SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});
  Value gz = conv2d(b, loc, images, asPointFilters(b, loc, wcT));
  return tensor::ExpandShapeOp::create(
      b, loc, type, gz,
      SmallVector<ReassociationIndices>{{0, 1}, {2, 3}, {4}, {5}});
}

} // namespace mlir::pce::lowering
