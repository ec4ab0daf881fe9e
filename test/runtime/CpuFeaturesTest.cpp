//===- CpuFeaturesTest.cpp - refusing artifacts for a CPU this one is not -===//

#include "runtime/Artifact.h"
#include "runtime/CpuFeatures.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

#include <optional>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

TEST(CpuFeatures, TableAndHost) {
  EXPECT_TRUE(isKnownCpuFeature("avx2"));
  EXPECT_TRUE(isKnownCpuFeature("sse4.2"));
  EXPECT_FALSE(isKnownCpuFeature("avx9000"));
  EXPECT_FALSE(hostHasCpuFeature("avx9000"));
#if defined(__x86_64__)
  // Every x86-64 CPU has these.
  for (const char *baseline : {"64bit", "cmov", "cx8", "sse", "sse2"})
    EXPECT_TRUE(hostHasCpuFeature(baseline)) << baseline;
  // This compiler's own target features agree with the table.
#ifdef __AVX2__
  EXPECT_TRUE(hostHasCpuFeature("avx2"));
#endif
#ifdef __SSE4_2__
  EXPECT_TRUE(hostHasCpuFeature("sse4.2"));
#endif
#endif
}

TEST(CpuFeatures, RefusalNamesTheMissingFeatures) {
  auto has = [](std::string_view f) { return f != "avx512f" && f != "avx512bw"; };
  EXPECT_EQ(cpuFeatureRefusal("d", "znver1", {"avx", "avx2"}, has), "");
  std::string one = cpuFeatureRefusal("art", "skylake-avx512", {"avx2", "avx512f"}, has);
  EXPECT_CONTAINS(one, "artifact art was compiled for skylake-avx512 and needs avx512f, which this CPU lacks "
                       "(rebuild it with pce-compile on this machine, or for an older CPU with --mcpu, e.g. "
                       "--mcpu=x86-64-v2");
  std::string two = cpuFeatureRefusal("art", "skylake-avx512", {"avx512f", "avx2", "avx512bw"}, has);
  EXPECT_CONTAINS(two, "needs avx512f and avx512bw, which this CPU lacks");
  EXPECT_EQ(missingCpuFeatures({"avx512bw", "sse2", "avx512f"}, has),
            (std::vector<std::string>{"avx512bw", "avx512f"}));
}

// The first feature of the table this machine lacks, if any.
std::optional<std::string> absentFeature() {
  for (const std::string &f : knownCpuFeatures())
    if (!hostHasCpuFeature(f))
      return f;
  return std::nullopt;
}

// Artifact::open refuses, before loading the library, an artifact whose
// manifest names a feature this CPU lacks; the same artifact without the
// feature (or without the cpu record at all) opens.
TEST(CpuFeatures, ArtifactOpenRefusesMissingFeature) {
  std::optional<std::string> absent = absentFeature();
  if (!absent)
    GTEST_SKIP() << "this CPU has every feature of the table";
  TempDir dir;
  Manifest m = fakeManifest();
  m.cpu = TargetCpu{"made-up-cpu", {"sse2", *absent}};
  writeArtifact(dir.path(), m);
  auto art = Artifact::open(dir.path());
  ASSERT_FALSE(art);
  EXPECT_CONTAINS(art.error(), "artifact " + dir.path() + " was compiled for made-up-cpu and needs " + *absent +
                                   ", which this CPU lacks");

  m.cpu->features = {"sse2"};
  writeArtifact(dir.path(), m);
  auto ok = Artifact::open(dir.path());
  EXPECT_TRUE(ok) << ok.error();
  m.cpu.reset();
  writeArtifact(dir.path(), m);
  ok = Artifact::open(dir.path());
  EXPECT_TRUE(ok) << ok.error();
}

// Every feature this machine has passes.
TEST(CpuFeatures, ArtifactForThisCpuOpens) {
  TempDir dir;
  Manifest m = fakeManifest();
  m.cpu = TargetCpu{"this-cpu", {}};
  for (const std::string &f : knownCpuFeatures())
    if (hostHasCpuFeature(f))
      m.cpu->features.push_back(f);
  writeArtifact(dir.path(), m);
  auto art = Artifact::open(dir.path());
  EXPECT_TRUE(art) << art.error();
}

} // namespace
