//===- Artifact.h - Loading a compiled artifact and calling it ------------===//
//
// An artifact is a directory with manifest.json and the shared object it
// names (docs/Artifact.md). open() validates the manifest, dlopens the
// library, resolves every entry point and checks the signature string the
// library exports against the one computed from the manifest, so a library
// compiled for other shapes, or a hand-edited manifest, is refused before any
// compiled code runs. bindParameters() takes the weights; run() checks the
// inputs, allocates the results, packs memref descriptors and calls.
//
// Usage:
//   auto art = pce::rt::Artifact::open("out/fashion");
//   if (!art) { report(art.error()); return; }
//   auto weights = pce::rt::readSafetensors("w.safetensors");
//   if (!weights || !art->bindParameters(*weights)) ...
//   auto outs = art->run("forward", {{"x", std::move(x)}});
//   const HostTensor &logits = outs->at("logits");
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_ARTIFACT_H
#define PCE_RUNTIME_ARTIFACT_H

#include "runtime/HostTensor.h"
#include "runtime/Manifest.h"
#include "runtime/Safetensors.h"
#include "runtime/Status.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pce::rt {

using TensorMap = std::map<std::string, HostTensor>;

class Artifact {
public:
  // Reads DIR/manifest.json, loads DIR/<library> (RTLD_NOW | RTLD_LOCAL) and
  // resolves <symbol> and <symbol>_signature for every entry point.
  static Expected<Artifact> open(const std::string &dir);

  Artifact(Artifact &&) noexcept;
  Artifact &operator=(Artifact &&) noexcept;
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;
  ~Artifact(); // unloads the library

  const Manifest &manifest() const;
  const std::string &directory() const;

  // Copies every manifest parameter out of weights; each must be present with
  // exactly the manifest's shape and dtype. All-or-nothing: on error nothing
  // is bound. Tensors the artifact does not use are allowed and listed in
  // warnings().
  Status bindParameters(const SafetensorsFile &weights);
  // Binds (or replaces) one parameter; checked against the manifest.
  Status bindParameter(const std::string &name, HostTensor value);
  // Human-readable notes from the last bindParameters (unused tensors).
  const std::vector<std::string> &warnings() const;

  // Calls entry point `entry`. `inputs` must hold every "input" argument by
  // name with exactly the manifest's shape and dtype (no conversion); it may
  // also hold "parameter" arguments, which then override the bound ones for
  // this call. Returns every result (outputs and routing) by name.
  // Thread-safe for concurrent calls as long as no bind* call runs alongside.
  Expected<TensorMap> run(const std::string &entry, const TensorMap &inputs) const;

  // Threads for batches given as k times the compiled batch: run() then calls
  // the entry point once per chunk, chunks in parallel. Default:
  // $PCE_NUM_THREADS, else the hardware's thread count.
  void setThreads(int threads);
  int threads() const;

private:
  struct Impl;
  explicit Artifact(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace pce::rt

#endif // PCE_RUNTIME_ARTIFACT_H
