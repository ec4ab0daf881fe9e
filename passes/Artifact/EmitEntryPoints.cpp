//===- EmitEntryPoints.cpp - an artifact's C entry points -----------------===//

#include "passes/Artifact/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::pce {
#define GEN_PASS_DEF_EMITENTRYPOINTS
#include "passes/Artifact/Passes.h.inc"
} // namespace mlir::pce

using namespace mlir;
namespace rt = ::pce::rt;

/// Removes the `pce.*` argument and result attributes from lowered functions:
/// the manifest carries the names, and LLVM IR has no place for them.
static void stripNameAttributes(ModuleOp module) {
  auto strip = [](DictionaryAttr dict) -> DictionaryAttr {
    if (!dict)
      return dict;
    SmallVector<NamedAttribute> kept;
    for (NamedAttribute attr : dict)
      if (!attr.getName().getValue().starts_with("pce."))
        kept.push_back(attr);
    return DictionaryAttr::get(dict.getContext(), kept);
  };
  for (auto func : module.getOps<LLVM::LLVMFuncOp>()) {
    if (ArrayAttr args = func.getArgAttrsAttr()) {
      SmallVector<DictionaryAttr> dicts;
      for (Attribute a : args)
        dicts.push_back(strip(cast<DictionaryAttr>(a)));
      func.setAllArgAttrs(dicts);
    }
    if (ArrayAttr results = func.getResAttrsAttr()) {
      SmallVector<DictionaryAttr> dicts;
      for (Attribute a : results)
        dicts.push_back(strip(cast<DictionaryAttr>(a)));
      func.setAllResultAttrs(dicts);
    }
  }
}

/// Adds `pce_entry_<name>(ptr args)` (loads each descriptor pointer and calls
/// `_mlir_ciface_<name>`) and the constant string `<symbol>_signature`.
static LogicalResult emitEntryPoint(ModuleOp module,
                                    const rt::EntryPoint &entry) {
  MLIRContext *ctx = module.getContext();
  OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
  Location loc = module.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  auto callee =
      module.lookupSymbol<LLVM::LLVMFuncOp>("_mlir_ciface_" + entry.name);
  size_t count = entry.arguments.size() + entry.results.size();
  if (!callee || callee.getNumArguments() != count)
    return module.emitError() << "pce-emit-entry-points: the lowered module "
                                 "lacks _mlir_ciface_"
                              << entry.name << " taking " << count
                              << " descriptors";

  // void pce_entry_<name>(void **args): args[i] points at descriptor i.
  auto wrapper = LLVM::LLVMFuncOp::create(
      builder, loc, entry.symbol, LLVM::LLVMFunctionType::get(voidType, {ptr}));
  Block *body = wrapper.addEntryBlock(builder);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(body);
  SmallVector<Value> descriptors;
  for (size_t i = 0; i < count; ++i) {
    Value slot = LLVM::GEPOp::create(builder, loc, ptr, ptr, body->getArgument(0),
                                     ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
    descriptors.push_back(LLVM::LoadOp::create(builder, loc, ptr, slot));
  }
  LLVM::CallOp::create(builder, loc, callee, descriptors);
  LLVM::ReturnOp::create(builder, loc, ValueRange{});

  // const char <symbol>_signature[]: what the runtime checks the manifest against.
  builder.setInsertionPointToEnd(module.getBody());
  std::string signature = rt::canonicalSignature(entry);
  signature.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), signature.size());
  LLVM::GlobalOp::create(builder, loc, type, /*isConstant=*/true,
                         LLVM::Linkage::External, entry.symbol + "_signature",
                         builder.getStringAttr(signature));
  return success();
}

namespace {
struct EmitEntryPointsPass
    : public mlir::pce::impl::EmitEntryPointsBase<EmitEntryPointsPass> {
  using EmitEntryPointsBase::EmitEntryPointsBase;
  explicit EmitEntryPointsPass(std::vector<rt::EntryPoint> entries)
      : entries(std::move(entries)), given(true) {}

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<rt::EntryPoint> fromManifest;
    const std::vector<rt::EntryPoint> *toEmit = &entries;
    if (!given) {
      if (manifestPath.empty()) {
        module.emitError("pce-emit-entry-points needs the entry points: "
                         "manifest=PATH");
        return signalPassFailure();
      }
      auto manifest = rt::readManifest(manifestPath);
      if (!manifest.ok()) {
        module.emitError() << "pce-emit-entry-points: " << manifest.error();
        return signalPassFailure();
      }
      fromManifest = manifest->entryPoints;
      toEmit = &fromManifest;
    }
    stripNameAttributes(module);
    for (const rt::EntryPoint &entry : *toEmit)
      if (failed(emitEntryPoint(module, entry)))
        return signalPassFailure();
  }

  std::vector<rt::EntryPoint> entries;
  bool given = false;
};
} // namespace

std::unique_ptr<Pass>
mlir::pce::createEmitEntryPoints(std::vector<rt::EntryPoint> entries) {
  return std::make_unique<EmitEntryPointsPass>(std::move(entries));
}
