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

#include "passes/Artifact/Compile.h"
#include "tools/support/LLVMCommandLine.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

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

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  ::pce::tool::setVersionPrinter("pce-compile");
  ::pce::tool::hideUnrelatedOptions(pceCompileCategory);
  cl::ParseCommandLineOptions(argc, argv,
                              "pce-compile: a pce model to an artifact directory\n");
  std::optional<pce::compile::Target> parsedTarget =
      pce::compile::parseTarget(target);
  if (!parsedTarget) {
    llvm::errs() << "pce-compile: unknown --target '" << target
                 << "' (this build compiles for: cpu, cuda, cuda-emulated)\n";
    return 1;
  }
  pce::compile::CompileOptions options;
  options.target = *parsedTarget;
  options.mcpu = cpu;
  options.modelName = modelName;
  options.training = training;
  options.pipelineOptions = pipelineOptions;
  options.dumpLLVMDialect = dumpLowered;
  options.dumpLLVMIR = dumpLLVMIR;
  options.timing = timing;
  options.log = &llvm::outs();

  DialectRegistry registry;
  pce::compile::registerCompilerDialects(registry);
  MLIRContext context(registry);
  return succeeded(pce::compile::compileFile(context, inputFile, outputDir,
                                              options))
             ? 0
             : 1;
}
