//===- DecomposeLayer.cpp - pce.layer into primitive ops ------------------===//

#include "dialect/PCEOps.h"
#include "passes/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::pce {
#define GEN_PASS_DEF_DECOMPOSELAYER
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;

namespace {
/// Replaces `layer` by the primitive ops it stands for.
void decompose(LayerOp layer, RewriterBase &rewriter) {
  rewriter.setInsertionPoint(layer);
  Location loc = layer.getLoc();
  auto input = cast<RankedTensorType>(layer.getInput().getType());
  auto kernels = cast<RankedTensorType>(layer.getKernels().getType());
  int64_t radius = kernels.getShape()[3] / 2;
  ArrayRef<int64_t> patch = layer.getPatch();
  int64_t numExperts = kernels.getShape()[0];

  Value patches = PatchifyOp::create(
      rewriter, loc, layer.getInput(), layer.getPatchAttr(),
      rewriter.getI64IntegerAttr(radius), layer.getHaloAttr());

  // Routers that read embeddings route them; the others only need the
  // patches' leading [B, P] dimensions.
  Value routed = patches;
  if (routerReadsEmbeddings(layer.getRouter())) {
    ValueRange embed = layer.getEmbed();
    routed = EmbedOp::create(rewriter, loc, patches, embed[0], embed[1],
                             rewriter.getI64IntegerAttr(radius),
                             layer.getLevelsAttr());
  }
  IntegerAttr expertsAttr = routerReadsEmbeddings(layer.getRouter())
                                ? IntegerAttr()
                                : rewriter.getI64IntegerAttr(numExperts);
  Value weights = RouteOp::create(
      rewriter, loc, layer.getRouterAttr(), routed, layer.getKeys(),
      layer.getMlp(), layer.getLogTau(), expertsAttr, layer.getTauAttr(),
      layer.getTopKAttr(), layer.getRenormalizeAttr(), layer.getTableAttr(),
      layer.getBetaAttr(), layer.getSigmaAttr(), layer.getGumbelTauAttr(),
      layer.getHardAttr(), layer.getNormalizeInputAttr(),
      layer.getCosineHeadAttr(), layer.getLinearHiddenAttr());

  Value experts =
      ExpertsOp::create(rewriter, loc, patches, layer.getKernels(),
                        layer.getBn(), layer.getAffine(), layer.getEpsAttr());
  Value mixed = MixOp::create(rewriter, loc, layer.getMixAttr(), weights,
                              experts, layer.getProj());
  if (layer.getAttention() == AttentionKind::se)
    mixed = AttentionOp::create(rewriter, loc, AttentionKind::se, mixed,
                                layer.getSe());

  SmallVector<int64_t> grid = {input.getShape()[2] / patch[0],
                               input.getShape()[3] / patch[1]};
  rewriter.replaceOpWithNewOp<UnpatchifyOp>(
      layer, mixed, rewriter.getDenseI64ArrayAttr(grid));
}

struct DecomposeLayerPass : pce::impl::DecomposeLayerBase<DecomposeLayerPass> {
  void runOnOperation() override {
    // A plain walk rather than the greedy driver: nothing but pce.layer may
    // change (no folding, no dead-code removal).
    SmallVector<LayerOp> layers;
    getOperation()->walk([&](LayerOp layer) { layers.push_back(layer); });
    IRRewriter rewriter(&getContext());
    for (LayerOp layer : layers)
      decompose(layer, rewriter);
  }
};
} // namespace
