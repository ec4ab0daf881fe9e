//===- PatchFusion.cpp - experts that read the feature map ----------------===//

#include "passes/PatchFusion.h"
#include "passes/LoweringUtils.h"

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

Value convolve(OpBuilder &b, Location loc, Value images, Value filters) {
  ArrayRef<int64_t> in = typeOf(images).getShape();
  ArrayRef<int64_t> f = typeOf(filters).getShape();
  Value init = filledTensor(b, loc, {in[0], f[0], in[2] - f[2] + 1, in[3] - f[3] + 1},
                            typeOf(images).getElementType(), 0.0);
  return linalg::Conv2DNchwFchwOp::create(b, loc, TypeRange{init.getType()},
                                          ValueRange{images, filters},
                                          ValueRange{init})
      .getResult(0);
}

Value coordinateTerm(OpBuilder &b, Location loc, PatchifyOp patchify,
                     Value kernels) {
  RankedTensorType xType = typeOf(patchify.getInput());
  ArrayRef<int64_t> xs = xType.getShape();
  Value noChannels =
      tensor::EmptyOp::create(b, loc, {1, 0, xs[2], xs[3]}, xType.getElementType());
  Value planes = PatchifyOp::create(b, loc, noChannels, patchify.getPatchAttr(),
                                    patchify.getRadiusAttr(), patchify.getHaloAttr());
  SmallVector<ReassociationIndices> mergeFirstTwo = {{0, 1}, {2}, {3}, {4}};
  Value planes4 = tensor::CollapseShapeOp::create(b, loc, planes, mergeFirstTwo);
  Value filters = tensor::CollapseShapeOp::create(
      b, loc, kernelChannels(b, loc, kernels, xs[1], 4), mergeFirstTwo);
  return convolve(b, loc, planes4, filters);
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
