//===- SparseDispatch.cpp - compute only the routed experts ---------------===//
//
// `pce.mix sum %w, %y` with `%w = pce.route ... top_k k` (0 < k < E) and
// `%y = pce.experts ...` used by that mix only computes, lowered densely,
// every expert on every patch and then multiplies all but k of them by 0.
// This pass replaces the experts and the mix by loops that compute expert e
// on patch (b, p) only when w[b, p, e] != 0 (docs/SEMANTICS.md §4: experts
// with w = 0 after top-k contribute nothing and need not be computed):
//
//   out = 0                                        [B, P, Co, Ho, Wo]
//   for b, for p, for e:
//     if w[b, p, e] != 0:
//       c = conv_2d_nchw_fchw(patches[b, p] : [1, Cin, Hp, Wp],
//                             kernels[e]    : [Co, Cin, k, k])
//       out[b, p] += w[b, p, e] * relu(scale[e] * c + shift[e])
//
// on tensors, before pce-lower-to-linalg (which lowers what is left: the
// router, the patches, the folded batch norm). With `read-image` and patches
// of a context-halo patchify, `patches[b, p]` is instead the window of the
// zero-padded feature map at row (p / npw) * ph, column (p % npw) * pw, the
// kernel loses its coordinate channels and the epilogue adds their term
// (passes/PatchFusion.h): the halo patches are then never built. Both slices are contiguous
// rows after bufferization, so pce-vectorize-convolutions still turns the
// per-(patch, expert) convolution into its vector kernel, and the epilogue
// is an elementwise generic that pce-vectorize-generics vectorizes.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Builders/PCEMath.h"
#include "passes/Transforms/PatchFusion.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::pce {
#define GEN_PASS_DEF_SPARSEDISPATCH
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;
using namespace mlir::pce::patchfusion;

namespace {

/// The experts op whose computation `mix` may restrict to the routed
/// experts, or null: a `sum` mix of a top-k router (0 < k < E) and experts
/// that nothing else uses, all with static shapes.
ExpertsOp dispatchable(MixOp mix) {
  if (mix.getKind() != MixKind::sum)
    return {};
  auto route = mix.getWeights().getDefiningOp<RouteOp>();
  auto experts = mix.getExperts().getDefiningOp<ExpertsOp>();
  if (!route || !experts || !experts->hasOneUse())
    return {};
  auto type = dyn_cast<RankedTensorType>(experts.getType());
  if (!type || !type.hasStaticShape() || type.getRank() != 6)
    return {};
  int64_t numExperts = type.getShape()[2];
  int64_t k = route.getTopK();
  if (k <= 0 || k >= numExperts)
    return {};
  for (Value v : experts->getOperands())
    if (auto t = dyn_cast<RankedTensorType>(v.getType()); !t || !t.hasStaticShape())
      return {};
  return experts;
}

Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Replaces `mix` and `experts` by the dispatch loops. With `patchify`, the
/// convolutions read the padded image and add the coordinate term instead of
/// reading the patches (passes/PatchFusion.h).
void rewrite(IRRewriter &rewriter, MixOp mix, ExpertsOp experts,
             PatchifyOp patchify) {
  Location loc = mix.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  rewriter.setInsertionPoint(mix);

  auto expertsType = cast<RankedTensorType>(experts.getType()); // [B,P,E,Co,Ho,Wo]
  auto resultType = cast<RankedTensorType>(mix.getType());      // [B,P,Co,Ho,Wo]
  Type element = resultType.getElementType();
  ArrayRef<int64_t> y = expertsType.getShape();
  int64_t batch = y[0], patches = y[1], numExperts = y[2], channels = y[3],
          height = y[4], width = y[5];
  Value patchesValue = experts.getPatches();                         // [B,P,Cin,Hp,Wp]
  Value kernels = experts.getKernels();                              // [E,Co,Cin,k,k]
  SmallVector<int64_t> p(typeOf(patchesValue).getShape());
  SmallVector<int64_t> kShape(typeOf(kernels).getShape());
  Value weights = mix.getWeights();                                  // [B,P,E]

  // Reading the image: the source is the padded feature map [B,C,H+2r,W+2r],
  // the kernels lose their coordinate channels, which the coordinate term
  // [P,E,Co,ph,pw] stands for.
  Value padded, coords;
  int64_t npw = 0;
  if (patchify) {
    Value x = patchify.getInput();
    int64_t imageChannels = typeOf(x).getDimSize(1);
    npw = typeOf(x).getDimSize(3) / width;
    padded = padImage(rewriter, loc, x, patchify.getRadius());
    coords = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({patches, numExperts, channels, height, width}, element),
        coordinateTerm(rewriter, loc, patchify, kernels),
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    kernels = kernelChannels(rewriter, loc, kernels, 0, imageChannels);
    p[2] = kShape[2] = imageChannels;
  }

  auto [scale, shift] = expertsScaleShift(              // [E,Co]
      rewriter, loc, experts.getBn(), experts.getAffine(),
      experts.getEps().convertToDouble());
  bool scaled = !isSplatOne(scale); // not when pce-fold-batch-norm ran
  Value init = filledTensor(rewriter, loc, resultType.getShape(), element, 0.0);

  auto imageType = RankedTensorType::get({1, p[2], p[3], p[4]}, element);
  auto filterType =
      RankedTensorType::get({kShape[1], kShape[2], kShape[3], kShape[4]}, element);
  auto accType = RankedTensorType::get({channels, height, width}, element);
  auto vecType = RankedTensorType::get({channels}, element);
  Value zero = floatConstant(rewriter, loc, element, 0.0);
  Value c0 = index(rewriter, loc, 0), c1 = index(rewriter, loc, 1);

  auto staticSizes = [&](ArrayRef<int64_t> sizes) {
    return llvm::to_vector(llvm::map_range(
        sizes, [&](int64_t s) -> OpFoldResult { return rewriter.getIndexAttr(s); }));
  };
  auto ones = [&](unsigned n) { return staticSizes(SmallVector<int64_t>(n, 1)); };
  auto offsets = [&](ArrayRef<Value> leading, unsigned rank) {
    SmallVector<OpFoldResult> o(leading.begin(), leading.end());
    while (o.size() < rank)
      o.push_back(rewriter.getIndexAttr(0));
    return o;
  };

  auto bLoop = scf::ForOp::create(
      rewriter, loc, c0, index(rewriter, loc, batch), c1, ValueRange{init},
      [&](OpBuilder &bb, Location bl, Value b, ValueRange bArgs) {
        auto pLoop = scf::ForOp::create(
            bb, bl, c0, index(bb, bl, patches), c1, bArgs,
            [&](OpBuilder &pb, Location pl, Value pIdx, ValueRange pArgs) {
              Value out = pArgs[0];
              Value image;
              if (patchify) {
                // Patch (a, bcol) = (p / npw, p % npw) starts at row a*ph
                // and column bcol*pw of the padded image.
                Value a = arith::DivUIOp::create(pb, pl, pIdx, index(pb, pl, npw));
                Value bcol = arith::RemUIOp::create(pb, pl, pIdx, index(pb, pl, npw));
                Value row = arith::MulIOp::create(pb, pl, a, index(pb, pl, height));
                Value col = arith::MulIOp::create(pb, pl, bcol, index(pb, pl, width));
                image = tensor::ExtractSliceOp::create(
                    pb, pl, imageType, padded,
                    SmallVector<OpFoldResult>{b, rewriter.getIndexAttr(0), row, col},
                    staticSizes({1, p[2], p[3], p[4]}), ones(4));
              } else {
                image = tensor::ExtractSliceOp::create(
                    pb, pl, imageType, patchesValue, offsets({b, pIdx}, 5),
                    staticSizes({1, 1, p[2], p[3], p[4]}), ones(5));
              }
              Value acc0 = tensor::ExtractSliceOp::create(
                  pb, pl, accType, out, offsets({b, pIdx}, 5),
                  staticSizes({1, 1, channels, height, width}), ones(5));
              auto eLoop = scf::ForOp::create(
                  pb, pl, c0, index(pb, pl, numExperts), c1, ValueRange{acc0},
                  [&](OpBuilder &eb, Location el, Value e, ValueRange eArgs) {
                    Value acc = eArgs[0];
                    Value w = tensor::ExtractOp::create(eb, el, weights,
                                                        ValueRange{b, pIdx, e});
                    Value routed = arith::CmpFOp::create(
                        eb, el, arith::CmpFPredicate::UNE, w, zero);
                    auto ifOp = scf::IfOp::create(
                        eb, el, routed,
                        [&](OpBuilder &tb, Location tl) {
                          Value filter = tensor::ExtractSliceOp::create(
                              tb, tl, filterType, kernels, offsets({e}, 5),
                              staticSizes({1, kShape[1], kShape[2], kShape[3],
                                           kShape[4]}),
                              ones(5));
                          Value convInit = filledTensor(
                              tb, tl, {1, channels, height, width}, element, 0.0);
                          Value conv = linalg::Conv2DNchwFchwOp::create(
                                           tb, tl, TypeRange{convInit.getType()},
                                           ValueRange{image, filter},
                                           ValueRange{convInit})
                                           .getResult(0);
                          Value conv3 = tensor::ExtractSliceOp::create(
                              tb, tl, accType, conv, offsets({}, 4),
                              staticSizes({1, channels, height, width}), ones(4));
                          Value t = tensor::ExtractSliceOp::create(
                              tb, tl, vecType, shift, offsets({e}, 2),
                              staticSizes({1, channels}), ones(2));
                          // acc += w * relu(s * (conv [+ coordinates]) + t),
                          // loops (c, i, j).
                          AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
                          AffineMap perChannel = loopsMap(ctx, 3, {0});
                          SmallVector<Value> inputs = {conv3, t};
                          SmallVector<AffineMap> maps = {id, perChannel};
                          if (patchify) {
                            inputs.push_back(tensor::ExtractSliceOp::create(
                                tb, tl, accType, coords, offsets({pIdx, e}, 5),
                                staticSizes({1, 1, channels, height, width}), ones(5)));
                            maps.push_back(id);
                          }
                          if (scaled) {
                            inputs.push_back(tensor::ExtractSliceOp::create(
                                tb, tl, vecType, scale, offsets({e}, 2),
                                staticSizes({1, channels}), ones(2)));
                            maps.push_back(perChannel);
                          }
                          maps.push_back(id);
                          Value next = buildGeneric(
                              tb, tl, inputs, acc, maps, {},
                              [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                                unsigned extra = 2;
                                Value x = a[0];
                                if (patchify)
                                  x = arith::AddFOp::create(nb, nl, x, a[extra++]);
                                Value y = expertActivation(
                                    nb, nl, x, scaled ? a[extra] : Value(), a[1]);
                                Value term = arith::MulFOp::create(nb, nl, w, y);
                                return arith::AddFOp::create(nb, nl, a.back(), term);
                              });
                          scf::YieldOp::create(tb, tl, next);
                        },
                        [&](OpBuilder &fb, Location fl) {
                          scf::YieldOp::create(fb, fl, acc);
                        });
                    scf::YieldOp::create(eb, el, ifOp.getResult(0));
                  });
              Value updated = tensor::InsertSliceOp::create(
                  pb, pl, eLoop.getResult(0), out, offsets({b, pIdx}, 5),
                  staticSizes({1, 1, channels, height, width}), ones(5));
              scf::YieldOp::create(pb, pl, updated);
            });
        scf::YieldOp::create(bb, bl, pLoop.getResult(0));
      });

  rewriter.replaceOp(mix, bLoop.getResult(0));
  rewriter.eraseOp(experts);
}

struct SparseDispatch : pce::impl::SparseDispatchBase<SparseDispatch> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<std::pair<MixOp, ExpertsOp>> matches;
    getOperation()->walk([&](MixOp mix) {
      if (ExpertsOp experts = dispatchable(mix))
        matches.push_back({mix, experts});
    });
    IRRewriter rewriter(&getContext());
    llvm::SetVector<Operation *> patchifies;
    for (auto [mix, experts] : matches) {
      PatchifyOp patchify = readImage ? imagePatchify(experts) : PatchifyOp();
      if (patchify)
        patchifies.insert(patchify);
      rewrite(rewriter, mix, experts, patchify);
    }
    // Patches that nothing convolves any more: gone, or cores only.
    for (Operation *patchify : patchifies) {
      if (patchify->use_empty())
        rewriter.eraseOp(patchify);
      else
        shrinkToCores(rewriter, cast<PatchifyOp>(patchify));
    }
  }
};

} // namespace
