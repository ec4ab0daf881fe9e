//===- FusePatches.cpp - expert convolutions straight from the image ------===//
//
// `pce.experts` over `pce.patchify %x ... halo context` convolves patches
// `[B, P, C+4, ph+2r, pw+2r]` that repeat every pixel of the halo and carry
// four coordinate planes. With a context halo, a patch's pixel channels are
// exactly the zero-padded image around the patch, and the convolution is
// linear in its input channels, so (docs/SEMANTICS.md §1, §4)
//
//   conv(patch(a, b), K_e)[o, i, j]
//     = conv_pad_r(x, K_e[:, 0:C])[o, a*ph + i, b*pw + j]     image part
//     + conv(coords(a, b), K_e[:, C:C+4])[o, i, j]             coordinate part
//
// The image part is one convolution of the zero-padded feature map
// `[B, C, H+2r, W+2r]` with the E*Co filters, reading every pixel once and
// writing rows W long instead of pw; the coordinate part does not depend on
// the input: `[P, E*Co, ph, pw]`, from small contractions with tables of
// coordinates (patchfusion::coordinateTerm). Batch norm and ReLU follow in
// one epilogue over `(b, a, bcol, e, o, i, j)` that reads both:
//
//   y[b, a*npw + bcol, e, o, i, j] =
//       relu(scale[e,o] * (img[b, e*Co + o, a*ph + i, bcol*pw + j]
//                          + coord[a*npw + bcol, e*Co + o, i, j]) + shift[e,o])
//
// pce-fuse-experts-mix can still fold a mix into this epilogue (it recognises
// the form: an elementwise generic collapsed to patches). The embedding and the
// position/uniform routers, which read only the patch cores (or only B and
// P), then read a patchify without a halo, `[B, P, C+4, ph, pw]`, and the
// patches with their halo are gone.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Builders/PCEMath.h"
#include "passes/Transforms/PatchFusion.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::pce {
#define GEN_PASS_DEF_FUSEPATCHES
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;
using namespace mlir::pce::patchfusion;

namespace {

void rewrite(IRRewriter &rewriter, ExpertsOp experts, PatchifyOp patchify) {
  Location loc = experts.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  rewriter.setInsertionPoint(experts);

  Value x = patchify.getInput(); // [B,C,H,W]
  RankedTensorType xType = typeOf(x);
  Type element = xType.getElementType();
  ArrayRef<int64_t> xs = xType.getShape();
  int64_t batch = xs[0], channels = xs[1], height = xs[2], width = xs[3];
  int64_t ph = patchify.getPatch()[0], pw = patchify.getPatch()[1];
  int64_t nph = height / ph, npw = width / pw;
  ArrayRef<int64_t> ks = typeOf(experts.getKernels()).getShape();
  int64_t numExperts = ks[0], outChannels = ks[1];
  SmallVector<ReassociationIndices> mergeFirstTwo = {{0, 1}, {2}, {3}, {4}};

  // The image part: one convolution of the zero-padded feature map.
  Value padded = padImage(rewriter, loc, x, patchify.getRadius());
  Value filters = tensor::CollapseShapeOp::create(
      rewriter, loc, kernelChannels(rewriter, loc, experts.getKernels(), 0, channels),
      mergeFirstTwo);
  Value image = conv2d(rewriter, loc, padded, filters);
  // [B, E*Co, H, W] -> [B, E, Co, nph, ph, npw, pw]
  Value image7 = tensor::ExpandShapeOp::create(
      rewriter, loc,
      RankedTensorType::get({batch, numExperts, outChannels, nph, ph, npw, pw},
                            element),
      image, SmallVector<ReassociationIndices>{{0}, {1, 2}, {3, 4}, {5, 6}});

  // The coordinate part, [P, E*Co, ph, pw] -> [nph, npw, E, Co, ph, pw].
  Value coords6 = tensor::ExpandShapeOp::create(
      rewriter, loc,
      RankedTensorType::get({nph, npw, numExperts, outChannels, ph, pw}, element),
      coordinateTerm(rewriter, loc, patchify, experts.getKernels()),
      SmallVector<ReassociationIndices>{{0, 1}, {2, 3}, {4}, {5}});

  // The epilogue, loops (b, a, bcol, e, o, i, j) = (0, ..., 6).
  auto [scale, shift] = expertsScaleShift(rewriter, loc, experts.getBn(),
                                          experts.getAffine(),
                                          experts.getEps().convertToDouble());
  bool scaled = !isSplatOne(scale);
  AffineMap perFilter = loopsMap(ctx, 7, {3, 4});
  SmallVector<Value> inputs = {image7, coords6};
  SmallVector<AffineMap> maps = {loopsMap(ctx, 7, {0, 3, 4, 1, 5, 2, 6}),
                                 loopsMap(ctx, 7, {1, 2, 3, 4, 5, 6})};
  if (scaled) {
    inputs.push_back(scale);
    maps.push_back(perFilter);
  }
  inputs.push_back(shift);
  maps.push_back(perFilter);
  maps.push_back(AffineMap::getMultiDimIdentityMap(7, ctx));
  Value init = tensor::EmptyOp::create(
      rewriter, loc, {batch, nph, npw, numExperts, outChannels, ph, pw}, element);
  Value y7 = buildGeneric(
      rewriter, loc, inputs, init, maps, {},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value conv = arith::AddFOp::create(nb, nloc, a[0], a[1]);
        return expertActivation(nb, nloc, conv, scaled ? a[2] : Value(),
                                scaled ? a[3] : a[2]);
      });
  Value y = tensor::CollapseShapeOp::create(
      rewriter, loc, y7,
      SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}, {5}, {6}});
  rewriter.replaceOp(experts, y);
}

struct FusePatches : pce::impl::FusePatchesBase<FusePatches> {
  void runOnOperation() override {
    SmallVector<std::pair<ExpertsOp, PatchifyOp>> work;
    llvm::SetVector<Operation *> patchifies;
    getOperation()->walk([&](ExpertsOp experts) {
      if (PatchifyOp patchify = imagePatchify(experts)) {
        work.push_back({experts, patchify});
        patchifies.insert(patchify);
      }
    });
    IRRewriter rewriter(&getContext());
    for (auto [experts, patchify] : work)
      rewrite(rewriter, experts, patchify);
    for (Operation *patchify : patchifies) {
      if (patchify->use_empty())
        rewriter.eraseOp(patchify);
      else
        shrinkToCores(rewriter, cast<PatchifyOp>(patchify));
    }
  }
};

} // namespace
