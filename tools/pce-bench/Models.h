//===- Models.h - pce-bench's models: compiled in process, then run ------===//
//
// pce-bench compiles its models with the compile API (passes/Artifact/
// Compile.h), in this process, as pce-compile does; the models are written
// by the reference library's model text (runtime/reference/ModelText.h).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_BENCH_MODELS_H
#define PCE_TOOLS_PCE_BENCH_MODELS_H

#include "runtime/reference/Layers.h"
#include "runtime/reference/ModelText.h"
#include "tools/pce-bench/Options.h"

#include "passes/Artifact/Compile.h"

#include "runtime/Artifact.h"

#include <filesystem>
#include <string>

namespace pce::bench {

struct Context {
  Options opt;
  std::filesystem::path workDir;
};

/// Compiles `source` into `dir` (the compile API, a fresh MLIR context);
/// returns the wall time in seconds.
double runCompiler(const std::filesystem::path &source, const std::filesystem::path &dir,
                   const compile::CompileOptions &options = {});

/// A compiled model with its parameters bound.
struct Compiled {
  rt::Artifact artifact;
};

/// Compiles `model` in ctx.workDir/`tag` and binds every value but
/// `inputName` as a parameter.
Compiled compileModel(const Context &ctx, const agree::ModelText &model, const std::string &tag,
                      const std::string &inputName, const compile::CompileOptions &options = {});

/// Runs `forward` on `inputs` and returns result `name`.
rt::HostTensor runCompiled(const Compiled &c, const rt::TensorMap &inputs, const std::string &name);

/// The benchmark layer of the options (cosine router, dense unless changed).
agree::LayerSpec layerSpec(const Options &opt);

/// The artifact's entry point `name`, or nullptr.
const rt::EntryPoint *findEntry(const rt::Artifact &artifact, const std::string &name);

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_MODELS_H
