//===- FakeArtifact.h - Artifact directories around fake_model.c ----------===//
//
// fakeManifest() describes exactly what fake_model.c exports (entry points
// "forward" and "scale"); tests edit it to provoke each error, and
// writeArtifact() lays out DIR/manifest.json + DIR/model.so.
// fakeClassifierManifest() describes its "classify" entry (for IDX data).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TEST_RUNTIME_FAKEARTIFACT_H
#define PCE_TEST_RUNTIME_FAKEARTIFACT_H

#include "runtime/Manifest.h"

#include "TestSupport.h"

#include <filesystem>

namespace pce::rt::test {

inline BufferSpec buffer(std::string name, ArgKind kind, std::vector<int64_t> shape, DType dtype) {
  BufferSpec b;
  b.name = std::move(name);
  b.kind = kind;
  b.shape = std::move(shape);
  b.dtype = dtype;
  return b;
}

inline Manifest fakeManifest() {
  Manifest m;
  m.library = "model.so";
  m.model = "fake";
  ParameterSpec w{{"w", {3}, DType::F32}}, b{{"b", {3}, DType::F32}};
  m.parameters = {w, b};
  EntryPoint fwd;
  fwd.name = "forward";
  fwd.symbol = "pce_entry_forward";
  fwd.arguments = {buffer("x", ArgKind::Input, {2, 3}, DType::F32),
                   buffer("w", ArgKind::Parameter, {3}, DType::F32),
                   buffer("b", ArgKind::Parameter, {3}, DType::F32)};
  fwd.results = {buffer("y", ArgKind::Output, {2, 3}, DType::F32),
                 buffer("layer0.routing", ArgKind::Routing, {2, 3, 2}, DType::F32)};
  EntryPoint scale;
  scale.name = "scale";
  scale.symbol = "pce_entry_scale";
  scale.arguments = {buffer("x", ArgKind::Input, {4}, DType::F64),
                     buffer("s", ArgKind::Input, {}, DType::F64)};
  scale.results = {buffer("y", ArgKind::Output, {4}, DType::F64)};
  m.entryPoints = {fwd, scale};
  return m;
}

// A manifest for fake_model.c's "classify" entry point alone (its own
// parameters, so the tests built on fakeManifest() are unaffected): a linear
// classifier f32[8,1,28,28] -> logits f32[8,10], routing f32[8,4,2]. Batch 8
// keeps every chunk of a k*8 run 64-byte aligned (10 floats * 4 would not be).
inline Manifest fakeClassifierManifest() {
  Manifest m;
  m.library = "model.so";
  m.model = "fake_classifier";
  ParameterSpec w{{"fc.weight", {10, 784}, DType::F32}}, b{{"fc.bias", {10}, DType::F32}};
  m.parameters = {w, b};
  EntryPoint ep;
  ep.name = "forward";
  ep.symbol = "pce_entry_classify";
  ep.arguments = {buffer("x", ArgKind::Input, {8, 1, 28, 28}, DType::F32),
                  buffer("fc.weight", ArgKind::Parameter, {10, 784}, DType::F32),
                  buffer("fc.bias", ArgKind::Parameter, {10}, DType::F32)};
  ep.results = {buffer("logits", ArgKind::Output, {8, 10}, DType::F32),
                buffer("layer0.routing", ArgKind::Routing, {8, 4, 2}, DType::F32)};
  m.entryPoints = {ep};
  return m;
}

// DIR/manifest.json from m (or raw text) and DIR/model.so copied from the
// fake library built alongside the tests.
inline void writeArtifact(const std::string &dir, const Manifest &m) {
  auto text = writeManifestText(m);
  ASSERT_TRUE(text) << text.error();
  writeBytes(dir + "/manifest.json", *text);
  // Unlink first so a library still mapped by an earlier open (LLVM builds
  // link modules with -z nodelete) keeps its inode instead of being
  // overwritten in place under the running process.
  std::filesystem::remove(dir + "/model.so");
  std::filesystem::copy_file(PCE_FAKE_MODEL_SO, dir + "/model.so");
}

} // namespace pce::rt::test

#endif // PCE_TEST_RUNTIME_FAKEARTIFACT_H
