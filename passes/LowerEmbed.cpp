//===- LowerEmbed.cpp - pce.embed to linalg -------------------------------===//
//
// The patch embedding of docs/SEMANTICS.md §2 in three steps: slice out the
// patch cores, a 1x1 convolution (a linalg.generic reducing over channels,
// starting from the broadcast bias), then per pyramid level one max-pooling
// linalg.generic whose result is flattened and inserted into the embedding.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "dialect/PCEShapes.h"
#include "passes/Lowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/DenseMap.h"

#include <limits>

using namespace mlir;
using namespace mlir::pce;

namespace {

/// patches[:, :, :, r:r+ph, r:r+pw].
Value extractCore(OpBuilder &b, Location loc, Value patches, int64_t radius,
                  int64_t ph, int64_t pw) {
  if (radius == 0)
    return patches;
  auto type = cast<RankedTensorType>(patches.getType());
  ArrayRef<int64_t> s = type.getShape();
  SmallVector<OpFoldResult> offsets =
      getAsIndexOpFoldResult(b.getContext(), {0, 0, 0, radius, radius});
  SmallVector<OpFoldResult> sizes =
      getAsIndexOpFoldResult(b.getContext(), {s[0], s[1], s[2], ph, pw});
  SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, patches, offsets, sizes,
                                        strides);
}

/// z[b,p,d,i,j] = bias[d] + sum_c weight[d,c] * core[b,p,c,i,j].
Value conv1x1(OpBuilder &b, Location loc, Value core, Value weight,
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
  AffineExpr bb, p, d, i, j, c;
  bindDims(ctx, bb, p, d, i, j, c);
  SmallVector<AffineMap> maps = {AffineMap::get(6, 0, {bb, p, c, i, j}, ctx),
                                 AffineMap::get(6, 0, {d, c}, ctx),
                                 AffineMap::get(6, 0, {bb, p, d, i, j}, ctx)};
  SmallVector<utils::IteratorType> iterators(5, utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{zType}, ValueRange{core, weight}, ValueRange{init},
      maps, iterators, [](OpBuilder &b, Location loc, ValueRange args) {
        Value prod = arith::MulFOp::create(b, loc, args[0], args[1]);
        linalg::YieldOp::create(
            b, loc, ValueRange{arith::AddFOp::create(b, loc, args[2], prod)});
      });
  return generic.getResult(0);
}

/// The largest extent of the `bins` adaptive pooling bins over `size` rows.
int64_t maxBinExtent(int64_t size, int64_t bins) {
  int64_t extent = 0;
  for (int64_t u = 0; u < bins; ++u) {
    auto [begin, end] = shapes::poolBin(size, bins, u);
    extent = std::max(extent, end - begin);
  }
  return extent;
}

/// Index constants of one linalg body, each built once at its first use.
class IndexConstants {
public:
  IndexConstants(OpBuilder &b, Location loc) : b(b), loc(loc) {}
  Value operator()(int64_t v) {
    Value &c = cache[v];
    if (!c)
      c = arith::ConstantIndexOp::create(b, loc, v);
    return c;
  }

private:
  OpBuilder &b;
  Location loc;
  llvm::DenseMap<int64_t, Value> cache;
};

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

/// Adaptive max pooling of z [B, P, De, ph, pw] to [B, P, De, l, l],
/// flattened channel-major to [B, P, De*l*l].
Value poolLevel(OpBuilder &b, Location loc, Value z, int64_t level) {
  auto zType = cast<RankedTensorType>(z.getType());
  ArrayRef<int64_t> s = zType.getShape(); // B, P, De, ph, pw
  auto elemType = cast<FloatType>(zType.getElementType());
  int64_t ph = s[3], pw = s[4];
  int64_t kh = maxBinExtent(ph, level), kw = maxBinExtent(pw, level);

  auto pooledType =
      RankedTensorType::get({s[0], s[1], s[2], level, level}, elemType);
  Value empty =
      tensor::EmptyOp::create(b, loc, pooledType.getShape(), elemType);
  // -inf, not 0: embeddings can be negative.
  Value minusInf = arith::ConstantOp::create(
      b, loc, elemType,
      b.getFloatAttr(elemType, -std::numeric_limits<double>::infinity()));
  Value init =
      linalg::FillOp::create(b, loc, ValueRange{minusInf}, ValueRange{empty})
          .getResult(0);

  // Loops (b, p, d, u, v, ki, kj); the window offsets ki, kj are reduced.
  // z is read with tensor.extract: bin bounds are not affine in (u, ki). The
  // unread `window` operand only gives ki, kj their extents, as in
  // linalg.pooling_* ops.
  MLIRContext *ctx = b.getContext();
  AffineExpr bb, p, d, u, v, ki, kj;
  bindDims(ctx, bb, p, d, u, v, ki, kj);
  SmallVector<AffineMap> maps = {AffineMap::get(7, 0, {ki, kj}, ctx),
                                 AffineMap::get(7, 0, {bb, p, d, u, v}, ctx)};
  Value window =
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{kh, kw}, elemType);
  SmallVector<utils::IteratorType> iterators(5, utils::IteratorType::parallel);
  iterators.append(2, utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{pooledType}, ValueRange{window}, ValueRange{init}, maps,
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
        linalg::YieldOp::create(
            b, loc,
            ValueRange{arith::MaximumFOp::create(b, loc, args[1], value)});
      });

  auto flatType =
      RankedTensorType::get({s[0], s[1], s[2] * level * level}, elemType);
  return tensor::CollapseShapeOp::create(
      b, loc, flatType, generic.getResult(0),
      ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3, 4}});
}

struct EmbedLowering : OpConversionPattern<EmbedOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(EmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    auto patchesType = cast<RankedTensorType>(adaptor.getPatches().getType());
    int64_t r = op.getRadius();
    int64_t ph = patchesType.getDimSize(3) - 2 * r;
    int64_t pw = patchesType.getDimSize(4) - 2 * r;

    Value core = extractCore(rewriter, loc, adaptor.getPatches(), r, ph, pw);
    Value z =
        conv1x1(rewriter, loc, core, adaptor.getWeight(), adaptor.getBias());

    // Levels are concatenated in order along the last dimension.
    Value result = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                           resultType.getElementType());
    int64_t offset = 0;
    for (int64_t level : op.getLevels()) {
      Value pooled = poolLevel(rewriter, loc, z, level);
      auto pooledType = cast<RankedTensorType>(pooled.getType());
      SmallVector<OpFoldResult> offsets =
          getAsIndexOpFoldResult(rewriter.getContext(), {0, 0, offset});
      SmallVector<OpFoldResult> sizes =
          getAsIndexOpFoldResult(rewriter.getContext(), pooledType.getShape());
      SmallVector<OpFoldResult> strides(3, rewriter.getIndexAttr(1));
      result = tensor::InsertSliceOp::create(rewriter, loc, pooled, result,
                                             offsets, sizes, strides);
      offset += pooledType.getDimSize(2);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::pce::populateLowerEmbedPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbedLowering>(patterns.getContext());
}
