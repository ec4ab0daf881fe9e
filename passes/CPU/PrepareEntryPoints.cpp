//===- PrepareEntryPoints.cpp - the ABI of artifact entry points ----------===//

#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::pce {
#define GEN_PASS_DEF_PREPAREENTRYPOINTS
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;

namespace {
struct PrepareEntryPointsPass
    : pce::impl::PrepareEntryPointsBase<PrepareEntryPointsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    auto readOnly = BoolAttr::get(ctx, false);
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(ctx));
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        if (isa<TensorType>(func.getArgument(i).getType()))
          func.setArgAttr(
              i, bufferization::BufferizationDialect::kWritableAttrName,
              readOnly);
    }
  }
};
} // namespace
