//===- SharedObject.cpp - LLVM dialect module to a shared object ----------===//

#include "passes/Artifact/SharedObject.h"
#include "passes/Artifact/CudaHostBinding.h"

#include "runtime/CpuFeatures.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Support/Format.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <chrono>

using namespace mlir;

namespace pce::compile {

static std::unique_ptr<llvm::Module> translate(ModuleOp module,
                                               llvm::LLVMContext &context,
                                               const CodegenOptions &options) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  // gpu.binary (the kernels) -> global data and module loads.
  if (options.cuda) {
    registerGPUDialectTranslation(registry);
    gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  }
  module->getContext()->appendDialectRegistry(registry);
  auto llvmModule = translateModuleToLLVMIR(module, context, "pce_model");
  if (!llvmModule) {
    module.emitError("translation to LLVM IR failed");
    return nullptr;
  }
  if (options.cuda)
    if (llvm::Error err = bindCudaHostCode(*llvmModule)) {
      module.emitError() << llvm::toString(std::move(err));
      return nullptr;
    }
  if (!options.llvmIRPath.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(options.llvmIRPath, ec, llvm::sys::fs::OF_Text);
    if (ec) {
      module.emitError() << "cannot write " << options.llvmIRPath << ": " << ec.message();
      return nullptr;
    }
    llvmModule->print(os, nullptr);
  }
  return llvmModule;
}

/// A target machine for this host (or `cpu`), position-independent code.
static std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const CodegenOptions &options, std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpu = options.cpu;
  std::string features;
  if (cpu == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures subtarget;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      subtarget.AddFeature(feature.first(), feature.second);
    features = subtarget.getString();
  }
  llvm::TargetOptions targetOptions;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, cpu, features, targetOptions, llvm::Reloc::PIC_, std::nullopt,
      options.optLevel >= 3 ? llvm::CodeGenOptLevel::Aggressive
                            : llvm::CodeGenOptLevel::Default));
}

namespace {
/// Seconds per step, printed by --timing.
struct StepTimer {
  bool enabled;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  void done(const char *step) {
    auto now = std::chrono::steady_clock::now();
    if (enabled)
      llvm::errs() << llvm::format("pce-compile: %-20s %.3f s\n", step,
                                   std::chrono::duration<double>(now - last).count());
    last = now;
  }
};
} // namespace

llvm::Expected<TargetCpuInfo> describeTargetCpu(const CodegenOptions &options) {
  std::string error;
  auto machine = createTargetMachine(options, error);
  if (!machine)
    return llvm::createStringError("no code generator for this machine: " + error);
  const llvm::MCSubtargetInfo *subtarget = machine->getMCSubtargetInfo();
  // An --mcpu LLVM does not know would silently mean a generic CPU.
  if (!subtarget->isCPUStringValid(machine->getTargetCPU()))
    return llvm::createStringError("unknown --mcpu '" + options.cpu + "' (llc -mcpu=help lists the CPUs)");
  TargetCpuInfo info{machine->getTargetCPU().str(), {}};
  // Vector and register extensions LLVM selects instructions from on its own
  // (the rest of the feature list is tuning or intrinsics-only, AMX among
  // them). evex512 is not a CPUID bit: it comes with avx512f, which is checked.
  auto generatedUnasked = [](llvm::StringRef f) {
    return (f.starts_with("avx") || f.starts_with("sse") || f.starts_with("fma") ||
            llvm::is_contained({"egpr", "ndd", "ppx", "push2pop2", "ccmp", "nf", "cf", "zu"}, f)) &&
           f != "evex512" && f != "sse-unaligned-mem";
  };
  for (const llvm::SubtargetFeatureKV &feature : subtarget->getAllProcessorFeatures()) {
    if (!subtarget->getFeatureBits().test(feature.Value))
      continue;
    if (::pce::rt::isKnownCpuFeature(feature.Key))
      info.features.push_back(feature.Key);
    else if (generatedUnasked(feature.Key))
      info.unchecked.push_back(feature.Key);
  }
  return info;
}

LogicalResult writeSharedObject(ModuleOp module, const std::string &path,
                                const CodegenOptions &options) {
  StepTimer timer{options.timing};
  llvm::LLVMContext context;
  auto llvmModule = translate(module, context, options);
  if (!llvmModule)
    return failure();
  timer.done("LLVM IR translation");

  std::string error;
  auto machine = createTargetMachine(options, error);
  if (!machine)
    return module.emitError() << "no code generator for this machine: " << error;
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());

  auto optimize = makeOptimizingTransformer(options.optLevel, /*sizeLevel=*/0,
                                            machine.get());
  if (llvm::Error err = optimize(llvmModule.get()))
    return module.emitError() << "LLVM optimisation failed: "
                              << llvm::toString(std::move(err));
  timer.done("LLVM optimisation");

  // Object file next to the library, removed once linked.
  std::string object = path + ".o";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object, ec, llvm::sys::fs::OF_None);
    if (ec)
      return module.emitError() << "cannot write " << object << ": " << ec.message();
    llvm::legacy::PassManager passes;
    if (machine->addPassesToEmitFile(passes, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return module.emitError("the code generator cannot emit object files");
    passes.run(*llvmModule);
  }
  timer.done("code generation");

  // Link with the C compiler driver: it knows where libc and libm live.
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    llvm::sys::fs::remove(object);
    return module.emitError("no C compiler driver 'cc' on PATH to link the "
                            "shared object");
  }
  std::string message;
  std::vector<llvm::StringRef> args = {*cc, "-shared", "-o", path, object, "-lm"};
  int rc = llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &message);
  llvm::sys::fs::remove(object);
  if (rc != 0)
    return module.emitError() << "linking " << path << " failed (" << rc
                              << "): " << message;
  timer.done("linking");
  return success();
}

} // namespace pce::compile
