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

#include "passes/Builders/LinalgBuilders.h"
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <limits>

namespace mlir::pce {
#define GEN_PASS_DEF_VECTORIZEGENERICS
#include "passes/CPU/Passes.h.inc"
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

/// The tile of a result row of `extent` elements: 0 for the whole row, else
/// the largest divisor of at most `maxLanes` lanes (at least 4); nothing when
/// there is none.
std::optional<int64_t> rowTile(int64_t extent, int64_t maxLanes) {
  if (extent <= maxLanes)
    return 0;
  for (int64_t t = maxLanes; t >= 4; --t)
    if (extent % t == 0)
      return t;
  return std::nullopt;
}

/// The tiling that makes every tile one (piece of a) result row, or nothing
/// when `op` is left alone.
std::optional<Plan> plan(linalg::GenericOp op, int64_t maxLanes,
                         bool keepOuterReductions = false) {
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
  std::optional<int64_t> vecTile = rowTile(extent, maxLanes);
  if (!vecTile)
    return std::nullopt;

  Plan p;
  for (unsigned d = 0; d < ranges.size(); ++d)
    p.tileSizes.push_back(d == vecDim ? *vecTile : 1);
  // Reduction loops go innermost, so a row's accumulator stays in a
  // register, except (keepOuterReductions) the leading reduction loops of
  // the generic but its last: they stay outside, so that the inputs one
  // outer step reads stay in cache while every row is updated.
  unsigned outer = 0;
  if (keepOuterReductions)
    while (outer < ranges.size() && iterators[outer] != utils::IteratorType::parallel)
      ++outer;
  outer = outer > 0 ? outer - 1 : 0;
  for (unsigned d = 0; d < outer; ++d)
    p.interchange.push_back(d);
  for (unsigned d = outer; d < ranges.size(); ++d)
    if (iterators[d] == utils::IteratorType::parallel)
      p.interchange.push_back(d);
  for (unsigned d = outer; d < ranges.size(); ++d)
    if (iterators[d] != utils::IteratorType::parallel)
      p.interchange.push_back(d);
  for (unsigned d = 0; d < ranges.size(); ++d)
    if (d != vecDim)
      p.vectorLoopLast.push_back(d);
  p.vectorLoopLast.push_back(vecDim);
  return p;
}

/// A reduction whose result does not index the dimension that every input
/// reads contiguously cannot be vectorized along a result row: the weight
/// gradient of the embedding, gWe[d, c] = sum over (n, p, i, j) of
/// gz[n, p, d, i, j] * core[n, p, c, i, j], or the SPP levels' max pooling.
/// It is split on buffers into
///   partial[..., j] = the same reduction without j   (j now a result row)
///   out[...] = out[...] combined with partial[..., j] over j   (small)
/// where the body combines with `arith.addf` (partial starts at 0) or
/// `arith.maximumf` (at -inf). Returns the first generic (which `plan`
/// vectorizes along j), or null when `op` is left alone.
/// Fewest rows (reduction iterations besides the contiguous dimension) per
/// result element for splitContiguousReduction.
constexpr int64_t kMinRowsToSplit = 64;

/// A generic the reduction rewrites below may change: on buffers of static
/// shapes with unit innermost strides, one result indexed by plain loops.
bool isRewritableReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() == 0)
    return false;
  for (Value operand : op->getOperands())
    if (!isStaticWithUnitInnerStride(operand.getType()))
      return false;
  return op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isProjectedPermutation();
}

linalg::GenericOp splitContiguousReduction(RewriterBase &rewriter,
                                           linalg::GenericOp op, int64_t maxLanes) {
  if (!isRewritableReduction(op) || op.getNumDpsInputs() == 0 ||
      op.getNumReductionLoops() < 2)
    return {};
  OpOperand *init = op.getDpsInitOperand(0);
  AffineMap initMap = op.getMatchingIndexingMap(init);
  // The dimension every input reads innermost, a reduction the result lacks.
  std::optional<unsigned> dim;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumResults() == 0)
      return {};
    auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
    if (!last || (dim && *dim != last.getPosition()))
      return {};
    dim = last.getPosition();
  }
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (iterators[*dim] != utils::IteratorType::reduction ||
      initMap.isFunctionOfDim(*dim))
    return {};
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t extent = ranges[*dim];
  if (extent < 4 || extent > maxLanes)
    return {};
  // Worth a second pass and a buffer only when each result element reduces
  // many rows: the weight gradient's 8,192, not a pooling bin's 8 (which
  // would only add code: +0.2 s of pce-compile on examples/fashion_pce.mlir).
  int64_t rowsPerResult = 1;
  for (unsigned d = 0; d < ranges.size(); ++d)
    if (d != *dim && iterators[d] == utils::IteratorType::reduction)
      rowsPerResult *= ranges[d];
  if (rowsPerResult < kMinRowsToSplit)
    return {};
  // The body: yield combine(result element, term), the result element read
  // there only.
  Block &body = op.getRegion().front();
  BlockArgument acc = op.getMatchingBlockArgument(init);
  Operation *combine = body.getTerminator()->getOperand(0).getDefiningOp();
  if (!combine || !isa<arith::AddFOp, arith::MaximumFOp>(combine) ||
      !acc.hasOneUse() || acc.getUses().begin()->getOwner() != combine)
    return {};
  bool isMax = isa<arith::MaximumFOp>(combine);

  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  rewriter.setInsertionPoint(op);
  auto outType = cast<MemRefType>(init->get().getType());
  SmallVector<int64_t> partialShape(outType.getShape());
  partialShape.push_back(extent);
  auto partialType = MemRefType::get(partialShape, outType.getElementType());
  Value partial = memref::AllocOp::create(rewriter, loc, partialType);
  Value identity = floatConstant(
      rewriter, loc, outType.getElementType(),
      isMax ? -std::numeric_limits<double>::infinity() : 0.0);
  linalg::FillOp::create(rewriter, loc, ValueRange{identity}, ValueRange{partial});

  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<AffineExpr> partialResults(initMap.getResults());
  partialResults.push_back(getAffineDimExpr(*dim, ctx));
  maps.back() = AffineMap::get(initMap.getNumDims(), 0, partialResults, ctx);
  iterators[*dim] = utils::IteratorType::parallel;
  auto first = linalg::GenericOp::create(rewriter, loc, TypeRange{},
                                         op.getDpsInputs(), ValueRange{partial},
                                         maps, iterators);
  rewriter.inlineRegionBefore(op.getRegion(), first.getRegion(),
                              first.getRegion().end());

  unsigned rank = outType.getRank();
  SmallVector<utils::IteratorType> combineIterators(rank, utils::IteratorType::parallel);
  combineIterators.push_back(utils::IteratorType::reduction);
  linalg::GenericOp::create(
      rewriter, loc, TypeRange{}, ValueRange{partial}, ValueRange{init->get()},
      SmallVector<AffineMap>{AffineMap::getMultiDimIdentityMap(rank + 1, ctx),
                             loopsMap(ctx, rank + 1, firstLoops(rank))},
      combineIterators, [&](OpBuilder &nb, Location nloc, ValueRange a) {
        Value c = isMax ? Value(arith::MaximumFOp::create(nb, nloc, a[1], a[0]))
                        : Value(arith::AddFOp::create(nb, nloc, a[1], a[0]));
        linalg::YieldOp::create(nb, nloc, c);
      });
  memref::DeallocOp::create(rewriter, loc, partial);
  rewriter.eraseOp(op);
  return first;
}

/// A reduction whose result's innermost dimension `d` is read by an input at
/// another position (the embedding's weight gradient gWe[d, c] reads
/// core[n, p, c, i, j] with c outside the contiguous j) gets a copy of that
/// input with `d` moved innermost, so that `plan` vectorizes it along result
/// rows. Lanes are distinct result elements, each summed over the reduction
/// loops in their original order: the same bits as the scalar loops, unlike
/// splitContiguousReduction. The copy is one pass over the input; worth it
/// only with many rows per result element. Returns `op` (its leading
/// reductions then stay outside, as for a split), or null when left alone.
linalg::GenericOp transposeForRows(RewriterBase &rewriter, linalg::GenericOp op,
                                   int64_t maxLanes) {
  if (!isRewritableReduction(op))
    return {};
  AffineMap initMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (initMap.getNumResults() == 0)
    return {};
  unsigned d = cast<AffineDimExpr>(initMap.getResults().back()).getPosition();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t extent = ranges[d];
  if (iterators[d] != utils::IteratorType::parallel || extent < 4 ||
      !rowTile(extent, maxLanes))
    return {};
  int64_t rowsPerResult = 1;
  for (unsigned k = 0; k < ranges.size(); ++k)
    if (iterators[k] == utils::IteratorType::reduction)
      rowsPerResult *= ranges[k];
  if (rowsPerResult < kMinRowsToSplit)
    return {};
  // Inputs that read `d` at a position other than the last, by plain dims,
  // and are read again for another parallel dimension (the copy is then
  // reused: the weight gradient's core for every d, not a bias gradient's
  // single read).
  SmallVector<std::pair<OpOperand *, unsigned>> moves; // operand, position of d
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isProjectedPermutation())
      return {};
    bool reused = false;
    for (unsigned k = 0; k < ranges.size(); ++k)
      if (iterators[k] == utils::IteratorType::parallel && !map.isFunctionOfDim(k))
        reused = true;
    for (auto [i, expr] : llvm::enumerate(map.getResults()))
      if (cast<AffineDimExpr>(expr).getPosition() == d && i + 1 != map.getNumResults()) {
        if (!reused)
          return {};
        moves.push_back({input, static_cast<unsigned>(i)});
      }
  }
  if (moves.empty())
    return {};

  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (auto [input, at] : moves) {
    auto type = cast<MemRefType>(input->get().getType());
    unsigned rank = type.getRank();
    // New position j holds old position order[j]: `at` moved to the end.
    SmallVector<unsigned> order;
    for (unsigned q = 0; q < rank; ++q)
      if (q != at)
        order.push_back(q);
    order.push_back(at);
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> readOld(rank), newResults;
    AffineMap oldMap = maps[input->getOperandNumber()];
    for (auto [j, q] : llvm::enumerate(order)) {
      shape.push_back(type.getDimSize(q));
      readOld[q] = getAffineDimExpr(j, ctx);
      newResults.push_back(oldMap.getResult(q));
    }
    rewriter.setInsertionPoint(op);
    Value copy = memref::AllocOp::create(rewriter, loc,
                                         MemRefType::get(shape, type.getElementType()));
    linalg::GenericOp::create(
        rewriter, loc, TypeRange{}, ValueRange{input->get()}, ValueRange{copy},
        SmallVector<AffineMap>{AffineMap::get(rank, 0, readOld, ctx),
                               AffineMap::getMultiDimIdentityMap(rank, ctx)},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [](OpBuilder &nb, Location nloc, ValueRange a) {
          linalg::YieldOp::create(nb, nloc, a[0]);
        });
    maps[input->getOperandNumber()] = AffineMap::get(oldMap.getNumDims(), 0, newResults, ctx);
    rewriter.modifyOpInPlace(op, [&] { input->set(copy); });
    rewriter.setInsertionPointAfter(op);
    memref::DeallocOp::create(rewriter, loc, copy);
  }
  rewriter.modifyOpInPlace(op, [&] { op.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps)); });
  return op;
}

/// How a 1-D row is carried through loops: pieces of 16, 8, 4, 2 or 1 lanes
/// (widths LLVM keeps in registers), largest first; a power of two up to 64
/// stays whole (LLVM splits those evenly).
SmallVector<int64_t> rowPieces(VectorType type) {
  if (type.getRank() != 1 || type.isScalable())
    return {type.getNumElements()};
  int64_t n = type.getDimSize(0);
  if (llvm::isPowerOf2_64(n))
    return {n};
  SmallVector<int64_t> pieces;
  for (int64_t size = 16; size >= 1; size /= 2)
    while (n >= size) {
      pieces.push_back(size);
      n -= size;
    }
  return pieces;
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

  // The row is carried in pieces of legal widths: LLVM scalarizes a loop-
  // carried vector<36xf32> (36 scalar phis, spilled), not 16 + 16 + 4.
  auto rowType = cast<VectorType>(read.getVectorType());
  SmallVector<int64_t> pieces = rowPieces(rowType);
  Location loc = read.getLoc();
  auto split = [&](OpBuilder &b, Value row) {
    SmallVector<Value> parts;
    if (pieces.size() == 1)
      return SmallVector<Value>{row};
    int64_t offset = 0;
    for (int64_t size : pieces) {
      parts.push_back(vector::ExtractStridedSliceOp::create(b, loc, row, {offset}, {size}, {1}));
      offset += size;
    }
    return parts;
  };
  auto join = [&](OpBuilder &b, ValueRange parts) -> Value {
    if (parts.size() == 1)
      return parts.front();
    Value row = ub::PoisonOp::create(b, loc, rowType);
    int64_t offset = 0;
    for (auto [part, size] : llvm::zip(parts, pieces)) {
      row = vector::InsertStridedSliceOp::create(b, loc, part, row, {offset}, {1});
      offset += size;
    }
    return row;
  };

  rewriter.setInsertionPoint(loop);
  Operation *initial = rewriter.clone(*read);
  SmallVector<Value> initialParts = split(rewriter, initial->getResult(0));
  auto loopLike = cast<LoopLikeOpInterface>(loop.getOperation());
  FailureOr<LoopLikeOpInterface> carried = loopLike.replaceWithAdditionalYields(
      rewriter, initialParts, /*replaceInitOperandUsesInLoop=*/false,
      [&](OpBuilder &b, Location, ArrayRef<BlockArgument>) {
        b.setInsertionPoint(write);
        return split(b, write.getVector());
      });
  if (failed(carried))
    return;
  auto newLoop = cast<scf::ForOp>(carried->getOperation());
  unsigned n = pieces.size();
  rewriter.setInsertionPoint(read);
  rewriter.replaceOp(read, join(rewriter, newLoop.getRegionIterArgs().take_back(n)));
  rewriter.setInsertionPointAfter(newLoop);
  IRMapping mapping;
  mapping.map(write.getVector(), join(rewriter, newLoop.getResults().take_back(n)));
  rewriter.clone(*write, mapping);
  rewriter.eraseOp(write);
}

struct VectorizeGenerics : pce::impl::VectorizeGenericsBase<VectorizeGenerics> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    MLIRContext *ctx = &getContext();
    IRRewriter rewriter(ctx);
    // Generics that cannot be vectorized along a result row as they are may
    // be split first (split-reductions).
    // Or (transpose-inputs) read through a copy with the row innermost.
    llvm::SmallPtrSet<Operation *, 8> split;
    if (splitReductions || transposeInputs) {
      SmallVector<linalg::GenericOp> candidates;
      root->walk([&](linalg::GenericOp op) {
        if (!plan(op, maxLanes))
          candidates.push_back(op);
      });
      for (linalg::GenericOp op : candidates) {
        linalg::GenericOp rows;
        if (splitReductions)
          rows = splitContiguousReduction(rewriter, op, maxLanes);
        if (!rows && transposeInputs)
          rows = transposeForRows(rewriter, op, maxLanes);
        if (rows)
          split.insert(rows);
      }
    }

    SmallVector<std::pair<linalg::GenericOp, Plan>> work;
    root->walk([&](linalg::GenericOp op) {
      if (auto p = plan(op, maxLanes, split.contains(op)))
        work.push_back({op, *p});
    });
    if (work.empty())
      return;

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
