//===- HoistStaticAllocas.cpp - stack buffers to the function entry -------===//
//
// convert-vector-to-scf lowers a transfer that is not a plain row (a
// transposed or broadcast read) through a small `memref.alloca` placed where
// the transfer was, i.e. inside the loop nest. LLVM's alloca in a non-entry
// block is a dynamic stack allocation that lives until the function returns,
// so a loop that runs it a million times overflows the stack. These buffers
// never carry values from one iteration to the next (each is written before
// it is read within one transfer), so one buffer per function is enough.
//
//===----------------------------------------------------------------------===//

#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::pce {
#define GEN_PASS_DEF_HOISTSTATICALLOCAS
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;

namespace {
struct HoistStaticAllocasPass
    : pce::impl::HoistStaticAllocasBase<HoistStaticAllocasPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &entry = func.getBody().front();
    SmallVector<memref::AllocaOp> nested;
    func.walk([&](memref::AllocaOp alloca) {
      // Only statically shaped buffers that no alloca_scope bounds already.
      if (alloca->getBlock() != &entry && alloca.getType().hasStaticShape() &&
          alloca->getNumOperands() == 0 &&
          !alloca->getParentOfType<memref::AllocaScopeOp>())
        nested.push_back(alloca);
    });
    for (memref::AllocaOp alloca : nested)
      alloca->moveBefore(&entry, entry.begin());
  }
};
} // namespace
