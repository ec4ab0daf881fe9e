//===- Manifest.h - manifest.json of a compiled artifact ------------------===//
//
// The manifest is the contract between the compiler (which writes it next to
// the shared object) and the runtime (which checks every buffer against it
// before calling compiled code). docs/Artifact.md describes the format.
//
// canonicalSignature() is the one definition of the signature string that the
// shared object also exports as <symbol>_signature; the compiler must produce
// byte-identical text, so keep the two in step (format documented below and in
// docs/Artifact.md).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_MANIFEST_H
#define PCE_RUNTIME_MANIFEST_H

#include "runtime/DType.h"
#include "runtime/ParameterRole.h"
#include "runtime/dense/HeadSpec.h"
#include "runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pce::rt {

constexpr const char *kManifestFormat = "pce-artifact";
constexpr int64_t kManifestVersion = 1;
constexpr const char *kManifestFileName = "manifest.json";

// input / parameter: arguments (read by the callee).
// output / routing: results (caller-allocated, written by the callee).
enum class ArgKind { Input, Parameter, Output, Routing };
const char *argKindName(ArgKind kind);

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  // "f32[2,3]"
  std::string typeString() const;
};

// A parameter: its role and initialiser (runtime/ParameterRole.h) are
// absent from manifests written before they were recorded, and for a
// parameter of hand-written IR whose role the compiler could not tell.
struct ParameterSpec : TensorSpec {
  std::optional<ParamRole> role;
  std::optional<Initialiser> init;
};

struct BufferSpec : TensorSpec {
  ArgKind kind = ArgKind::Input;
};

struct EntryPoint {
  std::string name;   // e.g. "forward"
  std::string symbol; // exported C symbol, e.g. "pce_entry_forward"
  std::vector<BufferSpec> arguments; // kinds input / parameter
  std::vector<BufferSpec> results;   // kinds output / routing

  // nullptr when absent.
  const BufferSpec *findArgument(std::string_view name) const;
  const BufferSpec *findResult(std::string_view name) const;
};

// The CPU the shared object was compiled for and the instruction-set features
// its code may use (names from runtime/CpuFeatures.h); Artifact::open refuses
// it on a CPU without one of them.
struct TargetCpu {
  std::string name; // LLVM's CPU name, e.g. "znver4", "x86-64-v3"
  std::vector<std::string> features;
};

struct Manifest {
  std::string format = kManifestFormat;
  int64_t version = kManifestVersion;
  std::string target = "cpu";
  std::string library; // file name inside the artifact directory
  std::string model;
  // Absent from manifests written before it was recorded (and hand-written
  // ones): then nothing is checked.
  std::optional<TargetCpu> cpu;
  // What the forward's output is and how pce-run decodes it (absent from
  // artifacts of hand-written IR and from manifests older than heads).
  std::optional<HeadSpec> head;
  std::vector<ParameterSpec> parameters;
  std::vector<EntryPoint> entryPoints;

  const EntryPoint *findEntry(std::string_view name) const;
  const ParameterSpec *findParameter(std::string_view name) const;
};

// Parses and validates manifest text: the fixed format/version/target, every
// field's JSON type, names (letters, digits, '_', '.', '-'; not starting with
// '.' or '-'), unique parameter / entry / symbol names, unique buffer names
// within an entry, argument kinds input|parameter and result kinds
// output|routing, each parameter's optional role (a known name) and
// initialiser (given together; one that fits the shape), the optional cpu (a name and distinct features this runtime
// knows, runtime/CpuFeatures.h), and every "parameter" argument matching the parameters[]
// entry of the same name in shape and dtype. Unknown keys are errors (they are
// usually typos). Messages: "SOURCE: byte N: entry_points[0].arguments[1]: ...".
Expected<Manifest> parseManifest(std::string_view text, const std::string &source);
Expected<Manifest> readManifest(const std::string &path);

// The same checks on a Manifest built in code (what writeManifest requires).
Status validateManifest(const Manifest &manifest);
// Pretty-printed manifest.json text; fails if validateManifest fails.
Expected<std::string> writeManifestText(const Manifest &manifest);

// The canonical signature of an entry point:
//   item      := NAME ":" KIND ":" DTYPE "[" DIMS "]"
//   DIMS      := "" (rank 0) | D0 "," D1 "," ...   (decimal, no spaces)
//   signature := items of all arguments, then all results, joined by ";"
// e.g. "x:input:f32[2,1,28,28];w:parameter:f32[4];logits:output:f32[2,10]".
std::string canonicalSignature(const EntryPoint &entry);
// The items of a signature string (split at ';'; empty string -> no items).
std::vector<std::string> splitSignature(std::string_view signature);

} // namespace pce::rt

#endif // PCE_RUNTIME_MANIFEST_H
