//===- CorruptionSweepTest.cpp - Random damage never crashes the readers --===//
//
// Flips, truncates and splices random bytes of valid .npy, safetensors and
// manifest files and parses the result: every outcome must be either a
// tensor/manifest or an error value (run under ASan/UBSan to make it bite).
//
//===----------------------------------------------------------------------===//

#include "runtime/Manifest.h"
#include "runtime/Npy.h"
#include "runtime/Safetensors.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

std::string damage(std::string bytes) {
  auto &g = rng();
  std::uniform_int_distribution<int> what(0, 3);
  std::uniform_int_distribution<int> byte(0, 255);
  if (bytes.empty())
    return bytes;
  std::uniform_int_distribution<size_t> pos(0, bytes.size() - 1);
  switch (what(g)) {
  case 0: // flip a few bytes
    for (int i = 0; i < 3; ++i)
      bytes[pos(g)] = static_cast<char>(byte(g));
    break;
  case 1: // truncate
    bytes.resize(pos(g));
    break;
  case 2: // duplicate a slice
    bytes.insert(pos(g), bytes.substr(pos(g), 16));
    break;
  default: // one byte, anywhere (headers are small, so often hit)
    bytes[pos(g) % std::min<size_t>(bytes.size(), 200)] = static_cast<char>(byte(g));
  }
  return bytes;
}

TEST(CorruptionSweep, NpySafetensorsManifest) {
  std::string npy = *encodeNpy(randomTensor(DType::F32, {2, 3, 4}));
  TempDir dir;
  std::map<std::string, HostTensor> m = {{"a", randomTensor(DType::F32, {3, 2})},
                                         {"b", randomTensor(DType::F64, {4})}};
  ASSERT_TRUE(writeSafetensors(dir.file("w.safetensors"), m, {{"k", "v"}}));
  std::string st = readBytes(dir.file("w.safetensors"));
  std::string manifest = *writeManifestText(fakeManifest());
  int npyOk = 0, stOk = 0, mOk = 0;
  for (int i = 0; i < 3000; ++i) {
    npyOk += parseNpy(damage(npy), "n").ok();
    stOk += parseSafetensors(damage(st), "s").ok();
    mOk += parseManifest(damage(manifest), "m").ok();
  }
  // Most damage must be caught (data-only flips legitimately still parse).
  EXPECT_LT(npyOk, 3000);
  EXPECT_LT(stOk, 3000);
  EXPECT_LT(mOk, 3000);
}

} // namespace
