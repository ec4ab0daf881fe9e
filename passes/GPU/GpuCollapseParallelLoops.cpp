//===- GpuCollapseParallelLoops.cpp - one-dimensional loops for the GPU ---===//
//
// Collapses every outermost scf.parallel into one dimension so that tiling
// and gpu-map-parallel-loops give one block of threads per tile along the
// contiguous innermost dimension (docs/GPU.md).
//
//===----------------------------------------------------------------------===//

#include "passes/GPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

#include <numeric>
#include <vector>

namespace mlir::pce {
#define GEN_PASS_DEF_GPUCOLLAPSEPARALLELLOOPS
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;

namespace {

struct GpuCollapseParallelLoopsPass
    : pce::impl::GpuCollapseParallelLoopsBase<GpuCollapseParallelLoopsPass> {
  void getDependentDialects(DialectRegistry &registry) const override {
    GpuCollapseParallelLoopsBase::getDependentDialects(registry);
    // For gpu-module-to-binary later in the pipeline.
    registerBuiltinDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
    registerGPUDialectTranslation(registry);
    registerNVVMDialectTranslation(registry);
  }

  void runOnOperation() override {
    std::vector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>() &&
          loop.getNumLoops() > 1)
        outermost.push_back(loop);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp loop : outermost) {
      std::vector<unsigned> all(loop.getNumLoops());
      std::iota(all.begin(), all.end(), 0u);
      rewriter.setInsertionPoint(loop);
      collapseParallelLoops(rewriter, loop, {all});
    }
  }
};

} // namespace
