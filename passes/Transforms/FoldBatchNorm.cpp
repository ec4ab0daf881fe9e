//===- FoldBatchNorm.cpp - inference batch norm into the expert kernels ---===//
//
// With running statistics, an expert's batch norm is a per-(expert, channel)
// affine map of its convolution, and the convolution is linear in its
// kernel, so
//
//   relu(scale[e,o] * conv(p, K_e)[o] + shift[e,o])
//     = relu(conv(p, scale[e,o] * K_e[o])[o] + shift[e,o])
//
// This pass rewrites `pce.experts %p, %K bn(%g, %b, %m, %v)` into
// `pce.experts %p, %K' affine(%ones, %shift)` with `K' = scale * K` computed
// once per call (E*Co*Cin*k*k multiplies, against one per output element
// before) and `%ones` a constant that the lowerings recognise (isSplatOne):
// the epilogue is then an add and a max. The shift is the folded bias.
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEOps.h"
#include "passes/Builders/PCEMath.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::pce {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;
using namespace mlir::pce::lowering;

namespace {

/// Whether `experts` has running statistics to fold and static shapes.
bool foldable(ExpertsOp experts) {
  if (experts.getBn().empty())
    return false;
  for (Value v : experts->getOperands())
    if (!cast<RankedTensorType>(v.getType()).hasStaticShape())
      return false;
  return true;
}

void fold(IRRewriter &rewriter, ExpertsOp experts) {
  Location loc = experts.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  rewriter.setInsertionPoint(experts);
  auto [scale, shift] = foldBatchNorm(rewriter, loc, experts.getBn(),
                                      experts.getEps().convertToDouble());
  Value kernels = experts.getKernels(); // [E,Co,Cin,k,k]
  RankedTensorType kernelsType = typeOf(kernels);
  Value init = tensor::EmptyOp::create(rewriter, loc, kernelsType.getShape(),
                                       kernelsType.getElementType());
  AffineMap identity = AffineMap::getMultiDimIdentityMap(5, ctx);
  Value scaled = buildGeneric(
      rewriter, loc, {kernels, scale}, init,
      {identity, loopsMap(ctx, 5, {0, 1}), identity}, {},
      [](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        return arith::MulFOp::create(nb, nloc, a[1], a[0]);
      });
  auto scaleType = typeOf(scale);
  Value ones = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(
          scaleType, rewriter.getFloatAttr(scaleType.getElementType(), 1.0)));
  rewriter.replaceOpWithNewOp<ExpertsOp>(
      experts, experts.getType(), experts.getPatches(), scaled, ValueRange{},
      ValueRange{ones, shift}, experts.getEpsAttr());
}

struct FoldBatchNorm : pce::impl::FoldBatchNormBase<FoldBatchNorm> {
  void runOnOperation() override {
    SmallVector<ExpertsOp> work;
    getOperation()->walk([&](ExpertsOp experts) {
      if (foldable(experts))
        work.push_back(experts);
    });
    IRRewriter rewriter(&getContext());
    for (ExpertsOp experts : work)
      fold(rewriter, experts);
  }
};

} // namespace
