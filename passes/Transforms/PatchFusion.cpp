//===- PatchFusion.cpp - experts that read the feature map ----------------===//

#include "passes/Transforms/PatchFusion.h"
#include "passes/Builders/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;

namespace mlir::pce::patchfusion {

PatchifyOp imagePatchify(ExpertsOp experts) {
  auto patchify = experts.getPatches().getDefiningOp<PatchifyOp>();
  if (!patchify || patchify.getHalo() != HaloMode::context)
    return {};
  for (Value v : experts->getOperands())
    if (!typeOf(v).hasStaticShape())
      return {};
  RankedTensorType input = typeOf(patchify.getInput());
  if (!input.hasStaticShape() || input.getRank() != 4 || input.getDimSize(1) < 1)
    return {};
  ArrayRef<int64_t> k = typeOf(experts.getKernels()).getShape();
  int64_t r = patchify.getRadius();
  if (k[3] != 2 * r + 1 || k[3] != k[4])
    return {};
  return patchify;
}

SmallVector<OpFoldResult> indexAttrs(OpBuilder &b, ArrayRef<int64_t> values) {
  return llvm::to_vector(llvm::map_range(
      values, [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); }));
}

Value padImage(OpBuilder &b, Location loc, Value x, int64_t r) {
  if (r == 0)
    return x;
  RankedTensorType type = typeOf(x);
  ArrayRef<int64_t> s = type.getShape();
  Value zeros = filledTensor(b, loc, {s[0], s[1], s[2] + 2 * r, s[3] + 2 * r},
                             type.getElementType(), 0.0);
  return tensor::InsertSliceOp::create(b, loc, x, zeros,
                                       indexAttrs(b, {0, 0, r, r}),
                                       indexAttrs(b, s), indexAttrs(b, {1, 1, 1, 1}));
}

Value kernelChannels(OpBuilder &b, Location loc, Value kernels, int64_t first,
                     int64_t count) {
  RankedTensorType type = typeOf(kernels);
  ArrayRef<int64_t> k = type.getShape();
  SmallVector<int64_t> sliceShape = {k[0], k[1], count, k[3], k[4]};
  auto sliceType = RankedTensorType::get(sliceShape, type.getElementType());
  return tensor::ExtractSliceOp::create(
      b, loc, sliceType, kernels, indexAttrs(b, {0, 0, first, 0, 0}),
      indexAttrs(b, sliceShape), indexAttrs(b, {1, 1, 1, 1, 1}));
}

/// `lin(n, i) = 2*i/(n-1) - 1` (0 when n == 1), docs/SEMANTICS.md §1; `i` may
/// lie on the halo (negative or >= n).
static double lin(int64_t n, int64_t i) {
  return n > 1 ? 2.0 * static_cast<double>(i) / static_cast<double>(n - 1) - 1.0 : 0.0;
}

/// A constant tensor of `shape` with element type `element`.
static Value constantTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                            Type element, ArrayRef<double> values) {
  auto type = RankedTensorType::get(shape, element);
  SmallVector<Attribute> attrs;
  for (double v : values)
    attrs.push_back(b.getFloatAttr(element, v));
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, attrs));
}

Value coordinateTerm(OpBuilder &b, Location loc, PatchifyOp patchify,
                     Value kernels) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType kType = typeOf(kernels);
  Type element = kType.getElementType();
  ArrayRef<int64_t> ks = kType.getShape(); // [E, Co, C+4, k, k]
  ArrayRef<int64_t> xs = typeOf(patchify.getInput()).getShape();
  int64_t ph = patchify.getPatch()[0], pw = patchify.getPatch()[1];
  int64_t nph = xs[2] / ph, npw = xs[3] / pw, P = nph * npw;
  int64_t k = ks[3], r = patchify.getRadius(), channels = xs[1];
  int64_t filters = ks[0] * ks[1];

  // The coordinate planes are affine in one index each: the row plane
  // depends on the row only, the column plane on the column only, and the
  // patch planes are constant over a patch. So the term splits into
  //   rows[f, i] + cols[f, j] + patch[f, p]
  // with rows[f, i] = sum_{di,dj} K[f, C, di, dj] * lin(ph, i + di - r),
  //      cols[f, j] = sum_{di,dj} K[f, C+1, di, dj] * lin(pw, j + dj - r),
  //      patch[f, p] = sum_{di,dj} K[f, C+2, di, dj] * lin(nph, a)
  //                              + K[f, C+3, di, dj] * lin(npw, bcol),
  // each a small contraction with a constant table.
  SmallVector<double> rowTable, colTable, patchTable;
  for (int64_t i = 0; i < ph; ++i)
    for (int64_t d = 0; d < k; ++d)
      rowTable.push_back(lin(ph, i + d - r));
  for (int64_t j = 0; j < pw; ++j)
    for (int64_t d = 0; d < k; ++d)
      colTable.push_back(lin(pw, j + d - r));
  for (int64_t p = 0; p < P; ++p) {
    patchTable.push_back(lin(nph, p / npw));
    patchTable.push_back(lin(npw, p % npw));
  }
  Value rowLin = constantTensor(b, loc, {ph, k}, element, rowTable);
  Value colLin = constantTensor(b, loc, {pw, k}, element, colTable);
  Value patchLin = constantTensor(b, loc, {P, 2}, element, patchTable);
  // [E, Co, 4, k, k] -> [F, 4, k, k]
  Value coordKernels = tensor::CollapseShapeOp::create(
      b, loc, kernelChannels(b, loc, kernels, channels, 4),
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});
  auto multiplyAdd = [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
    Value product = arith::MulFOp::create(nb, nloc, a[0], a[1]);
    return arith::AddFOp::create(nb, nloc, a[2], product);
  };
  // Coordinate channels [first, first+count) of the kernels, [F, count, k, k]
  // (the count dimension dropped when it is 1).
  auto coordChannels = [&](int64_t first, int64_t count) -> Value {
    SmallVector<int64_t> shape = {filters, count, k, k};
    if (count == 1)
      shape = {filters, k, k};
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get(shape, element), coordKernels,
        indexAttrs(b, {0, first, 0, 0}), indexAttrs(b, {filters, count, k, k}),
        indexAttrs(b, {1, 1, 1, 1}));
  };
  // Loops (f, i, di, dj): rows[f, i] += K[f, C, di, dj] * rowLin[i, di].
  Value rows = buildGeneric(
      b, loc, {coordChannels(0, 1), rowLin}, filledTensor(b, loc, {filters, ph}, element, 0.0),
      {loopsMap(ctx, 4, {0, 2, 3}), loopsMap(ctx, 4, {1, 2}), loopsMap(ctx, 4, {0, 1})},
      {2, 3}, multiplyAdd);
  // Loops (f, j, di, dj): cols[f, j] += K[f, C+1, di, dj] * colLin[j, dj].
  Value cols = buildGeneric(
      b, loc, {coordChannels(1, 1), colLin}, filledTensor(b, loc, {filters, pw}, element, 0.0),
      {loopsMap(ctx, 4, {0, 2, 3}), loopsMap(ctx, 4, {1, 3}), loopsMap(ctx, 4, {0, 1})},
      {2, 3}, multiplyAdd);
  // Loops (f, p, c, di, dj): patch[f, p] += K[f, C+2+c, di, dj] * patchLin[p, c].
  Value patch = buildGeneric(
      b, loc, {coordChannels(2, 2), patchLin}, filledTensor(b, loc, {filters, P}, element, 0.0),
      {loopsMap(ctx, 5, {0, 2, 3, 4}), loopsMap(ctx, 5, {1, 2}), loopsMap(ctx, 5, {0, 1})},
      {2, 3, 4}, multiplyAdd);
  // term[p, f, i, j] = (rows[f, i] + cols[f, j]) + patch[f, p]
  Value init = tensor::EmptyOp::create(b, loc, {P, filters, ph, pw}, element);
  return buildGeneric(
      b, loc, {rows, cols, patch}, init,
      {loopsMap(ctx, 4, {1, 2}), loopsMap(ctx, 4, {1, 3}), loopsMap(ctx, 4, {1, 0}),
       AffineMap::getMultiDimIdentityMap(4, ctx)},
      {}, [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value inPatch = arith::AddFOp::create(nb, nloc, a[0], a[1]);
        return arith::AddFOp::create(nb, nloc, inPatch, a[2]);
      });
}

void shrinkToCores(RewriterBase &rewriter, PatchifyOp patchify) {
  int64_t r = patchify.getRadius();
  if (r == 0)
    return;
  for (Operation *user : patchify->getUsers()) {
    auto embed = dyn_cast<EmbedOp>(user);
    if (!(embed && static_cast<int64_t>(embed.getRadius()) == r) &&
        !isa<RouteOp>(user))
      return;
  }
  rewriter.setInsertionPoint(patchify);
  Value cores = PatchifyOp::create(rewriter, patchify.getLoc(),
                                   patchify.getInput(), patchify.getPatchAttr(),
                                   rewriter.getI64IntegerAttr(0),
                                   patchify.getHaloAttr());
  for (Operation *user : llvm::make_early_inc_range(patchify->getUsers()))
    rewriter.modifyOpInPlace(user, [&] {
      user->replaceUsesOfWith(patchify, cores);
      if (auto embed = dyn_cast<EmbedOp>(user))
        embed.setRadius(0);
    });
  rewriter.eraseOp(patchify);
}

} // namespace mlir::pce::patchfusion
