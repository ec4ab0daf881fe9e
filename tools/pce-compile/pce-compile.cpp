//===- pce-compile.cpp - a model to an artifact directory -----------------===//
//
//   pce-compile MODEL.mlir --target cpu -o DIR
//   pce-compile MODEL.mlir --target cuda -o DIR  (kernels as PTX for sm_90,
//                                                 docs/GPU.md)
//   pce-compile MODEL.mlir --target cuda-emulated -o DIR  (those kernels as
//                                                 loops, a CPU artifact)
//   pce-compile MODEL.yaml --target cpu -o DIR   (a model description,
//                                                 docs/ModelDescription.md)
//
// writes DIR/model.so (the compiled entry points) and DIR/manifest.json (their
// buffers and the parameters), the artifact format of docs/Artifact.md.
//
//   pce-compile MODEL.yaml --training -o DIR
//
// writes DIR/training.json (the plan of pce-train) and one artifact per
// training phase, DIR/phase<q>/, each with per-layer entry points
// <layer>, <layer>_train and <layer>_backward (docs/Training.md).
//
//===----------------------------------------------------------------------===//

#include "dialect/PCEDialect.h"
#include "frontend/Importer.h"
#include "frontend/TrainingPlan.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "runtime/Manifest.h"
#include "tools/pce-compile/EntryPoints.h"
#include "tools/pce-compile/SharedObject.h"
#include "tools/support/LLVMCommandLine.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

// pce-compile's own options: --help shows these (LLVM's: --help-hidden).
static cl::OptionCategory pceCompileCategory("pce-compile options");

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<model.mlir|model.yaml>"),
                                      cl::Required, cl::cat(pceCompileCategory));
static cl::opt<std::string> outputDir("o", cl::desc("Artifact directory to write"),
                                      cl::value_desc("dir"), cl::Required, cl::cat(pceCompileCategory));
static cl::opt<std::string> target(
    "target",
    cl::desc("Target: cpu (--pce-cpu-pipeline), cuda (--pce-gpu-pipeline; "
             "the runtime launches the kernels on GPU 0), or cuda-emulated "
             "(the GPU pipeline's kernels as loops on the CPU, for checking it "
             "without a GPU)"),
    cl::init("cpu"), cl::cat(pceCompileCategory));
static cl::opt<std::string> cpu(
    "mcpu",
    cl::desc("CPU to generate code for (default: native, this machine's); "
             "the artifact then runs only on CPUs with its instruction-set "
             "features, recorded in the manifest. For other machines name an "
             "older CPU, e.g. x86-64-v2 (SSE4.2), x86-64-v3 (AVX2, FMA), "
             "x86-64-v4 (AVX-512) or a model such as skylake-avx512 "
             "(llc -mcpu=help lists them; docs/Artifact.md)"),
    cl::value_desc("cpu"), cl::init("native"), cl::cat(pceCompileCategory));
static cl::opt<std::string> modelName("model-name",
                                      cl::desc("Model name in the manifest "
                                               "(default: the module's name, "
                                               "else the file's stem)"), cl::cat(pceCompileCategory));
static cl::opt<bool> training(
    "training",
    cl::desc("Also give every PCE layer its own entry points <layer>, "
             "<layer>_train and <layer>_backward (pce-train; docs/Training.md)"),
    cl::init(false), cl::cat(pceCompileCategory));
static cl::opt<std::string> pipelineOptions(
    "pipeline-options",
    cl::desc("Options of --pce-cpu-pipeline, e.g. \"parallel-loops=false "
             "vectorize=false\" to compare with a pass switched off (with "
             "--target cuda: of --pce-gpu-pipeline, e.g. \"block-size=128\")"),
    cl::value_desc("options"), cl::cat(pceCompileCategory));
static cl::opt<std::string> dumpLowered(
    "dump-llvm-dialect", cl::desc("Also write the lowered LLVM dialect module here"),
    cl::value_desc("file"), cl::cat(pceCompileCategory));
static cl::opt<bool> timing(
    "timing", cl::desc("Print the time of each step (MLIR pipeline, LLVM IR "
                       "translation, LLVM optimisation, code generation, linking)"),
    cl::init(false), cl::cat(pceCompileCategory));
static cl::opt<std::string> dumpLLVMIR(
    "dump-llvm-ir",
    cl::desc("Also write the LLVM IR here (before LLVM's optimisation; for "
             "--target cuda after binding the host code to the runtime)"),
    cl::value_desc("file"), cl::cat(pceCompileCategory));

/// Writes `text` to `path` atomically (temporary file, then rename).
static LogicalResult writeAtomically(const std::string &path, llvm::StringRef text) {
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
    llvm::errs() << "pce-compile: cannot write " << path << ": " << ec.message() << "\n";
    return failure();
  }
  return success();
}

static LogicalResult runPipeline(ModuleOp module, llvm::StringRef name,
                                 llvm::function_ref<LogicalResult(OpPassManager &)> build) {
  PassManager pm(module->getContext());
  if (failed(build(pm)) || failed(pm.run(module))) {
    llvm::errs() << "pce-compile: " << name << " failed on " << inputFile << "\n";
    return failure();
  }
  return success();
}

/// Lowers `module` and writes the artifact DIR = `outputDir`.
static LogicalResult compileModule(ModuleOp module, llvm::StringRef outputDir) {
  // Decompose layers and expose their routers, then read off the entry points
  // while names and tensor types are still at hand. --training outlines each
  // layer into a differentiable function of its own; pce-generate-backward
  // then builds <f>_train and <f>_backward for every function marked
  // pce.differentiable (docs/Training.md).
  if (failed(runPipeline(module, "decomposition", [](OpPassManager &pm) {
        if (training)
          pm.addPass(mlir::pce::createOutlineLayers());
        pm.addPass(mlir::pce::createDecomposeLayer());
        pm.addPass(mlir::pce::createExposeRouting());
        pm.addPass(mlir::pce::createGenerateBackward());
        return success();
      })))
    return failure();
  auto entries = ::pce::compile::collectEntryPoints(module);
  if (failed(entries))
    return failure();
  auto parameters = ::pce::compile::collectParameters(module, *entries);
  if (failed(parameters))
    return failure();

  // cuda-emulated: the GPU pipeline's kernels as their tiled loops, run on
  // the CPU (a CPU artifact; for checking the GPU pipeline without a GPU).
  bool cuda = target == "cuda", emulated = target == "cuda-emulated";
  std::string pipelineName = cuda || emulated ? "pce-gpu-pipeline" : "pce-cpu-pipeline";
  std::string options = pipelineOptions;
  if (emulated)
    options = "emulate-on-cpu=true " + options;
  auto pipeline = [&](OpPassManager &pm) -> LogicalResult {
    if (options.empty())
      return cuda ? mlir::pce::buildGpuPipeline(pm) : mlir::pce::buildCpuPipeline(pm);
    return parsePassPipeline(pipelineName + "{" + options + "}", pm, llvm::errs());
  };
  auto pipelineStart = std::chrono::steady_clock::now();
  if (failed(runPipeline(module, pipelineName, pipeline)) ||
      failed(::pce::compile::emitEntryWrappers(module, *entries)))
    return failure();
  if (timing)
    llvm::errs() << llvm::format(
        "pce-compile: %-20s %.3f s\n", pipelineName.c_str(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - pipelineStart).count());
  if (!dumpLowered.empty()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    if (failed(writeAtomically(dumpLowered, text)))
      return failure();
  }

  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
    llvm::errs() << "pce-compile: cannot create " << outputDir << ": "
                 << ec.message() << "\n";
    return failure();
  }
  ::pce::rt::Manifest manifest;
  manifest.target = cuda ? "cuda" : "cpu";
  manifest.library = "model.so";
  // --model-name, else the module's name (a description's `model:`), else
  // the file's stem.
  if (!modelName.empty())
    manifest.model = modelName.getValue();
  else if (std::optional<llvm::StringRef> name = module.getName())
    manifest.model = name->str();
  else
    manifest.model = llvm::sys::path::stem(inputFile).str();
  manifest.parameters = *parameters;
  manifest.entryPoints = *entries;
  // What the code needs of the CPU, checked by the runtime before loading.
  ::pce::compile::CodegenOptions cpuOptions;
  cpuOptions.cpu = cpu;
  auto targetCpu = ::pce::compile::describeTargetCpu(cpuOptions);
  if (!targetCpu) {
    llvm::errs() << "pce-compile: " << llvm::toString(targetCpu.takeError()) << "\n";
    return failure();
  }
  manifest.cpu = ::pce::rt::TargetCpu{targetCpu->name, targetCpu->features};
  for (const std::string &f : targetCpu->unchecked)
    llvm::errs() << "pce-compile: warning: the code may use " << f << ", which the runtime cannot check "
                 << "before loading it; to be sure it runs elsewhere, name a CPU without it (--mcpu)\n";
  auto manifestText = ::pce::rt::writeManifestText(manifest);
  if (!manifestText.ok()) {
    llvm::errs() << "pce-compile: " << manifestText.error() << "\n";
    return failure();
  }

  // A new file renamed over the old one: a process that has the old library
  // loaded keeps its copy intact.
  llvm::SmallString<256> library(outputDir);
  llvm::sys::path::append(library, manifest.library);
  std::string fresh = (library + ".new").str();
  ::pce::compile::CodegenOptions codegen;
  codegen.cpu = cpu;
  codegen.cuda = cuda;
  codegen.llvmIRPath = dumpLLVMIR;
  codegen.timing = timing;
  if (failed(::pce::compile::writeSharedObject(module, fresh, codegen)))
    return failure();
  if (std::error_code ec = llvm::sys::fs::rename(fresh, library)) {
    llvm::errs() << "pce-compile: cannot write " << library << ": " << ec.message() << "\n";
    return failure();
  }
  llvm::SmallString<256> manifestPath(outputDir);
  llvm::sys::path::append(manifestPath, ::pce::rt::kManifestFileName);
  if (failed(writeAtomically(manifestPath.str().str(), *manifestText)))
    return failure();
  llvm::outs() << "pce-compile: " << inputFile << " -> " << outputDir << " ("
               << entries->size() << " entry point(s), " << parameters->size()
               << " parameters)";
  return success();
}

static LogicalResult compile(MLIRContext &context) {
  auto start = std::chrono::steady_clock::now();
  if (target != "cpu" && target != "cuda" && target != "cuda-emulated") {
    llvm::errs() << "pce-compile: unknown --target '" << target
                 << "' (this build compiles for: cpu, cuda, cuda-emulated)\n";
    return failure();
  }

  std::string error;
  auto file = openInputFile(inputFile, &error);
  if (!file) {
    llvm::errs() << "pce-compile: " << error << "\n";
    return failure();
  }
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
        .count();
  };

  // A description with --training: one artifact per phase and the plan.
  bool description = ::pce::frontend::isModelDescriptionPath(inputFile);
  if (training && description) {
    auto imported = ::pce::frontend::importForTraining(*sourceMgr, &context);
    if (!imported)
      return failure();
    for (::pce::frontend::PhaseModule &phase : imported->phases) {
      llvm::SmallString<256> dir(outputDir);
      llvm::sys::path::append(dir, phase.artifact);
      if (failed(compileModule(*phase.module, dir)))
        return failure();
      llvm::outs() << "\n";
    }
    llvm::SmallString<256> plan(outputDir);
    llvm::sys::path::append(plan, "training.json");
    if (failed(writeAtomically(plan.str().str(), imported->plan)))
      return failure();
    llvm::outs() << "pce-compile: " << imported->phases.size()
                 << " phase(s) and " << plan << " in "
                 << llvm::format("%.2f", seconds()) << " s\n";
    return success();
  }

  OwningOpRef<ModuleOp> module =
      description ? ::pce::frontend::importModelDescription(*sourceMgr, &context)
                  : parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module || failed(compileModule(*module, outputDir)))
    return failure();
  llvm::outs() << " in " << llvm::format("%.2f", seconds()) << " s\n";
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAllPasses();
  mlir::pce::registerPCEPasses();
  mlir::pce::registerPipelines();
  ::pce::tool::setVersionPrinter("pce-compile");
  ::pce::tool::hideUnrelatedOptions(pceCompileCategory);
  cl::ParseCommandLineOptions(argc, argv,
                              "pce-compile: a pce model to an artifact directory\n");
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<mlir::pce::PCEDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  return succeeded(compile(context)) ? 0 : 1;
}
