//===- Models.h - pce-bench's models: compiled with pce-compile, then run --===//
//
// How pce-bench compiles its models (pce-compile as a subprocess, the models
// written by test/agreement's pce_model_text) is kept apart here, to be
// replaced by the in-process compile API.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_BENCH_MODELS_H
#define PCE_TOOLS_PCE_BENCH_MODELS_H

#include "test/agreement/Harness.h"
#include "test/agreement/Layers.h"
#include "tools/pce-bench/Options.h"

#include "runtime/Artifact.h"

#include <filesystem>
#include <string>

namespace pce::bench {

struct Context {
  Options opt;
  std::filesystem::path workDir, compiler;
};

/// pce-compile `source` into `dir`; returns the wall time in seconds.
double runCompiler(const Context &ctx, const std::filesystem::path &source, const std::filesystem::path &dir,
                   const std::string &flags = "");

/// A compiled model with its parameters bound.
struct Compiled {
  rt::Artifact artifact;
};

/// Compiles `model` in ctx.workDir/`tag` and binds every value but
/// `inputName` as a parameter.
Compiled compileModel(const Context &ctx, const agree::ModelText &model, const std::string &tag,
                      const std::string &inputName, const std::string &flags = "");

/// Runs `forward` on `inputs` and returns result `name`.
rt::HostTensor runCompiled(const Compiled &c, const rt::TensorMap &inputs, const std::string &name);

/// The benchmark layer of the options (cosine router, dense unless changed).
agree::LayerSpec layerSpec(const Options &opt);

/// The artifact's entry point `name`, or nullptr.
const rt::EntryPoint *findEntry(const rt::Artifact &artifact, const std::string &name);

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_MODELS_H
