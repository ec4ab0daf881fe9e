//===- Models.cpp - pce-bench's models: compiled in process, then run ----===//

#include "tools/pce-bench/Models.h"
#include "tools/pce-bench/Report.h"

#include "runtime/ThreadPool.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <fstream>

namespace fs = std::filesystem;

namespace pce::bench {

double runCompiler(const fs::path &source, const fs::path &dir,
                   const compile::CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  mlir::DialectRegistry registry;
  compile::registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  // Diagnostics go to stderr as pce-compile prints them; the progress line is
  // not wanted in a benchmark's output.
  if (mlir::failed(compile::compileFile(context, source.string(), dir.string(), options)))
    fail("compiling " + source.string() + " failed (diagnostics above)");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Compiled compileModel(const Context &ctx, const agree::ModelText &model,
                      const std::string &tag, const std::string &inputName,
                      const compile::CompileOptions &options) {
  fs::path dir = ctx.workDir / tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::path source = dir / "model.mlir";
  std::ofstream(source) << model.text();
  runCompiler(source, dir / "artifact", options);
  auto artifact = rt::Artifact::open((dir / "artifact").string());
  if (!artifact)
    fail(artifact.error());
  for (const auto &[name, value] : model.values())
    if (name != inputName)
      if (rt::Status s = artifact->bindParameter(name, agree::toHost(value)); !s)
        fail(s.message());
  artifact->setThreads(ctx.opt.threads);
  rt::setCompiledLoopThreads(ctx.opt.threads);
  return {std::move(*artifact)};
}

rt::HostTensor runCompiled(const Compiled &c, const rt::TensorMap &inputs,
                           const std::string &name) {
  auto out = c.artifact.run("forward", inputs);
  if (!out)
    fail(out.error());
  return std::move(out->at(name));
}

agree::LayerSpec layerSpec(const Options &opt) {
  agree::LayerSpec spec;
  spec.ph = opt.ph;
  spec.pw = opt.pw;
  spec.k = opt.kernel;
  spec.experts = opt.experts;
  spec.outChannels = opt.outChannels;
  spec.router = ref::RouterKind::Cosine;
  return spec;
}

const rt::EntryPoint *findEntry(const rt::Artifact &artifact, const std::string &name) {
  for (const rt::EntryPoint &e : artifact.manifest().entryPoints)
    if (e.name == name)
      return &e;
  return nullptr;
}

} // namespace pce::bench
