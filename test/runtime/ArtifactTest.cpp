//===- ArtifactTest.cpp - Loading and running the fake artifact -----------===//

#include "runtime/Artifact.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

#include <cmath>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

class ArtifactTest : public ::testing::Test {
protected:
  TempDir dir;

  // Weights matching fakeManifest(), fresh random values.
  SafetensorsFile weights() {
    SafetensorsFile f;
    f.path = dir.file("w.safetensors");
    f.tensors["w"] = randomTensor(DType::F32, {3});
    f.tensors["b"] = randomTensor(DType::F32, {3});
    return f;
  }

  Artifact openOk(const Manifest &m = fakeManifest()) {
    writeArtifact(dir.path(), m);
    auto art = Artifact::open(dir.path());
    if (!art) // gtest reports the exception as a test failure
      throw std::runtime_error(art.error());
    return std::move(*art);
  }

  std::string openError(const Manifest &m) {
    writeArtifact(dir.path(), m);
    auto art = Artifact::open(dir.path());
    EXPECT_FALSE(art);
    return art ? "" : art.error();
  }
};

TEST_F(ArtifactTest, ForwardComputesAffineAndRouting) {
  Artifact art = openOk();
  SafetensorsFile w = weights();
  w.tensors["unused.extra"] = randomTensor(DType::F64, {2});
  ASSERT_TRUE(art.bindParameters(w));
  ASSERT_EQ(art.warnings().size(), 1u);
  EXPECT_CONTAINS(art.warnings()[0], "has tensor 'unused.extra' f64[2] that the artifact does not use");

  HostTensor x = randomTensor(DType::F32, {2, 3});
  auto out = art.run("forward", {{"x", x}});
  ASSERT_TRUE(out) << out.error();
  ASSERT_EQ(out->size(), 2u);
  const HostTensor &y = out->at("y");
  const HostTensor &r = out->at("layer0.routing");
  EXPECT_EQ(y.typeString(), "f32[2,3]");
  EXPECT_EQ(r.typeString(), "f32[2,3,2]");
  const float *wv = w.tensors["w"].f32(), *bv = w.tensors["b"].f32();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      float expect = wv[j] * x.f32()[i * 3 + j] + bv[j];
      EXPECT_EQ(y.f32()[i * 3 + j], expect) << i << "," << j;
      EXPECT_EQ(r.f32()[(i * 3 + j) * 2 + 0], x.f32()[i * 3 + j]);
      EXPECT_EQ(r.f32()[(i * 3 + j) * 2 + 1], expect);
    }
}

TEST_F(ArtifactTest, RankZeroInputAndF64) {
  Artifact art = openOk();
  HostTensor x = randomTensor(DType::F64, {4});
  HostTensor s = randomTensor(DType::F64, {});
  auto out = art.run("scale", {{"x", x}, {"s", s}});
  ASSERT_TRUE(out) << out.error();
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(out->at("y").f64()[i], s.f64()[0] * x.f64()[i]);
}

TEST_F(ArtifactTest, ParameterOverrideThroughInputsAndBindParameter) {
  Artifact art = openOk();
  SafetensorsFile w = weights();
  ASSERT_TRUE(art.bindParameters(w));
  HostTensor x = randomTensor(DType::F32, {2, 3});
  HostTensor w2 = randomTensor(DType::F32, {3});
  auto out = art.run("forward", {{"x", x}, {"w", w2}});
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(out->at("y").f32()[4], w2.f32()[1] * x.f32()[4] + w.tensors["b"].f32()[1]);

  ASSERT_TRUE(art.bindParameter("w", w2));
  auto again = art.run("forward", {{"x", x}});
  ASSERT_TRUE(again) << again.error();
  EXPECT_TRUE(sameTensor(again->at("y"), out->at("y")));
  Status bad = art.bindParameter("w", randomTensor(DType::F32, {4}));
  ASSERT_FALSE(bad);
  EXPECT_CONTAINS(bad.message(), "parameter 'w' expects f32[3], found f32[4]");
  EXPECT_CONTAINS(art.bindParameter("nope", w2).message(), "has no parameter 'nope'");
}

TEST_F(ArtifactTest, MissingParameter) {
  Artifact art = openOk();
  SafetensorsFile w = weights();
  w.tensors.erase("b");
  Status s = art.bindParameters(w);
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), "weights file " + dir.file("w.safetensors") + " lacks parameter 'b' [3] f32");
  // Nothing was bound: running reports the unbound parameter.
  auto out = art.run("forward", {{"x", randomTensor(DType::F32, {2, 3})}});
  ASSERT_FALSE(out);
  EXPECT_CONTAINS(out.error(), "entry point 'forward': parameter 'w' f32[3] is not bound");
}

TEST_F(ArtifactTest, WrongParameterShapeOrDtype) {
  Artifact art = openOk();
  SafetensorsFile w = weights();
  w.tensors["w"] = randomTensor(DType::F32, {4});
  w.tensors["b"] = randomTensor(DType::F64, {3});
  Status s = art.bindParameters(w);
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), "parameter 'w' is [4] f32 but the artifact expects [3] f32");
  EXPECT_CONTAINS(s.message(), "parameter 'b' is [3] f64 but the artifact expects [3] f32");
}

TEST_F(ArtifactTest, WrongInputs) {
  Artifact art = openOk();
  ASSERT_TRUE(art.bindParameters(weights()));
  auto wrongShape = art.run("forward", {{"x", randomTensor(DType::F32, {3, 2})}});
  ASSERT_FALSE(wrongShape);
  EXPECT_CONTAINS(wrongShape.error(), "entry point 'forward': input 'x' expects f32[2,3], found f32[3,2]");
  auto wrongDtype = art.run("forward", {{"x", randomTensor(DType::F64, {2, 3})}});
  ASSERT_FALSE(wrongDtype);
  EXPECT_CONTAINS(wrongDtype.error(), "input 'x' expects f32[2,3], found f64[2,3]");
  auto missing = art.run("scale", {{"x", randomTensor(DType::F64, {4})}});
  ASSERT_FALSE(missing);
  EXPECT_CONTAINS(missing.error(), "entry point 'scale': missing input 's' f64[]");
  auto unknown = art.run("forward", {{"x", randomTensor(DType::F32, {2, 3})}, {"z", randomTensor(DType::F32, {1})}});
  ASSERT_FALSE(unknown);
  EXPECT_CONTAINS(unknown.error(), "no argument named 'z' (arguments: x, w, b)");
  auto noEntry = art.run("backward", {});
  ASSERT_FALSE(noEntry);
  EXPECT_CONTAINS(noEntry.error(), "has no entry point 'backward' (available: forward, scale)");
  HostTensor lying = randomTensor(DType::F32, {2, 3});
  lying.data = AlignedBuffer(8);
  auto inconsistent = art.run("forward", {{"x", lying}});
  ASSERT_FALSE(inconsistent);
  EXPECT_CONTAINS(inconsistent.error(), "input 'x' (f32[2,3]) holds 8 bytes of data, expected 24");
}

TEST_F(ArtifactTest, MissingEntrySymbol) {
  Manifest m = fakeManifest();
  m.entryPoints[1].symbol = "pce_entry_missing";
  std::string e = openError(m);
  EXPECT_CONTAINS(e, "artifact " + dir.path() + ": library model.so lacks the symbol 'pce_entry_missing' "
                     "of entry point 'scale'");
}

TEST_F(ArtifactTest, MissingSignatureSymbol) {
  Manifest m = fakeManifest();
  m.entryPoints[1].symbol = "pce_entry_nosig";
  EXPECT_CONTAINS(openError(m), "lacks the symbol 'pce_entry_nosig_signature' (signature of entry point 'scale')");
}

TEST_F(ArtifactTest, SignatureMismatch) {
  Manifest m = fakeManifest();
  // The manifest was edited for batch 4; the library was compiled for 2.
  m.entryPoints[0].arguments[0].shape = {4, 3};
  std::string e = openError(m);
  EXPECT_CONTAINS(e, "entry point 'forward': the signature compiled into model.so differs from "
                     "manifest.json at item 0: library has 'x:input:f32[2,3]', manifest has "
                     "'x:input:f32[4,3]'");
  EXPECT_CONTAINS(e, "library:  x:input:f32[2,3];w:parameter:f32[3]");
  EXPECT_CONTAINS(e, "manifest: x:input:f32[4,3];w:parameter:f32[3]");
  // A result dropped from the manifest: reported as the missing item.
  Manifest fewer = fakeManifest();
  fewer.entryPoints[0].results.pop_back();
  EXPECT_CONTAINS(openError(fewer), "at item 4: library has 'layer0.routing:routing:f32[2,3,2]', "
                                    "manifest has (none)");
}

TEST_F(ArtifactTest, CorruptManifestJson) {
  writeArtifact(dir.path(), fakeManifest());
  std::string text = readBytes(dir.file("manifest.json"));
  size_t pos = text.find("\"entry_points\"");
  text.insert(pos, ",");
  writeBytes(dir.file("manifest.json"), text);
  auto art = Artifact::open(dir.path());
  ASSERT_FALSE(art);
  EXPECT_CONTAINS(art.error(), dir.file("manifest.json") + ": byte " + std::to_string(pos) +
                                   ": expected a string key");
}

TEST_F(ArtifactTest, MissingLibraryOrDirectory) {
  Manifest m = fakeManifest();
  m.library = "other.so";
  EXPECT_CONTAINS(openError(m), "library 'other.so' named in manifest.json does not exist");
  auto none = Artifact::open(dir.file("nope"));
  ASSERT_FALSE(none);
  EXPECT_CONTAINS(none.error(), "artifact " + dir.file("nope") + ": not a directory");
  // A library file that is not a shared object.
  writeArtifact(dir.path(), fakeManifest());
  std::filesystem::remove(dir.file("model.so"));
  writeBytes(dir.file("model.so"), "not an ELF file");
  auto bad = Artifact::open(dir.path());
  ASSERT_FALSE(bad);
  EXPECT_CONTAINS(bad.error(), "cannot load " + dir.file("model.so"));
}

TEST_F(ArtifactTest, MovedArtifactStillRuns) {
  Artifact a = openOk();
  Artifact b = std::move(a);
  auto out = b.run("scale", {{"x", randomTensor(DType::F64, {4})}, {"s", randomTensor(DType::F64, {})}});
  ASSERT_TRUE(out) << out.error();
  EXPECT_FALSE(std::isnan(out->at("y").f64()[0]));
}

} // namespace
