//===- OutlineLayers.cpp - one function per pce.layer ---------------------===//

#include "dialect/PCEOps.h"
#include "passes/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::pce {
#define GEN_PASS_DEF_OUTLINELAYERS
#include "passes/Transforms/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
using namespace mlir::pce;

namespace {

/// The `pce.param` name of `v` when it is a parameter argument of `f`.
StringRef paramName(func::FuncOp f, Value v) {
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || arg.getOwner()->getParentOp() != f.getOperation())
    return {};
  auto name = getParamName(f, arg.getArgNumber());
  return name ? name.getValue() : StringRef();
}

struct OutlineLayersPass : pce::impl::OutlineLayersBase<OutlineLayersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    llvm::StringSet<> names;
    for (func::FuncOp f : funcs) {
      if (f.isPrivate() || f.isExternal())
        continue;
      WalkResult walk = f.walk([&](LayerOp layer) {
        if (failed(outline(module, f, layer, names)))
          return WalkResult::interrupt();
        return WalkResult::advance();
      });
      if (walk.wasInterrupted())
        return signalPassFailure();
    }
  }

  LogicalResult outline(ModuleOp module, func::FuncOp f, LayerOp layer,
                        llvm::StringSet<> &names) {
    MLIRContext *ctx = &getContext();
    // Every operand but the input must be a named parameter of `f`.
    llvm::MapVector<Value, StringRef> params;
    for (OpOperand &operand : layer->getOpOperands()) {
      if (operand.getOperandNumber() == 0)
        continue;
      StringRef name = paramName(f, operand.get());
      if (name.empty())
        return layer.emitError()
               << "operand #" << operand.getOperandNumber()
               << " is not a parameter argument ({pce.param = ...}) of @"
               << f.getSymName() << "; only such layers can be outlined";
      params.insert({operand.get(), name});
    }
    StringRef kernel = params.lookup(layer.getKernels());
    StringRef name = kernel.ends_with(".experts.kernel")
                         ? kernel.drop_back(strlen(".experts.kernel"))
                         : kernel.split('.').first;
    if (!names.insert(name).second || module.lookupSymbol(name))
      return layer.emitError() << "a second layer named '" << name
                               << "' (from parameter '" << kernel
                               << "'): layer names must be unique";

    SmallVector<Type> argTypes{layer.getInput().getType()};
    SmallVector<DictionaryAttr> argAttrs{DictionaryAttr::get(
        ctx, {NamedAttribute(StringAttr::get(ctx, kInputAttrName),
                             StringAttr::get(ctx, "x"))})};
    for (auto &[value, param] : params) {
      argTypes.push_back(value.getType());
      argAttrs.push_back(DictionaryAttr::get(
          ctx, {NamedAttribute(StringAttr::get(ctx, kParamAttrName),
                               StringAttr::get(ctx, param))}));
    }
    OpBuilder builder(module.getBodyRegion());
    builder.setInsertionPointToEnd(module.getBody());
    auto outlined = func::FuncOp::create(
        builder, layer.getLoc(), name,
        FunctionType::get(ctx, argTypes, {layer.getType()}));
    outlined.setAllArgAttrs(argAttrs);
    outlined.setResultAttr(0, kOutputAttrName, StringAttr::get(ctx, "y"));
    outlined->setAttr(kDifferentiableAttrName, UnitAttr::get(ctx));
    outlined->setAttr(kLayerNameAttrName, StringAttr::get(ctx, name));

    Block *block = outlined.addEntryBlock();
    IRMapping mapping;
    mapping.map(layer.getInput(), block->getArgument(0));
    for (auto [i, entry] : llvm::enumerate(params))
      mapping.map(entry.first, block->getArgument(i + 1));
    builder.setInsertionPointToEnd(block);
    Operation *clone = builder.clone(*layer, mapping);
    func::ReturnOp::create(builder, layer.getLoc(), clone->getResults());
    return success();
  }
};
} // namespace
