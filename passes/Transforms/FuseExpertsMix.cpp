//===- FuseExpertsMix.cpp - the routing-weighted sum in the experts' epilogue //
//
// `pce.mix sum %w, %y` of a dense router reads every expert's output
// `y [B, P, E, Co, ph, pw]`, which the experts' epilogue (batch norm + ReLU)
// wrote just before: E times the layer's output, to
// memory and back. This pass computes the mix inside the epilogue instead:
//
//   out[b, p, o, i, j] = sum_e w[b, p, e] * epilogue(b, p, e, o, i, j)
//
// one linalg.generic over the epilogue's loops with `e` moved last as a
// reduction, reading what the epilogue read (the convolutions, scale, shift)
// and the weights. The sum runs over e = 0 .. E-1 in order, as the unfused
// mix does. The epilogue is either the one LowerExperts builds (the pass
// lowers a `pce.experts` operand that way first) or the image-order one of
// pce-fuse-patches, `[B, nph, npw, E, Co, ph, pw]` collapsed to P; the
// weights are then read as `[B, nph, npw, E]` and the result collapsed back.
// The epilogue is recognised by its form, not by a mark: fusing any
// elementwise producer of `y` into the sum is exact, whoever built it.
//
// Left alone: `concat` mixes, experts or epilogues with another user, and
// mixes whose experts come from anything else. Run after pce-sparse-dispatch
// (which takes top-k mixes) and pce-fuse-patches.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Builders/PCEMath.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::pce {
#define GEN_PASS_DEF_FUSEEXPERTSMIX
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;

namespace {

bool allStatic(Operation *op) {
  for (Value v : op->getOperands())
    if (!typeOf(v).hasStaticShape())
      return false;
  return true;
}

/// An epilogue that can be fused: elementwise, one result written with the
/// identity map and not read in the body, used once.
bool isFusableEpilogue(linalg::GenericOp g) {
  if (!g || g.getNumDpsInits() != 1 ||
      !g->hasOneUse() || g.getNumReductionLoops() != 0)
    return false;
  OpOperand *init = g.getDpsInitOperand(0);
  return g.getMatchingIndexingMap(init).isIdentity() &&
         g.getMatchingBlockArgument(init).use_empty();
}

/// `[B, nph, npw, E, Co, ph, pw]` -> `[B, P, E, Co, ph, pw]`: the patch grid
/// of pce-fuse-patches' image-order epilogue collapsed to patches.
bool isPatchGridCollapse(tensor::CollapseShapeOp collapse) {
  SmallVector<ReassociationIndices> expected = {{0}, {1, 2}, {3}, {4}, {5}, {6}};
  return collapse.getSrcType().getRank() == 7 &&
         collapse.getReassociationIndices() == expected;
}

/// Whether `mix` can be fused, before anything is rewritten.
bool fusable(MixOp mix) {
  if (mix.getKind() != MixKind::sum || !allStatic(mix))
    return false;
  Value y = mix.getExperts();
  if (auto experts = y.getDefiningOp<ExpertsOp>())
    return experts->hasOneUse() && allStatic(experts);
  if (auto collapse = y.getDefiningOp<tensor::CollapseShapeOp>())
    return collapse->hasOneUse() && isPatchGridCollapse(collapse) &&
           isFusableEpilogue(collapse.getSrc().getDefiningOp<linalg::GenericOp>());
  auto epilogue = y.getDefiningOp<linalg::GenericOp>();
  return epilogue && typeOf(epilogue.getResult(0)).getRank() == 6 &&
         isFusableEpilogue(epilogue);
}

void fuse(IRRewriter &rewriter, MixOp mix) {
  Location loc = mix.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  rewriter.setInsertionPoint(mix);

  Value y = mix.getExperts();
  if (auto experts = y.getDefiningOp<ExpertsOp>()) {
    y = inferenceExperts(rewriter, experts.getLoc(), experts.getPatches(),
                         experts.getKernels(), experts.getBn(),
                         experts.getAffine(), experts.getEps().convertToDouble());
    rewriter.replaceOp(experts, y);
  }
  auto collapse = y.getDefiningOp<tensor::CollapseShapeOp>();
  auto epilogue = (collapse ? collapse.getSrc() : y).getDefiningOp<linalg::GenericOp>();

  // The epilogue's loops: [leading (B, P or B, nph, npw)..., e, o, i, j].
  unsigned n = epilogue.getNumLoops();
  unsigned eLoop = n - 4;
  // Fused loops: the same with e moved last.
  SmallVector<AffineExpr> moved;
  for (unsigned d = 0; d < n; ++d)
    moved.push_back(rewriter.getAffineDimExpr(d < eLoop ? d : d == eLoop ? n - 1 : d - 1));

  Value weights = mix.getWeights(); // [B,P,E]
  RankedTensorType yType = typeOf(epilogue.getResult(0));
  Type element = yType.getElementType();
  if (eLoop == 3) // [B,P,E] -> [B,nph,npw,E]
    weights = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({yType.getDimSize(0), yType.getDimSize(1),
                               yType.getDimSize(2), yType.getDimSize(3)},
                              element),
        weights, SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}});

  SmallVector<Value> inputs = epilogue.getDpsInputs();
  SmallVector<AffineMap> maps;
  for (OpOperand *input : epilogue.getDpsInputOperands())
    maps.push_back(epilogue.getMatchingIndexingMap(input).replaceDimsAndSymbols(
        moved, {}, n, 0));
  inputs.push_back(weights);
  SmallVector<unsigned> weightLoops = firstLoops(eLoop);
  weightLoops.push_back(n - 1);
  maps.push_back(loopsMap(ctx, n, weightLoops));
  maps.push_back(loopsMap(ctx, n, firstLoops(n - 1)));

  SmallVector<int64_t> outShape(yType.getShape());
  outShape.erase(outShape.begin() + eLoop);
  Value init = filledTensor(rewriter, loc, outShape, element, 0.0);
  Block &body = epilogue.getRegion().front();
  unsigned numInputs = epilogue.getNumDpsInputs();
  Value fused = buildGeneric(
      rewriter, loc, inputs, init, maps, {n - 1},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        IRMapping mapping;
        for (unsigned i = 0; i < numInputs; ++i)
          mapping.map(body.getArgument(i), a[i]);
        for (Operation &op : body.without_terminator())
          nb.clone(op, mapping);
        Value expert = mapping.lookup(body.getTerminator()->getOperand(0));
        Value term = arith::MulFOp::create(nb, nloc, a[numInputs], expert);
        return arith::AddFOp::create(nb, nloc, a[numInputs + 1], term);
      });
  if (eLoop == 3) // [B,nph,npw,Co,ph,pw] -> [B,P,Co,ph,pw]
    fused = tensor::CollapseShapeOp::create(
        rewriter, loc, fused,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}, {5}});
  rewriter.replaceOp(mix, fused);
  if (collapse)
    rewriter.eraseOp(collapse);
  rewriter.eraseOp(epilogue);
}

struct FuseExpertsMix : pce::impl::FuseExpertsMixBase<FuseExpertsMix> {
  void runOnOperation() override {
    SmallVector<MixOp> work;
    getOperation()->walk([&](MixOp mix) {
      if (fusable(mix))
        work.push_back(mix);
    });
    IRRewriter rewriter(&getContext());
    for (MixOp mix : work)
      fuse(rewriter, mix);
  }
};

} // namespace
