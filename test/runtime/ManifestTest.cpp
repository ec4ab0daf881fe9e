//===- ManifestTest.cpp - manifest.json parsing, validation, signatures ---===//

#include "runtime/Manifest.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// The example from docs/Artifact.md.
const std::string kExample = R"({"format": "pce-artifact", "version": 1, "target": "cpu",
 "library": "model.so", "model": "fashion_pce",
 "parameters": [{"name": "layer0.experts.kernel", "shape": [4,8,5,3,3], "dtype": "f32"}],
 "entry_points": [
   {"name": "forward", "symbol": "pce_entry_forward",
    "arguments": [{"name": "x", "kind": "input", "shape": [2,1,28,28], "dtype": "f32"},
                  {"name": "layer0.experts.kernel", "kind": "parameter", "shape": [4,8,5,3,3], "dtype": "f32"}],
    "results":   [{"name": "logits", "kind": "output", "shape": [2,10], "dtype": "f32"},
                  {"name": "layer0.routing", "kind": "routing", "shape": [2,16,4], "dtype": "f32"}]}]})";

// Replaces the first `from` in the example by `to` and returns the error.
std::string errorAfter(const std::string &from, const std::string &to, size_t *at = nullptr) {
  std::string text = kExample;
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  text.replace(pos, from.size(), to);
  if (at)
    *at = pos;
  auto m = parseManifest(text, "art/manifest.json");
  EXPECT_FALSE(m) << "accepted after replacing " << from << " by " << to;
  return m ? "" : m.error();
}

std::string byteAt(size_t pos) { return "art/manifest.json: byte " + std::to_string(pos) + ": "; }

TEST(Manifest, ParsesTheDocumentedExample) {
  auto m = parseManifest(kExample, "manifest.json");
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->library, "model.so");
  EXPECT_EQ(m->model, "fashion_pce");
  ASSERT_EQ(m->parameters.size(), 1u);
  EXPECT_EQ(m->parameters[0].typeString(), "f32[4,8,5,3,3]");
  const EntryPoint *fwd = m->findEntry("forward");
  ASSERT_TRUE(fwd);
  EXPECT_EQ(fwd->symbol, "pce_entry_forward");
  ASSERT_TRUE(fwd->findResult("layer0.routing"));
  EXPECT_EQ(fwd->findResult("layer0.routing")->kind, ArgKind::Routing);
  EXPECT_EQ(canonicalSignature(*fwd),
            "x:input:f32[2,1,28,28];layer0.experts.kernel:parameter:f32[4,8,5,3,3];"
            "logits:output:f32[2,10];layer0.routing:routing:f32[2,16,4]");
}

TEST(Manifest, SignatureOfRankZeroAndSplit) {
  Manifest m = fakeManifest();
  std::string sig = canonicalSignature(*m.findEntry("scale"));
  EXPECT_EQ(sig, "x:input:f64[4];s:input:f64[];y:output:f64[4]");
  auto items = splitSignature(sig);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[1], "s:input:f64[]");
  EXPECT_TRUE(splitSignature("").empty());
}

TEST(Manifest, WriteThenParseRoundTrips) {
  Manifest m = fakeManifest();
  auto text = writeManifestText(m);
  ASSERT_TRUE(text) << text.error();
  auto back = parseManifest(*text, "m.json");
  ASSERT_TRUE(back) << back.error();
  ASSERT_EQ(back->entryPoints.size(), 2u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(canonicalSignature(back->entryPoints[i]), canonicalSignature(m.entryPoints[i]));
  EXPECT_EQ(*writeManifestText(*back), *text);
}

TEST(Manifest, TopLevelFieldErrors) {
  size_t at;
  std::string e = errorAfter("\"pce-artifact\"", "\"pce-artefact\"", &at);
  EXPECT_CONTAINS(e, byteAt(at) + "format: expected \"pce-artifact\", found \"pce-artefact\"");
  e = errorAfter("\"version\": 1", "\"version\": 2", &at);
  EXPECT_CONTAINS(e, byteAt(at + 11) + "version: expected version 1, found 2");
  e = errorAfter("\"version\": 1", "\"version\": \"1\"", &at);
  EXPECT_CONTAINS(e, byteAt(at + 11) + "version: expected an integer, found a string");
  e = errorAfter("\"cpu\"", "\"rocm\"", &at);
  EXPECT_CONTAINS(e, byteAt(at) + "target: target 'rocm' is not supported by this runtime (supported: cpu, cuda)");
  e = errorAfter("\"model.so\"", "\"../model.so\"", &at);
  EXPECT_CONTAINS(e, byteAt(at) + "library: expected a plain file name");
  e = errorAfter("\"model\": \"fashion_pce\",", "\"model\": \"fashion_pce\", \"modle\": 1,", &at);
  EXPECT_CONTAINS(e, "unknown key 'modle'");
  e = errorAfter("\"model\": \"fashion_pce\",", "", &at);
  EXPECT_CONTAINS(e, "art/manifest.json: byte 0: missing key 'model'");
}

TEST(Manifest, EntryAndBufferErrors) {
  size_t at;
  std::string e = errorAfter("\"kind\": \"input\"", "\"kind\": \"inptu\"", &at);
  EXPECT_CONTAINS(e, byteAt(at + 8) + "entry_points[0].arguments[0].kind: expected one of input, "
                                      "parameter, output, routing, found 'inptu'");
  e = errorAfter("\"kind\": \"output\"", "\"kind\": \"input\"", &at);
  EXPECT_CONTAINS(e, byteAt(at + 8) + "entry_points[0].results[0].kind: expected kind output or "
                                      "routing in results, found input");
  e = errorAfter("[2,1,28,28]", "[2,-1,28,28]", &at);
  EXPECT_CONTAINS(e, byteAt(at + 3) + "entry_points[0].arguments[0].shape[1]: expected a non-negative");
  e = errorAfter("\"dtype\": \"f32\"}],\n \"entry", "\"dtype\": \"f16\"}],\n \"entry", &at);
  EXPECT_CONTAINS(e, byteAt(at + 9) + "parameters[0].dtype: expected one of f32, f64, i64, i32, u8, found 'f16'");
  e = errorAfter("\"pce_entry_forward\"", "\"pce-entry\"", &at);
  EXPECT_CONTAINS(e, byteAt(at) + "entry_points[0].symbol: expected a C identifier");
  e = errorAfter("\"name\": \"logits\"", "\"name\": \"x\"", &at);
  EXPECT_CONTAINS(e, byteAt(at + 8) + "entry_points[0].results[0].name: entry point 'forward' has two buffers named 'x'");
  e = errorAfter("\"name\": \"logits\"", "\"name\": \"a/b\"", &at);
  EXPECT_CONTAINS(e, "entry_points[0].results[0].name: expected a name of letters");
  e = errorAfter("\"entry_points\": [", "\"entry_points\": [1, ", &at);
  EXPECT_CONTAINS(e, byteAt(at + 17) + "entry_points[0]: expected an object, found an integer");
}

TEST(Manifest, ParameterArgumentsMustMatchParameters) {
  size_t at;
  // The argument's shape no longer matches parameters[0].
  std::string e = errorAfter("\"kind\": \"parameter\", \"shape\": [4,8,5,3,3]",
                             "\"kind\": \"parameter\", \"shape\": [4,8,5,3,4]", &at);
  EXPECT_CONTAINS(e, "entry_points[0].arguments[1]: entry point 'forward' parameter argument "
                     "'layer0.experts.kernel' is f32[4,8,5,3,4] but parameters lists it as f32[4,8,5,3,3]");
  e = errorAfter("{\"name\": \"layer0.experts.kernel\", \"kind\"", "{\"name\": \"layer0.other\", \"kind\"", &at);
  EXPECT_CONTAINS(e, byteAt(at) + "entry_points[0].arguments[1]: entry point 'forward' argument "
                                  "'layer0.other' has kind parameter but is not listed in parameters");
  std::string dup = R"("parameters": [{"name": "p", "shape": [1], "dtype": "f32"}, {"name": "p", "shape": [1], "dtype": "f32"}],)";
  e = errorAfter(R"("parameters": [{"name": "layer0.experts.kernel", "shape": [4,8,5,3,3], "dtype": "f32"}],)", dup, &at);
  EXPECT_CONTAINS(e, "parameters[1].name: duplicate parameter name 'p'");
}

TEST(Manifest, CorruptJsonReportsOffset) {
  std::string text = kExample.substr(0, 100);
  auto m = parseManifest(text, "art/manifest.json");
  ASSERT_FALSE(m);
  EXPECT_CONTAINS(m.error(), "art/manifest.json: byte 100:");
}

TEST(Manifest, ValidateCodeBuiltManifest) {
  Manifest m = fakeManifest();
  EXPECT_TRUE(validateManifest(m));
  m.entryPoints[1].name = "forward";
  Status s = validateManifest(m);
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), "manifest: entry_points[1].name: duplicate entry point name 'forward'");
  EXPECT_FALSE(writeManifestText(m));
  Manifest none = fakeManifest();
  none.entryPoints.clear();
  EXPECT_CONTAINS(validateManifest(none).message(), "expected at least one entry point");
}

// The cpu object (docs/Artifact.md): written and read back, optional.
TEST(Manifest, TargetCpuRoundTripsAndIsOptional) {
  Manifest m = fakeManifest();
  EXPECT_FALSE(m.cpu); // manifests without it still parse (kExample has none)
  m.cpu = TargetCpu{"x86-64-v3", {"avx", "avx2", "fma", "sse4.2"}};
  auto text = writeManifestText(m);
  ASSERT_TRUE(text) << text.error();
  EXPECT_CONTAINS(*text, "\"cpu\": {");
  auto back = parseManifest(*text, "m.json");
  ASSERT_TRUE(back) << back.error();
  ASSERT_TRUE(back->cpu);
  EXPECT_EQ(back->cpu->name, "x86-64-v3");
  EXPECT_EQ(back->cpu->features, m.cpu->features);
  EXPECT_EQ(*writeManifestText(*back), *text);
  // An empty feature list is legal (a CPU with nothing beyond the table).
  m.cpu->features.clear();
  back = parseManifest(*writeManifestText(m), "m.json");
  ASSERT_TRUE(back) << back.error();
  EXPECT_TRUE(back->cpu && back->cpu->features.empty());
  auto plain = parseManifest(kExample, "m.json");
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_FALSE(plain->cpu);
}

TEST(Manifest, TargetCpuErrors) {
  const std::string model = "\"model\": \"fashion_pce\",";
  auto withCpu = [&](const std::string &cpu, size_t *at) {
    std::string e = errorAfter(model, model + " \"cpu\": " + cpu + ",", at);
    *at += model.size() + 8; // the cpu value
    return e;
  };
  size_t at;
  std::string e = withCpu("\"znver4\"", &at);
  EXPECT_CONTAINS(e, byteAt(at) + "cpu: expected an object, found a string");
  e = withCpu("{\"name\": 4, \"features\": []}", &at);
  EXPECT_CONTAINS(e, byteAt(at + 9) + "cpu.name: expected a string, found an integer");
  e = withCpu("{\"name\": \"znver4\", \"features\": \"avx2\"}", &at);
  EXPECT_CONTAINS(e, byteAt(at + 31) + "cpu.features: expected an array, found a string");
  e = withCpu("{\"name\": \"znver4\", \"features\": [\"avx2\", 7]}", &at);
  EXPECT_CONTAINS(e, byteAt(at + 40) + "cpu.features[1]: expected a string, found an integer");
  e = withCpu("{\"name\": \"znver4\"}", &at);
  EXPECT_CONTAINS(e, byteAt(at) + "cpu: missing key 'features'");
  e = withCpu("{\"name\": \"znver4\", \"features\": [], \"tune\": 1}", &at);
  EXPECT_CONTAINS(e, "cpu: unknown key 'tune' (expected name, features)");
  e = withCpu("{\"name\": \"\", \"features\": []}", &at);
  EXPECT_CONTAINS(e, byteAt(at + 9) + "cpu.name: expected the name of the CPU");
  // A feature the runtime cannot test is an error, not silently ignored.
  e = withCpu("{\"name\": \"znver4\", \"features\": [\"avx2\", \"avx9000\"]}", &at);
  EXPECT_CONTAINS(e, byteAt(at + 40) + "cpu.features[1]: unknown CPU feature 'avx9000' (this runtime knows: ");
  e = withCpu("{\"name\": \"znver4\", \"features\": [\"avx2\", \"avx2\"]}", &at);
  EXPECT_CONTAINS(e, byteAt(at + 40) + "cpu.features[1]: duplicate CPU feature 'avx2'");
  // The same rules for a manifest built in code.
  Manifest m = fakeManifest();
  m.cpu = TargetCpu{"znver4", {"avx9000"}};
  EXPECT_CONTAINS(validateManifest(m).message(), "manifest: cpu.features[0]: unknown CPU feature 'avx9000'");
}

TEST(Manifest, MissingFile) {
  auto m = readManifest("/nonexistent/manifest.json");
  ASSERT_FALSE(m);
  EXPECT_CONTAINS(m.error(), "/nonexistent/manifest.json: cannot open");
}

} // namespace
