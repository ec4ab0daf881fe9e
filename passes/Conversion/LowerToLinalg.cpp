//===- LowerToLinalg.cpp - the pce-lower-to-linalg pass -------------------===//

#include "dialect/PCEDialect.h"
#include "dialect/PCEOps.h"
#include "passes/Conversion/PCEToLinalg.h"
#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::pce {
#define GEN_PASS_DEF_LOWERTOLINALG
#include "passes/Conversion/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;

namespace {
struct LowerToLinalgPass : pce::impl::LowerToLinalgBase<LowerToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    populateLowerPatchingPatterns(patterns);
    populateLowerEmbedPatterns(patterns);
    populateLowerRoutePatterns(patterns);
    populateLowerExpertsPatterns(patterns);

    ConversionTarget target(*ctx);
    target.addIllegalDialect<PCEDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect, func::FuncDialect>();
    // A composite layer is not lowered directly: say what to run (and only
    // that, rather than a generic legalisation failure).
    bool hasLayers = false;
    getOperation()->walk([&](LayerOp layer) {
      layer.emitError("'pce.layer' must be decomposed before lowering: run "
                      "-pce-decompose-layer first (the CPU pipeline does)");
      hasLayers = true;
    });
    if (hasLayers)
      return signalPassFailure();
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
