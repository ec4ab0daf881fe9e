//===- CudaHostBinding.cpp - CUDA host code onto the runtime's ABI --------===//

#include "passes/Artifact/CudaHostBinding.h"

#include "runtime/CompiledCudaAbi.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

using namespace llvm;

namespace pce::compile {
namespace abi = ::pce::cuda_abi;

namespace {

/// `from` (a declaration) replaced by a declaration `to` of the same type.
void redirect(Module &m, StringRef from, StringRef to) {
  Function *old = m.getFunction(from);
  if (!old || !old->isDeclaration() || old->use_empty())
    return;
  FunctionCallee callee = m.getOrInsertFunction(to, old->getFunctionType());
  old->replaceAllUsesWith(callee.getCallee());
  old->eraseFromParent();
}

/// The gpu.module's name for a binary global `<name>_binary`.
StringRef moduleName(Value *image) {
  StringRef name = image->stripPointerCasts()->getName();
  name.consume_back("_binary");
  return name;
}

/// mgpuModuleLoadJIT(ptx, optLevel) and mgpuModuleLoad(cubin, bytes) become
/// pceCudaModuleLoad(image, bytes or 0, name).
void nameModuleLoads(Module &m) {
  LLVMContext &ctx = m.getContext();
  Type *ptr = PointerType::getUnqual(ctx), *i64 = Type::getInt64Ty(ctx);
  FunctionCallee load = m.getOrInsertFunction(
      abi::kModuleLoad, FunctionType::get(ptr, {ptr, i64, ptr}, false));
  for (StringRef upstream : {"mgpuModuleLoadJIT", "mgpuModuleLoad"}) {
    Function *f = m.getFunction(upstream);
    if (!f)
      continue;
    bool jit = upstream == "mgpuModuleLoadJIT";
    for (User *user : make_early_inc_range(f->users())) {
      auto *call = cast<CallInst>(user);
      IRBuilder<> b(call);
      Value *image = call->getArgOperand(0);
      Value *bytes = jit ? ConstantInt::get(i64, 0)
                         : b.CreateZExtOrTrunc(call->getArgOperand(1), i64);
      Value *name = b.CreateGlobalString(moduleName(image), "pce_cuda_module_name");
      CallInst *named = b.CreateCall(load, {image, bytes, name});
      call->replaceAllUsesWith(named);
      call->eraseFromParent();
    }
    f->eraseFromParent();
  }
}

/// The functions of @llvm.global_ctors (or _dtors), in order; the variable
/// is removed.
SmallVector<Function *> takeStructors(Module &m, StringRef variable) {
  SmallVector<Function *> functions;
  GlobalVariable *gv = m.getGlobalVariable(variable);
  if (!gv)
    return functions;
  if (auto *array = dyn_cast<ConstantArray>(gv->getInitializer()))
    for (Use &entry : array->operands())
      if (auto *fn = dyn_cast<Function>(
              cast<ConstantStruct>(entry)->getOperand(1)->stripPointerCasts()))
        functions.push_back(fn);
  gv->eraseFromParent();
  return functions;
}

/// `void NAME()` calling `functions` in order, exported.
void defineCaller(Module &m, StringRef name, ArrayRef<Function *> functions) {
  LLVMContext &ctx = m.getContext();
  auto *fn = Function::Create(FunctionType::get(Type::getVoidTy(ctx), false),
                              GlobalValue::ExternalLinkage, name, m);
  IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
  for (Function *f : functions)
    b.CreateCall(f);
  b.CreateRetVoid();
}

/// The declaration `fn` becomes an internal function that calls through
/// `ptr @__pce_cuda_<name>`, an exported slot the runtime fills in.
void callThroughSlot(Module &m, Function *fn) {
  LLVMContext &ctx = m.getContext();
  Type *ptr = PointerType::getUnqual(ctx);
  auto *slot = new GlobalVariable(m, ptr, /*isConstant=*/false,
                                  GlobalValue::ExternalLinkage,
                                  ConstantPointerNull::get(cast<PointerType>(ptr)),
                                  abi::kSlotPrefix + fn->getName().str());
  fn->setLinkage(GlobalValue::InternalLinkage);
  IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
  Value *target = b.CreateLoad(ptr, slot);
  SmallVector<Value *> args;
  for (Argument &a : fn->args())
    args.push_back(&a);
  CallInst *call = b.CreateCall(fn->getFunctionType(), target, args);
  if (fn->getReturnType()->isVoidTy())
    b.CreateRetVoid();
  else
    b.CreateRet(call);
}

} // namespace

Error bindCudaHostCode(Module &m) {
  // Every host allocation is managed memory: kernels and the host code's
  // copies both reach it.
  redirect(m, "malloc", abi::kAlloc);
  redirect(m, "free", abi::kFree);
  nameModuleLoads(m);
  defineCaller(m, abi::kLoadModulesSymbol, takeStructors(m, "llvm.global_ctors"));
  defineCaller(m, abi::kUnloadModulesSymbol, takeStructors(m, "llvm.global_dtors"));

  StringSet<> provided;
  for (const char *name : abi::kImports)
    provided.insert(name);
  std::string imports;
  for (Function &fn : make_early_inc_range(m.functions())) {
    if (!fn.isDeclaration() || fn.isIntrinsic())
      continue;
    StringRef name = fn.getName();
    if (provided.contains(name)) {
      if (fn.use_empty())
        continue;
      callThroughSlot(m, &fn);
      imports += name.str() + '\0';
      continue;
    }
    if (name.starts_with("mgpu") || name.starts_with("_mlir_"))
      return createStringError(
          "the host code calls '" + name.str() +
          "', which the PCE runtime does not provide for CUDA artifacts "
          "(runtime/CompiledCudaAbi.h)");
  }
  // The imports, each NUL-terminated, then an empty name.
  auto *list = ConstantDataArray::getString(m.getContext(), imports, /*AddNull=*/true);
  new GlobalVariable(m, list->getType(), /*isConstant=*/true,
                     GlobalValue::ExternalLinkage, list, abi::kImportsSymbol);
  return Error::success();
}

} // namespace pce::compile
