//===- Compile.cpp - the one compile API: a model to an artifact ----------===//

#include "passes/Artifact/Compile.h"
#include "dialect/PCEDialect.h"
#include "frontend/Importer.h"
#include "frontend/TrainingPlan.h"
#include "passes/Artifact/EntryPoints.h"
#include "passes/Artifact/ParameterRoles.h"
#include "passes/Artifact/Passes.h"
#include "passes/Artifact/SharedObject.h"
#include "passes/Passes.h"
#include "passes/Pipelines/Pipelines.h"
#include "runtime/Manifest.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>

using namespace mlir;
namespace rt = ::pce::rt;

namespace pce::compile {

std::optional<Target> parseTarget(llvm::StringRef name) {
  if (name == "cpu")
    return Target::Cpu;
  if (name == "cuda")
    return Target::Cuda;
  if (name == "cuda-emulated")
    return Target::CudaEmulated;
  return std::nullopt;
}

void registerCompilerDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<mlir::pce::PCEDialect>();
}

namespace {
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Writes `text` to `path` atomically (temporary file, then rename).
LogicalResult writeAtomically(const std::string &path, llvm::StringRef text) {
  std::string tmp = path + ".tmp";
  std::string error;
  auto out = openOutputFile(tmp, &error);
  if (!out) {
    llvm::errs() << "pce-compile: " << error << "\n";
    return failure();
  }
  out->os() << text;
  out->keep();
  out.reset();
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    llvm::errs() << "pce-compile: cannot write " << path << ": " << ec.message()
                 << "\n";
    return failure();
  }
  return success();
}

/// The decomposed model before lowering: layers outlined for training (with
/// `training`), decomposed, routers exposed as results, and the training
/// forward/backward of every differentiable function. The entry points are
/// read off this form, where names and tensor types are still at hand.
void buildModelPreparation(OpPassManager &pm, bool training) {
  if (training)
    pm.addPass(mlir::pce::createOutlineLayers());
  pm.addPass(mlir::pce::createDecomposeLayer());
  pm.addPass(mlir::pce::createExposeRouting());
  pm.addPass(mlir::pce::createGenerateBackward());
}

/// The target's pipeline after buildModelPreparation (which decomposed the
/// layers: only the decomposition's canonicalization is left of
/// buildDecompositionPipeline) and the entry points; a diagnostic for options
/// that do not parse.
LogicalResult buildLowering(OpPassManager &pm, const CompileOptions &options,
                            std::vector<rt::EntryPoint> entries) {
  if (options.target == Target::Cpu) {
    auto cpu = mlir::pce::CpuPipelineOptions::createFromString(options.pipelineOptions);
    if (!cpu) {
      llvm::errs() << "pce-compile: bad --pipeline-options for pce-cpu-pipeline: '"
                   << options.pipelineOptions << "'\n";
      return failure();
    }
    pm.addPass(createCanonicalizerPass());
    mlir::pce::buildCpuLoweringPipeline(pm, *cpu);
  } else {
    auto gpu = mlir::pce::GpuPipelineOptions::createFromString(options.pipelineOptions);
    if (!gpu) {
      llvm::errs() << "pce-compile: bad --pipeline-options for pce-gpu-pipeline: '"
                   << options.pipelineOptions << "'\n";
      return failure();
    }
    if (options.target == Target::CudaEmulated)
      gpu->emulateOnCpu = true;
    std::string message;
    if (failed(mlir::pce::verifyGpuPipelineOptions(*gpu, message))) {
      llvm::errs() << message << "\n";
      return failure();
    }
    pm.addPass(createCanonicalizerPass());
    mlir::pce::buildGpuLoweringPipeline(pm, *gpu);
  }
  pm.addPass(mlir::pce::createEmitEntryPoints(std::move(entries)));
  return success();
}
} // namespace

LogicalResult compileModule(ModuleOp module, llvm::StringRef outputDir,
                            llvm::StringRef sourceName,
                            const CompileOptions &options) {
  // Before decomposition, while the pce ops say what each operand is.
  auto roles = collectParameterRoles(module);
  if (failed(roles))
    return failure();
  PassManager prepare(module->getContext());
  buildModelPreparation(prepare, options.training);
  if (failed(prepare.run(module))) {
    llvm::errs() << "pce-compile: decomposition failed on " << sourceName << "\n";
    return failure();
  }
  auto entries = collectEntryPoints(module);
  if (failed(entries))
    return failure();
  auto parameters = collectParameters(module, *entries);
  if (failed(parameters) || failed(assignRoles(*parameters, *roles, module)))
    return failure();

  bool cuda = options.target == Target::Cuda;
  const char *pipelineName =
      options.target == Target::Cpu ? "pce-cpu-pipeline" : "pce-gpu-pipeline";
  auto pipelineStart = Clock::now();
  PassManager lower(module->getContext());
  if (failed(buildLowering(lower, options, *entries)))
    return failure();
  if (failed(lower.run(module))) {
    llvm::errs() << "pce-compile: " << pipelineName << " failed on " << sourceName
                 << "\n";
    return failure();
  }
  if (options.timing)
    llvm::errs() << llvm::format("pce-compile: %-20s %.3f s\n", pipelineName,
                                 secondsSince(pipelineStart));
  if (!options.dumpLLVMDialect.empty()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    if (failed(writeAtomically(options.dumpLLVMDialect, text)))
      return failure();
  }

  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
    llvm::errs() << "pce-compile: cannot create " << outputDir << ": "
                 << ec.message() << "\n";
    return failure();
  }
  rt::Manifest manifest;
  manifest.target = cuda ? "cuda" : "cpu";
  manifest.library = "model.so";
  // The given name, else the module's (a description's `model:`), else the
  // file's stem.
  if (!options.modelName.empty())
    manifest.model = options.modelName;
  else if (std::optional<llvm::StringRef> name = module.getName())
    manifest.model = name->str();
  else
    manifest.model = llvm::sys::path::stem(sourceName).str();
  manifest.parameters = *parameters;
  manifest.entryPoints = *entries;
  // The head's decoding travels with the code (the importer records it; the
  // dialect's attribute verifier has checked it parses).
  if (auto head = module->getAttrOfType<StringAttr>(mlir::pce::kHeadAttrName)) {
    auto spec = rt::parseHeadSpec(head.getValue().str(), mlir::pce::kHeadAttrName.str());
    if (!spec) {
      llvm::errs() << "pce-compile: " << spec.error() << "\n";
      return failure();
    }
    manifest.head = *spec;
  }
  // What the code needs of the CPU, checked by the runtime before loading.
  CodegenOptions cpuOptions;
  cpuOptions.cpu = options.mcpu;
  auto targetCpu = describeTargetCpu(cpuOptions);
  if (!targetCpu) {
    llvm::errs() << "pce-compile: " << llvm::toString(targetCpu.takeError()) << "\n";
    return failure();
  }
  manifest.cpu = rt::TargetCpu{targetCpu->name, targetCpu->features};
  for (const std::string &f : targetCpu->unchecked)
    llvm::errs() << "pce-compile: warning: the code may use " << f
                 << ", which the runtime cannot check before loading it; to be "
                    "sure it runs elsewhere, name a CPU without it (--mcpu)\n";
  auto manifestText = rt::writeManifestText(manifest);
  if (!manifestText.ok()) {
    llvm::errs() << "pce-compile: " << manifestText.error() << "\n";
    return failure();
  }

  // A new file renamed over the old one: a process that has the old library
  // loaded keeps its copy intact.
  llvm::SmallString<256> library(outputDir);
  llvm::sys::path::append(library, manifest.library);
  std::string fresh = (library + ".new").str();
  CodegenOptions codegen;
  codegen.cpu = options.mcpu;
  codegen.cuda = cuda;
  codegen.llvmIRPath = options.dumpLLVMIR;
  codegen.timing = options.timing;
  if (failed(writeSharedObject(module, fresh, codegen)))
    return failure();
  if (std::error_code ec = llvm::sys::fs::rename(fresh, library)) {
    llvm::errs() << "pce-compile: cannot write " << library << ": "
                 << ec.message() << "\n";
    return failure();
  }
  llvm::SmallString<256> manifestPath(outputDir);
  llvm::sys::path::append(manifestPath, rt::kManifestFileName);
  if (failed(writeAtomically(manifestPath.str().str(), *manifestText)))
    return failure();
  if (options.log)
    *options.log << "pce-compile: " << sourceName << " -> " << outputDir << " ("
                 << entries->size() << " entry point(s), " << parameters->size()
                 << " parameters)";
  return success();
}

namespace {
/// `path` read into a source manager, or an error printed.
std::shared_ptr<llvm::SourceMgr> openSource(llvm::StringRef path) {
  std::string error;
  auto file = openInputFile(path, &error);
  if (!file) {
    llvm::errs() << "pce-compile: " << error << "\n";
    return nullptr;
  }
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  return sourceMgr;
}

/// `outputDir/training.json`.
LogicalResult writePlan(llvm::StringRef outputDir, llvm::StringRef plan) {
  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
    llvm::errs() << "pce-compile: cannot create " << outputDir << ": "
                 << ec.message() << "\n";
    return failure();
  }
  llvm::SmallString<256> path(outputDir);
  llvm::sys::path::append(path, "training.json");
  return writeAtomically(path.str().str(), plan);
}
} // namespace

LogicalResult writeTrainingPlan(MLIRContext &context, llvm::StringRef inputPath,
                                llvm::StringRef outputDir) {
  auto sourceMgr = openSource(inputPath);
  if (!sourceMgr)
    return failure();
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);
  context.loadAllAvailableDialects();
  auto imported = frontend::importForTraining(*sourceMgr, &context);
  if (!imported)
    return failure();
  return writePlan(outputDir, imported->plan);
}

LogicalResult compileFile(MLIRContext &context, llvm::StringRef inputPath,
                          llvm::StringRef outputDir,
                          const CompileOptions &options) {
  auto start = Clock::now();
  auto sourceMgr = openSource(inputPath);
  if (!sourceMgr)
    return failure();
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);
  context.loadAllAvailableDialects();

  // A description with training: one artifact per phase and the plan.
  bool description = frontend::isModelDescriptionPath(inputPath);
  if (options.training && description) {
    auto imported = frontend::importForTraining(*sourceMgr, &context);
    if (!imported)
      return failure();
    for (frontend::PhaseModule &phase : imported->phases) {
      llvm::SmallString<256> dir(outputDir);
      llvm::sys::path::append(dir, phase.artifact);
      if (failed(compileModule(*phase.module, dir, inputPath, options)))
        return failure();
      if (options.log)
        *options.log << "\n";
    }
    if (failed(writePlan(outputDir, imported->plan)))
      return failure();
    if (options.log)
      *options.log << "pce-compile: " << imported->phases.size()
                   << " phase(s) and " << outputDir << "/training.json in "
                   << llvm::format("%.2f", secondsSince(start)) << " s\n";
    return success();
  }

  OwningOpRef<ModuleOp> module =
      description ? frontend::importModelDescription(*sourceMgr, &context)
                  : parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module || failed(compileModule(*module, outputDir, inputPath, options)))
    return failure();
  if (options.log)
    *options.log << " in " << llvm::format("%.2f", secondsSince(start)) << " s\n";
  return success();
}

} // namespace pce::compile
