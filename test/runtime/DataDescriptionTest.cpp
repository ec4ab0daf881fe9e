//===- DataDescriptionTest.cpp - pce.data.* metadata of weights files -----===//

#include "runtime/DataDescription.h"
#include "runtime/Safetensors.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {
DataDescription cifar() {
  DataDescription d;
  d.format = "cifar10";
  d.mean = {0.4914f, 0.4822f, 0.4465f};
  d.std = {0.247f, 0.2435f, 0.2616f};
  d.classes = {"airplane", "automobile", "bird \"quoted\""};
  return d;
}
} // namespace

TEST(DataDescription, RoundTripsThroughAWeightsFile) {
  auto metadata = dataMetadata(cifar());
  ASSERT_TRUE(metadata.ok()) << metadata.error();
  EXPECT_EQ(metadata->at(kDataMeanKey), "0.4914,0.4822,0.4465");
  EXPECT_EQ(metadata->at(kDataStdKey), "0.247,0.2435,0.2616");
  TempDir dir;
  ASSERT_TRUE(writeSafetensors(dir.file("w.safetensors"), {{"w", randomTensor(DType::F32, {2})}}, *metadata));
  auto file = readSafetensors(dir.file("w.safetensors"));
  ASSERT_TRUE(file.ok()) << file.error();
  auto back = readDataMetadata(file->metadata, "w.safetensors");
  ASSERT_TRUE(back.ok()) << back.error();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(**back, cifar());
  JsonValue j = dataDescriptionJson(cifar());
  EXPECT_EQ(writeJson(j), "{\"format\":\"cifar10\",\"mean\":[0.4914,0.4822,0.4465],\"std\":[0.247,0.2435,0.2616],"
                          "\"classes\":[\"airplane\",\"automobile\",\"bird \\\"quoted\\\"\"]}");
}

// A reader's options (Camelyon16's tiling) travel with the weights too.
TEST(DataDescription, ReaderOptionsTravelAndAreChecked) {
  DataDescription d;
  d.format = "camelyon16";
  d.mean = {0.7f, 0.5f, 0.6f};
  d.std = {0.1f, 0.1f, 0.1f};
  d.classes = {"normal", "tumour"};
  d.options = {{"level", 2}, {"tile_size", 256}, {"min_tissue", 0.25}};
  auto metadata = dataMetadata(d);
  ASSERT_TRUE(metadata.ok()) << metadata.error();
  EXPECT_EQ(metadata->at(kDataOptionsKey), "{\"level\":2,\"min_tissue\":0.25,\"tile_size\":256}");
  auto back = readDataMetadata(*metadata, "w.safetensors");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(**back, d);
  EXPECT_NE(writeJson(dataDescriptionJson(d)).find("\"options\":{\"level\":2"), std::string::npos);
  // An option another format does not take; a value that is no number.
  DataDescription voc = cifar();
  voc.format = "voc";
  voc.options = {{"level", 1}};
  ASSERT_FALSE(dataMetadata(voc).ok());
  EXPECT_EQ(dataMetadata(voc).error(),
            "data description: data option 'level' does not apply to format voc (it takes none)");
  auto m = *metadata;
  m[kDataOptionsKey] = "{\"levle\": 2}";
  auto bad = readDataMetadata(m, "w.safetensors");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("data option 'levle' does not apply to format camelyon16 (it takes level, tile_size, "
                             "stride, min_tissue)"),
            std::string::npos)
      << bad.error();
  m[kDataOptionsKey] = "{\"level\": \"2\"}";
  EXPECT_NE(readDataMetadata(m, "w.safetensors").error().find("option 'level' is not a number"), std::string::npos);
}

TEST(DataDescription, ShortestFloatTextReadsBack) {
  for (float v : {0.286f, 0.353f, 1.0f / 3.0f, 1e-7f, 255.0f, -0.5f}) {
    std::string text = formatFloats({v});
    EXPECT_EQ(std::strtof(text.c_str(), nullptr), v) << text;
  }
  EXPECT_EQ(formatFloats({0.286f, 0.353f}), "0.286,0.353");
}

TEST(DataDescription, WeightsWithoutItHaveNone) {
  auto none = readDataMetadata({{"pce.train.seed", "1"}}, "w.safetensors");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_FALSE(none->has_value());
}

TEST(DataDescription, BadMetadataIsAnError) {
  auto error = [](std::map<std::string, std::string> m) {
    auto d = readDataMetadata(m, "w.safetensors");
    EXPECT_FALSE(d.ok());
    return d.ok() ? std::string() : d.error();
  };
  std::map<std::string, std::string> good = *dataMetadata(cifar());
  auto without = [&](const char *key) {
    auto m = good;
    m.erase(key);
    return m;
  };
  auto with = [&](const char *key, std::string value) {
    auto m = good;
    m[key] = std::move(value);
    return m;
  };
  EXPECT_EQ(error(without(kDataStdKey)),
            "w.safetensors: metadata has 'pce.data.mean' but not 'pce.data.std' (the pce.data.* entries come together)");
  EXPECT_NE(error(without(kDataFormatKey)).find("but not 'pce.data.format'"), std::string::npos);
  EXPECT_EQ(error(with(kDataMeanKey, "0.5,,0.5")),
            "w.safetensors: metadata 'pce.data.mean': expected numbers separated by commas, found '0.5,,0.5'");
  EXPECT_NE(error(with(kDataStdKey, "0.2,0.2")).find("expected as many means as stds (one per channel), found 3 and 2"),
            std::string::npos);
  EXPECT_NE(error(with(kDataStdKey, "0.2,0,0.2")).find("channel 1: expected a finite mean and a std > 0"),
            std::string::npos);
  EXPECT_NE(error(with(kDataMeanKey, "nan,0,0")).find("channel 0"), std::string::npos);
  EXPECT_NE(error(with(kDataClassesKey, "{\"a\": 1}")).find("expected a JSON array of strings"), std::string::npos);
  EXPECT_NE(error(with(kDataClassesKey, "[1]")).find("expected a JSON array of strings"), std::string::npos);
  EXPECT_NE(error(with(kDataClassesKey, "[")).find("metadata 'pce.data.classes'"), std::string::npos);
  DataDescription empty;
  EXPECT_FALSE(dataMetadata(empty).ok());
}

TEST(DataDescription, FingerprintOfTheFileList) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("train"));
  writeBytes(dir.file("train/a.bin"), "abc");
  writeBytes(dir.file("b.txt"), "names");
  auto first = fingerprintData(dir.path(), 7);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->images, 7);
  EXPECT_EQ(first->filesHash.size(), 16u);
  // The same files give the same hash; contents of the same size do too (it
  // hashes names and sizes), a size or a name that differs does not.
  writeBytes(dir.file("train/a.bin"), "xyz");
  EXPECT_EQ(fingerprintData(dir.path(), 7)->filesHash, first->filesHash);
  writeBytes(dir.file("train/a.bin"), "abcd");
  std::string grown = fingerprintData(dir.path(), 7)->filesHash;
  EXPECT_NE(grown, first->filesHash);
  writeBytes(dir.file("c.txt"), "");
  EXPECT_NE(fingerprintData(dir.path(), 7)->filesHash, grown);
  auto metadata = fingerprintMetadata(*first);
  EXPECT_EQ(metadata.at("pce.data.images"), "7");
  EXPECT_EQ(metadata.at("pce.data.files_hash"), first->filesHash);
  EXPECT_FALSE(fingerprintData(dir.file("missing"), 0).ok());
}
