//===- AdjointEmbed.cpp - training forward and adjoint of pce.embed -------===//
//
// emb = spp_max_pool(z), z = We * core + be (docs/SEMANTICS.md §2). The
// training forward is the inference one, built here from the lowering's
// builders so that it can also record each pooling bin's argmax (the flat
// index `i*pw + j` of its maximum in the core, PyTorch's tie rule) as the one
// saved value. The adjoint then runs
//
//   dz[b,p,d,i,j] = sum of demb over the bins (of every level) whose argmax
//                   is (i, j): a gather over the few bins containing (i, j)
//   dbe[d]        = sum_{b,p,i,j} dz[b,p,d,i,j]
//   dWe[d,c]      = sum_{b,p,i,j} dz[b,p,d,i,j] * core[b,p,c,i,j]
//   dpatches      = sum_d We[d,c] * dz[b,p,d,i,j] on the core, 0 on the halo
//
// (every input channel, coordinates included: patchify's adjoint drops those).
//
//===----------------------------------------------------------------------===//

#include "passes/Autodiff/Adjoint.h"

#include "dialect/PCEOps.h"
#include "dialect/PCEShapes.h"
#include "passes/Builders/PCEMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/APFloat.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::adjoint;
using namespace mlir::pce::lowering;

namespace {

/// The most pooling bins of `bins` over `size` rows that contain one row
/// (bins overlap when `size` is not a multiple of `bins`).
int64_t maxBinsPerRow(int64_t size, int64_t bins) {
  int64_t most = 0;
  for (int64_t i = 0; i < size; ++i) {
    int64_t count = 0;
    for (int64_t u = 0; u < bins; ++u) {
      auto [begin, end] = shapes::poolBin(size, bins, u);
      count += begin <= i && i < end;
    }
    most = std::max(most, count);
  }
  return most;
}

/// `t[:, :, offset : offset + De*l*l]` as `[B, P, De, l, l]`.
Value levelSlice(OpBuilder &b, Location loc, Value t, int64_t offset,
                 int64_t de, int64_t level) {
  ArrayRef<int64_t> s = typeOf(t).getShape(); // B, P, D
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> offsets =
      getAsIndexOpFoldResult(ctx, {0, 0, offset});
  SmallVector<OpFoldResult> sizes =
      getAsIndexOpFoldResult(ctx, {s[0], s[1], de * level * level});
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  Value slice =
      tensor::ExtractSliceOp::create(b, loc, t, offsets, sizes, strides);
  auto type = RankedTensorType::get({s[0], s[1], de, level, level},
                                    typeOf(t).getElementType());
  return tensor::ExpandShapeOp::create(
      b, loc, type, slice, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3, 4}});
}

/// Adds to `dz [B, P, De, ph, pw]` the gradient of one pyramid level:
/// `grad` and `argmax` are `[B, P, De, l, l]`. Row `i` lies in bins
/// `u = floor(i*l/ph) .. floor(((i+1)*l - 1)/ph)` (shapes::poolBin solved
/// for u), at most `maxBinsPerRow` of them, so loops (b, p, d, i, j, ku, kv)
/// reduce over those candidates instead of all `l*l` bins.
Value addLevelGradient(OpBuilder &b, Location loc, Value dz, Value grad,
                       Value argmax, int64_t level) {
  RankedTensorType zType = typeOf(dz);
  Type element = zType.getElementType();
  int64_t ph = zType.getDimSize(3), pw = zType.getDimSize(4);
  Value window = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<int64_t>{maxBinsPerRow(ph, level), maxBinsPerRow(pw, level)},
      element);
  MLIRContext *ctx = b.getContext();
  AffineMap maps[] = {loopsMap(ctx, 7, {5, 6}),
                      loopsMap(ctx, 7, {0, 1, 2, 3, 4})};
  return buildGeneric(
      b, loc, {window}, dz, maps, {5, 6},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        IndexConstants index(b, loc);
        Value idx[7];
        for (unsigned k = 0; k < 7; ++k)
          idx[k] = linalg::IndexOp::create(b, loc, k);
        // The k-th bin containing row `i` of `size`, clamped to the last one
        // (and whether it exists).
        auto bin = [&](Value i, Value k,
                       int64_t size) -> std::pair<Value, Value> {
          Value scaled = arith::MulIOp::create(b, loc, i, index(level));
          Value first = arith::DivUIOp::create(b, loc, scaled, index(size));
          Value last = arith::DivUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, scaled, index(level - 1)),
              index(size));
          Value u = arith::AddIOp::create(b, loc, first, k);
          Value exists =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, u, last);
          return {arith::MinUIOp::create(b, loc, u, last), exists};
        };
        auto [u, rowExists] = bin(idx[3], idx[5], ph);
        auto [v, colExists] = bin(idx[4], idx[6], pw);
        SmallVector<Value> at = {idx[0], idx[1], idx[2], u, v};
        Value chosen = tensor::ExtractOp::create(b, loc, argmax, at);
        Value flat = arith::AddIOp::create(
            b, loc, arith::MulIOp::create(b, loc, idx[3], index(pw)), idx[4]);
        Value flatF = arith::UIToFPOp::create(
            b, loc, element,
            arith::IndexCastUIOp::create(b, loc, b.getI64Type(), flat));
        Value hit = arith::AndIOp::create(
            b, loc, arith::AndIOp::create(b, loc, rowExists, colExists),
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, chosen,
                                  flatF));
        Value g = tensor::ExtractOp::create(b, loc, grad, at);
        Value term = arith::SelectOp::create(
            b, loc, hit, g, floatConstant(b, loc, element, 0.0));
        return arith::AddFOp::create(b, loc, args[1], term);
      });
}

struct EmbedAdjoint final
    : AdjointOpInterface::ExternalModel<EmbedAdjoint, EmbedOp> {
  FailureOr<TrainingForward> buildTrainingForward(Operation *op, OpBuilder &b,
                                                  ValueRange operands,
                                                  AdjointContext &) const {
    auto embed = cast<EmbedOp>(op);
    Location loc = op->getLoc();
    // The argmax is saved in the element type: exact while ph*pw fits in its
    // significand (always for f32 and f64 in practice).
    RankedTensorType patchesType = typeOf(operands[0]);
    auto element = cast<FloatType>(patchesType.getElementType());
    int64_t r = embed.getRadius();
    int64_t cells = (patchesType.getDimSize(3) - 2 * r) *
                    (patchesType.getDimSize(4) - 2 * r);
    unsigned precision =
        llvm::APFloat::semanticsPrecision(element.getFloatSemantics());
    if (precision < 63 && cells > (int64_t(1) << precision)) {
      op->emitError("patch cores of ")
          << cells << " pixels have argmax indices that " << element
          << " cannot hold exactly";
      return failure();
    }

    Value core = extractCore(b, loc, operands[0], r);
    Value z = embedConv1x1(b, loc, core, operands[1], operands[2]);
    TrainingForward forward;
    Value argmax;
    forward.results.push_back(
        sppMaxPool(b, loc, z, embed.getLevels(), &argmax));
    forward.saved.push_back(argmax);
    return forward;
  }

  FailureOr<SmallVector<Value>>
  buildAdjoint(Operation *op, OpBuilder &b, ValueRange operands, ValueRange,
               ValueRange saved, ValueRange resultGrads) const {
    auto embed = cast<EmbedOp>(op);
    Location loc = op->getLoc();
    Value grad = resultGrads[0];
    if (!grad)
      return SmallVector<Value>(3, Value());
    if (saved.size() != 1)
      return failure();
    Value patches = operands[0], weight = operands[1];
    Value argmax = saved[0];
    RankedTensorType patchesType = typeOf(patches);
    Type element = patchesType.getElementType();
    int64_t r = embed.getRadius();
    Value core = extractCore(b, loc, patches, r);
    ArrayRef<int64_t> s = typeOf(core).getShape(); // B, P, Cin, ph, pw
    int64_t de = typeOf(weight).getDimSize(0);

    Value dz = filledTensor(b, loc, {s[0], s[1], de, s[3], s[4]}, element, 0.0);
    int64_t offset = 0;
    for (int64_t level : embed.getLevels()) {
      dz = addLevelGradient(
          b, loc, dz, levelSlice(b, loc, grad, offset, de, level),
          levelSlice(b, loc, argmax, offset, de, level), level);
      offset += de * level * level;
    }

    MLIRContext *ctx = b.getContext();
    // dbe: loops (b, p, d, i, j).
    Value dBias = buildGeneric(
        b, loc, {dz}, filledTensor(b, loc, {de}, element, 0.0),
        {loopsMap(ctx, 5, {0, 1, 2, 3, 4}), loopsMap(ctx, 5, {2})},
        {0, 1, 3, 4}, [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return arith::AddFOp::create(b, loc, args[1], args[0]);
        });
    // dWe: loops (b, p, d, c, i, j), so that one patch's dz and core stay in
    // cache while every (d, c) pair reads them.
    Value dWeight = buildGeneric(
        b, loc, {dz, core}, filledTensor(b, loc, {de, s[2]}, element, 0.0),
        {loopsMap(ctx, 6, {0, 1, 2, 4, 5}), loopsMap(ctx, 6, {0, 1, 3, 4, 5}),
         loopsMap(ctx, 6, {2, 3})},
        {0, 1, 4, 5}, multiplyAdd);
    // dpatches: the core's gradient, loops (b, p, c, i, j, d), accumulated
    // in place into the core of a zero tensor of the patches' shape.
    Value dPatches = filledTensor(b, loc, patchesType.getShape(), element, 0.0);
    Value dCore = extractCore(b, loc, dPatches, r);
    dCore = buildGeneric(b, loc, {weight, dz}, dCore,
                         {loopsMap(ctx, 6, {5, 2}),
                          loopsMap(ctx, 6, {0, 1, 5, 3, 4}),
                          loopsMap(ctx, 6, {0, 1, 2, 3, 4})},
                         {5}, multiplyAdd);
    if (r > 0) {
      SmallVector<OpFoldResult> offsets =
          getAsIndexOpFoldResult(ctx, {0, 0, 0, r, r});
      SmallVector<OpFoldResult> sizes = getAsIndexOpFoldResult(ctx, s);
      SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
      dPatches = tensor::InsertSliceOp::create(b, loc, dCore, dPatches, offsets,
                                               sizes, strides);
    } else {
      dPatches = dCore;
    }
    return SmallVector<Value>{dPatches, dWeight, dBias};
  }
};

} // namespace

void mlir::pce::adjoint::attachEmbedAdjoint(MLIRContext *ctx) {
  EmbedOp::attachInterface<EmbedAdjoint>(*ctx);
}
