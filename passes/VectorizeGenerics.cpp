//===- VectorizeGenerics.cpp - vectorize linalg.generic along rows --------===//
//
// Elementwise and reduction `linalg.generic`s on buffers are tiled so that
// each tile is one row of the result (every loop a tile of 1, except the loop
// that indexes the result's innermost dimension, which is kept whole, or cut
// into an even number of pieces when longer than `max-lanes`), with the
// reduction loops innermost; every tile is then vectorized with
// `linalg::vectorize`, and the reads and writes of the result row are
// hoisted out of the reduction loops (keepRowInRegisters) so that the
// accumulator stays in a register. Unit dimensions of the
// resulting vectors are folded away.
//
// Only generics whose every operand is read either contiguously along the
// vector loop (the loop is the operand's innermost index) or not at all
// (broadcast) are vectorized: anything else would become a gather.
//
//===----------------------------------------------------------------------===//

#include "passes/LoweringUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::pce {
#define GEN_PASS_DEF_VECTORIZEGENERICS
#include "passes/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce::lowering;

namespace {

struct Plan {
  SmallVector<int64_t> tileSizes;
  SmallVector<unsigned> interchange;
  /// The tile's loops reordered so that the vector loop is last: the
  /// vectorized tile then reads every operand along its innermost dimension
  /// (a transposed vector<Nx1> read would be lowered to N scalar loads).
  SmallVector<unsigned> vectorLoopLast;
};

/// The tiling that makes every tile one (piece of a) result row, or nothing
/// when `op` is left alone.
std::optional<Plan> plan(linalg::GenericOp op, int64_t maxLanes) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1)
    return std::nullopt;
  for (Value operand : op->getOperands())
    if (!isStaticWithUnitInnerStride(operand.getType()))
      return std::nullopt;
  if (failed(linalg::vectorizeOpPrecondition(op)))
    return std::nullopt;

  OpOperand *init = op.getDpsInitOperand(0);
  AffineMap initMap = op.getMatchingIndexingMap(init);
  if (initMap.getNumResults() == 0)
    return std::nullopt;
  auto last = dyn_cast<AffineDimExpr>(initMap.getResults().back());
  if (!last)
    return std::nullopt;
  unsigned vecDim = last.getPosition();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (iterators[vecDim] != utils::IteratorType::parallel)
    return std::nullopt;

  // Every operand reads the vector loop contiguously or not at all.
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    for (auto [i, expr] : llvm::enumerate(map.getResults())) {
      auto dim = dyn_cast<AffineDimExpr>(expr);
      if (!dim)
        return std::nullopt;
      if (dim.getPosition() == vecDim && i + 1 != map.getNumResults())
        return std::nullopt;
    }
  }

  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t extent = ranges[vecDim];
  if (ShapedType::isDynamic(extent) || extent < 2)
    return std::nullopt;
  int64_t vecTile = 0; // 0: the whole row
  if (extent > maxLanes) {
    for (int64_t t = maxLanes; t >= 2 && !vecTile; --t)
      if (extent % t == 0)
        vecTile = t;
    if (vecTile < 4)
      return std::nullopt;
  }

  Plan p;
  for (unsigned d = 0; d < ranges.size(); ++d)
    p.tileSizes.push_back(d == vecDim ? vecTile : 1);
  for (unsigned d = 0; d < ranges.size(); ++d)
    if (iterators[d] == utils::IteratorType::parallel)
      p.interchange.push_back(d);
  for (unsigned d = 0; d < ranges.size(); ++d)
    if (iterators[d] != utils::IteratorType::parallel)
      p.interchange.push_back(d);
  for (unsigned d = 0; d < ranges.size(); ++d)
    if (d != vecDim)
      p.vectorLoopLast.push_back(d);
  p.vectorLoopLast.push_back(vecDim);
  return p;
}

/// In a reduction loop `loop` of a vectorized tile, the result row is read
/// and written back every iteration. When the loop's block holds exactly one
/// transfer_write of a loop-invariant row, one transfer_read of the same row
/// before it and no other use of that buffer, the row is read once before the
/// loop, carried as an iter_arg and written once after it. (Upstream's
/// hoistRedundantVectorTransfers refuses rows reached through subviews,
/// which every tile's rows are.) The result buffer of a reduction generic is
/// never one of its inputs, so no other access in the loop can alias it.
void keepRowInRegisters(RewriterBase &rewriter, scf::ForOp loop) {
  Block *body = loop.getBody();
  vector::TransferWriteOp write;
  for (Operation &op : body->without_terminator())
    if (auto w = dyn_cast<vector::TransferWriteOp>(op)) {
      if (write)
        return;
      write = w;
    }
  if (!write || !write.getResults().empty())
    return;
  Value base = write.getBase();
  auto invariant = [&](Operation *op) {
    return llvm::all_of(op->getOperands().drop_front(isa<vector::TransferWriteOp>(op)),
                        [&](Value v) { return loop.isDefinedOutsideOfLoop(v); });
  };
  if (!invariant(write))
    return;
  vector::TransferReadOp read;
  for (OpOperand &use : base.getUses()) {
    Operation *user = use.getOwner();
    if (user == write || !loop->isAncestor(user))
      continue;
    auto r = dyn_cast<vector::TransferReadOp>(user);
    if (read || !r || r->getBlock() != body || !r->isBeforeInBlock(write) ||
        r.getVectorType() != write.getVectorType() ||
        r.getIndices() != write.getIndices() ||
        r.getPermutationMap() != write.getPermutationMap() || !invariant(r))
      return;
    read = r;
  }
  if (!read)
    return;

  rewriter.setInsertionPoint(loop);
  Operation *initial = rewriter.clone(*read);
  auto loopLike = cast<LoopLikeOpInterface>(loop.getOperation());
  FailureOr<LoopLikeOpInterface> carried = loopLike.replaceWithAdditionalYields(
      rewriter, initial->getResults(), /*replaceInitOperandUsesInLoop=*/false,
      [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
        return SmallVector<Value>{write.getVector()};
      });
  if (failed(carried))
    return;
  auto newLoop = cast<scf::ForOp>(carried->getOperation());
  rewriter.replaceOp(read, newLoop.getRegionIterArgs().back());
  rewriter.setInsertionPointAfter(newLoop);
  IRMapping mapping;
  mapping.map(write.getVector(), newLoop.getResults().back());
  rewriter.clone(*write, mapping);
  rewriter.eraseOp(write);
}

struct VectorizeGenerics : pce::impl::VectorizeGenericsBase<VectorizeGenerics> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<std::pair<linalg::GenericOp, Plan>> work;
    root->walk([&](linalg::GenericOp op) {
      if (auto p = plan(op, maxLanes))
        work.push_back({op, *p});
    });
    if (work.empty())
      return;

    IRRewriter rewriter(ctx);
    for (auto &[op, p] : work) {
      linalg::LinalgTilingOptions options;
      options.setTileSizes(p.tileSizes)
          .setInterchange(p.interchange)
          .setLoopType(linalg::LinalgTilingLoopType::ParallelLoops);
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::TiledLinalgOp> tiled =
          linalg::tileLinalgOp(rewriter, op, options);
      if (failed(tiled))
        continue;
      rewriter.eraseOp(op);
      Operation *tile = tiled->op.getOperation();
      if (auto generic = dyn_cast<linalg::GenericOp>(tile)) {
        FailureOr<linalg::GenericOp> reordered =
            linalg::interchangeGenericOp(rewriter, generic, p.vectorLoopLast);
        if (succeeded(reordered))
          tile = reordered->getOperation();
      }
      rewriter.setInsertionPoint(tile);
      FailureOr<linalg::VectorizationResult> vectorized =
          linalg::vectorize(rewriter, tile);
      if (failed(vectorized))
        continue; // the tile stays a (scalar) generic: still correct
      rewriter.eraseOp(tile);
    }

    RewritePatternSet patterns(ctx);
    vector::populateVectorTransferDropUnitDimsPatterns(patterns);
    vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
    vector::populateDropUnitDimWithShapeCastPatterns(patterns);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    vector::populateVectorMultiReductionLoweringPatterns(
        patterns, vector::VectorMultiReductionLowering::InnerParallel);
    vector::populateVectorShapeCastLoweringPatterns(patterns);
    vector::TransferReadOp::getCanonicalizationPatterns(patterns, ctx);
    vector::TransferWriteOp::getCanonicalizationPatterns(patterns, ctx);
    vector::ShapeCastOp::getCanonicalizationPatterns(patterns, ctx);
    vector::BroadcastOp::getCanonicalizationPatterns(patterns, ctx);
    vector::MultiDimReductionOp::getCanonicalizationPatterns(patterns, ctx);
    memref::SubViewOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(root, std::move(patterns))))
      return signalPassFailure();

    // Accumulators of reductions stay in registers: the result row's read
    // and write move out of the reduction loops (innermost first), once the
    // views they go through are hoisted.
    root->walk([](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
    // The row's read and write go through equal but distinct subviews.
    DominanceInfo dominance(root);
    eliminateCommonSubExpressions(rewriter, dominance, root);
    SmallVector<scf::ForOp> loops;
    root->walk([&](scf::ForOp loop) { loops.push_back(loop); });
    for (scf::ForOp loop : loops)
      keepRowInRegisters(rewriter, loop);
  }
};

} // namespace
