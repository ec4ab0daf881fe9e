//===- AdjointPatching.cpp - adjoints of pce.patchify and pce.unpatchify --===//
//
// Both ops move data and train as they infer (docs/SEMANTICS.md §1, §4), so
// their training forwards are the ops themselves and their adjoints move the
// gradient back:
//
//   unpatchify  the inverse permutation: image [B, Co, H, W] -> patches.
//   patchify    dx[n,c,h,w] = sum of dpatches[n,p,c,i,j] over every patch p
//               and offset (i, j) that read pixel (h, w); the coordinate
//               channels are constants and get nothing. With `halo isolated`
//               (or no halo) each pixel is read once, by its own patch's
//               core, so the adjoint is unpatchify of the cores. With
//               `halo context` a pixel is also read by the halos of the few
//               neighbouring patches within `r` rows or columns: one gather
//               per pixel over those candidates.
//
//===----------------------------------------------------------------------===//

#include "passes/Autodiff/Adjoint.h"

#include "dialect/PCEOps.h"
#include "passes/Builders/PCEMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::adjoint;
using namespace mlir::pce::lowering;

namespace {

/// `[B, Co, nph*ph, npw*pw] -> [B, P, Co, ph, pw]`, the inverse of
/// unpatchifyGrid: expand the rows and columns into the grid, move the grid
/// before the channels, collapse it into P.
Value patchesOfImage(OpBuilder &b, Location loc, Value image, int64_t nph,
                     int64_t npw) {
  RankedTensorType type = typeOf(image);
  Type element = type.getElementType();
  ArrayRef<int64_t> s = type.getShape(); // B, Co, H, W
  int64_t ph = s[2] / nph, pw = s[3] / npw;
  auto gridType =
      RankedTensorType::get({s[0], s[1], nph, ph, npw, pw}, element);
  Value grid = tensor::ExpandShapeOp::create(
      b, loc, gridType, image,
      ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}, {4, 5}});
  Value init = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{s[0], nph, npw, s[1], ph, pw}, element);
  Value moved = linalg::TransposeOp::create(b, loc, grid, init,
                                            ArrayRef<int64_t>{0, 2, 4, 1, 3, 5})
                    .getResult()[0];
  auto patchesType =
      RankedTensorType::get({s[0], nph * npw, s[1], ph, pw}, element);
  return tensor::CollapseShapeOp::create(
      b, loc, patchesType, moved,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}, {4}, {5}});
}

/// The gradient of a context-halo patchify with radius `r > 0`, as a gather
/// over the output pixel. Pixel row `h` is row `i = h - a*ph + r` of patch row
/// `a` when `0 <= i < ph + 2r`, which holds only for `a = h/ph + t` with
/// `|t| <= T = ceil(r/ph)`; likewise for columns. Loops (n, c, h, w, ta, tb)
/// reduce over the `(2T+1) x (2S+1)` candidates, adding those that exist.
Value gatherContextGradient(OpBuilder &b, Location loc, PatchifyOp op,
                            Value grad) {
  RankedTensorType inputType = typeOf(op.getInput());
  Type element = inputType.getElementType();
  ArrayRef<int64_t> s = inputType.getShape(); // B, C, H, W
  int64_t ph = op.getPatch()[0], pw = op.getPatch()[1];
  int64_t nph = s[2] / ph, npw = s[3] / pw;
  int64_t r = op.getRadius();
  int64_t rowReach = llvm::divideCeil(r, ph),
          colReach = llvm::divideCeil(r, pw);

  Value init = filledTensor(b, loc, s, element, 0.0);
  // Unread: gives the candidate loops their extents.
  Value window = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{2 * rowReach + 1, 2 * colReach + 1}, element);
  MLIRContext *ctx = b.getContext();
  AffineMap maps[] = {loopsMap(ctx, 6, {4, 5}), loopsMap(ctx, 6, {0, 1, 2, 3})};
  return buildGeneric(
      b, loc, {window}, init, maps, {4, 5},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        IndexConstants index(b, loc);
        Value n = linalg::IndexOp::create(b, loc, 0);
        Value c = linalg::IndexOp::create(b, loc, 1);
        // The candidate patch (row or column) and the offset of the pixel in
        // it; invalid candidates are negative or too large, so one unsigned
        // comparison against the upper bound rejects them.
        auto candidate = [&](unsigned pixelLoop, unsigned candidateLoop,
                             int64_t size, int64_t reach,
                             int64_t grid) -> std::tuple<Value, Value, Value> {
          Value pixel = linalg::IndexOp::create(b, loc, pixelLoop);
          Value t = linalg::IndexOp::create(b, loc, candidateLoop);
          Value home = arith::DivUIOp::create(b, loc, pixel, index(size));
          Value offset = arith::RemUIOp::create(b, loc, pixel, index(size));
          // patch = home + t - reach, at offset + r + reach*size - t*size.
          Value patch = arith::SubIOp::create(
              b, loc, arith::AddIOp::create(b, loc, home, t), index(reach));
          Value at = arith::SubIOp::create(
              b, loc,
              arith::AddIOp::create(b, loc, offset, index(r + reach * size)),
              arith::MulIOp::create(b, loc, t, index(size)));
          Value valid = arith::AndIOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, patch,
                                    index(grid)),
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, at,
                                    index(size + 2 * r)));
          return {valid, patch, at};
        };
        auto [rowValid, a, i] = candidate(2, 4, ph, rowReach, nph);
        auto [colValid, bcol, j] = candidate(3, 5, pw, colReach, npw);
        Value valid = arith::AndIOp::create(b, loc, rowValid, colValid);
        // Read element 0 of the row or column for an invalid candidate.
        auto safe = [&](Value v) -> Value {
          return arith::SelectOp::create(b, loc, valid, v, index(0));
        };
        Value p = arith::AddIOp::create(
            b, loc, arith::MulIOp::create(b, loc, safe(a), index(npw)),
            safe(bcol));
        Value read = tensor::ExtractOp::create(
            b, loc, grad, ValueRange{n, p, c, safe(i), safe(j)});
        Value term = arith::SelectOp::create(
            b, loc, valid, read, floatConstant(b, loc, element, 0.0));
        return arith::AddFOp::create(b, loc, args[1], term);
      });
}

struct PatchifyAdjoint final
    : AdjointOpInterface::ExternalModel<PatchifyAdjoint, PatchifyOp> {
  FailureOr<SmallVector<Value>> buildAdjoint(Operation *op, OpBuilder &b,
                                             ValueRange, ValueRange, ValueRange,
                                             ValueRange resultGrads) const {
    auto patchify = cast<PatchifyOp>(op);
    Location loc = op->getLoc();
    Value grad = resultGrads[0];
    ArrayRef<int64_t> s = typeOf(patchify.getInput()).getShape();
    if (!grad || s[1] == 0)
      return SmallVector<Value>{Value()};
    int64_t ph = patchify.getPatch()[0], pw = patchify.getPatch()[1];
    int64_t r = patchify.getRadius();
    if (r > 0 && patchify.getHalo() == HaloMode::context)
      return SmallVector<Value>{gatherContextGradient(b, loc, patchify, grad)};

    // Each pixel was read once, by the core of its own patch.
    ArrayRef<int64_t> g = typeOf(grad).getShape(); // B, P, C+4, Hp, Wp
    SmallVector<OpFoldResult> offsets =
        getAsIndexOpFoldResult(b.getContext(), {0, 0, 0, r, r});
    SmallVector<OpFoldResult> sizes =
        getAsIndexOpFoldResult(b.getContext(), {g[0], g[1], s[1], ph, pw});
    SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
    Value cores =
        tensor::ExtractSliceOp::create(b, loc, grad, offsets, sizes, strides);
    return SmallVector<Value>{
        unpatchifyGrid(b, loc, cores, s[2] / ph, s[3] / pw)};
  }
};

struct UnpatchifyAdjoint final
    : AdjointOpInterface::ExternalModel<UnpatchifyAdjoint, UnpatchifyOp> {
  FailureOr<SmallVector<Value>> buildAdjoint(Operation *op, OpBuilder &b,
                                             ValueRange, ValueRange, ValueRange,
                                             ValueRange resultGrads) const {
    auto unpatchify = cast<UnpatchifyOp>(op);
    if (!resultGrads[0])
      return SmallVector<Value>{Value()};
    return SmallVector<Value>{patchesOfImage(b, op->getLoc(), resultGrads[0],
                                             unpatchify.getGrid()[0],
                                             unpatchify.getGrid()[1])};
  }
};

} // namespace

void mlir::pce::adjoint::attachPatchingAdjoints(MLIRContext *ctx) {
  PatchifyOp::attachInterface<PatchifyAdjoint>(*ctx);
  UnpatchifyOp::attachInterface<UnpatchifyAdjoint>(*ctx);
}
