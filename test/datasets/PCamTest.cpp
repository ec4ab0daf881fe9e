//===- PCamTest.cpp - PatchCamelyon's HDF5 files --------------------------===//
//
// Files written here through libhdf5 with the published names, dataset names,
// shapes and dtypes (x uint8 [N,96,96,3] chunked a patch at a time and
// compressed, y uint8 [N,1,1,1]); missing, truncated, mistyped, misshapen and
// mislabelled variants are errors naming the file and dataset, never a crash.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/PCam.h"

#include "TestSupport.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// Writes one dataset `name` of the given memory/file type and shape.
void writeH5(const std::string &path, const char *name, hid_t type, const std::vector<hsize_t> &dims,
             const void *data, bool chunked = true) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(dcpl, 4);
  }
  hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(set, 0);
  ASSERT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  H5Dclose(set);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(file);
}

struct Split {
  std::vector<uint8_t> pixels; // [n,96,96,3]
  std::vector<uint8_t> labels;
  int64_t n = 0;
};

Split randomSplit(int64_t n) {
  Split s;
  s.n = n;
  s.pixels.resize(n * 96 * 96 * 3);
  std::uniform_int_distribution<int> byte(0, 255), bit(0, 1);
  for (uint8_t &p : s.pixels)
    p = static_cast<uint8_t>(byte(rng()));
  for (int64_t i = 0; i < n; ++i)
    s.labels.push_back(static_cast<uint8_t>(bit(rng())));
  return s;
}

std::string xName(const std::string &split) { return "camelyonpatch_level_2_split_" + split + "_x.h5"; }
std::string yName(const std::string &split) { return "camelyonpatch_level_2_split_" + split + "_y.h5"; }

void writeSplit(const TempDir &dir, const std::string &split, const Split &s, bool chunked = true) {
  writeH5(dir.file(xName(split)), "x", H5T_NATIVE_UINT8, {hsize_t(s.n), 96, 96, 3}, s.pixels.data(), chunked);
  writeH5(dir.file(yName(split)), "y", H5T_NATIVE_UINT8, {hsize_t(s.n), 1, 1, 1}, s.labels.data(), chunked);
}

std::string openError(const TempDir &dir, const std::string &split = "test") {
  auto source = openPCam(dir.path(), split);
  return source ? std::string() : source.error();
}

} // namespace

TEST(PCam, ReadsEachPatchAndLabel) {
  for (bool chunked : {true, false}) {
    TempDir dir;
    Split s = randomSplit(6);
    writeSplit(dir, "valid", s, chunked);
    auto source = openPCam(dir.path(), "val");
    ASSERT_TRUE(source.ok()) << source.error();
    const DataSource &data = **source;
    EXPECT_EQ(data.size(), 6);
    EXPECT_EQ(data.task(), Task::Classification);
    EXPECT_EQ(data.classes(), (std::vector<std::string>{"normal", "tumour"}));
    EXPECT_CONTAINS(data.source(), xName("valid"));
    for (int64_t i = 5; i >= 0; --i) {
      auto sample = data.load(i);
      ASSERT_TRUE(sample.ok()) << sample.error();
      EXPECT_EQ(sample->label, s.labels[i]);
      ASSERT_EQ(sample->image.height, 96);
      ASSERT_EQ(sample->image.width, 96);
      ASSERT_EQ(sample->image.channels, 3);
      const uint8_t *want = s.pixels.data() + i * 96 * 96 * 3;
      EXPECT_TRUE(std::equal(sample->image.pixels.begin(), sample->image.pixels.end(), want)) << "patch " << i;
      // Row 10, column 20, blue: HWC as stored.
      EXPECT_EQ(sample->image.at(10, 20, 2), want[(10 * 96 + 20) * 3 + 2]);
      EXPECT_CONTAINS(sample->source, xName("valid"));
    }
    auto past = data.load(6);
    ASSERT_FALSE(past.ok());
    EXPECT_CONTAINS(past.error(), "patch 6 is out of range (the split has 6)");
    EXPECT_FALSE(data.load(-1).ok());
  }
}

TEST(PCam, AcceptsOtherPatchSizesAndGrey) {
  TempDir dir;
  std::vector<uint8_t> pixels(3 * 32 * 48), labels{1, 0, 1};
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<uint8_t>(i * 7);
  writeH5(dir.file(xName("train")), "x", H5T_NATIVE_UINT8, {3, 32, 48, 1}, pixels.data());
  writeH5(dir.file(yName("train")), "y", H5T_NATIVE_UINT8, {3}, labels.data());
  auto source = openPCam(dir.path(), "train");
  ASSERT_TRUE(source.ok()) << source.error();
  auto sample = (*source)->load(2);
  ASSERT_TRUE(sample.ok()) << sample.error();
  EXPECT_EQ(sample->image.height, 32);
  EXPECT_EQ(sample->image.width, 48);
  EXPECT_EQ(sample->image.channels, 1);
  EXPECT_EQ(sample->image.at(5, 7), pixels[2 * 32 * 48 + 5 * 48 + 7]);
  EXPECT_EQ(sample->label, 1);
}

TEST(PCam, LoadsFromManyThreads) {
  TempDir dir;
  Split s = randomSplit(16);
  writeSplit(dir, "train", s);
  auto source = openPCam(dir.path(), "train");
  ASSERT_TRUE(source.ok()) << source.error();
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (int64_t i = t; i < 16; i += 2) {
          auto sample = (*source)->load(i);
          if (!sample.ok() || sample->label != s.labels[i] ||
              !std::equal(sample->image.pixels.begin(), sample->image.pixels.end(),
                          s.pixels.data() + i * 96 * 96 * 3))
            ++bad[t];
        }
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST(PCam, MissingFilesAndSplits) {
  TempDir dir;
  EXPECT_CONTAINS(openError(dir, "valid2"), "unknown split 'valid2' (expected train, val or test)");
  EXPECT_CONTAINS(openError(dir), dir.file(yName("test")) + ": no such file");
  Split s = randomSplit(2);
  writeSplit(dir, "test", s);
  std::filesystem::remove(dir.file(xName("test")));
  EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) + ": no such file");
  EXPECT_CONTAINS(openError(dir, "train"), dir.file(yName("train")) + ": no such file");
  auto gone = openPCam(dir.file("nowhere"), "test");
  ASSERT_FALSE(gone.ok());
  EXPECT_CONTAINS(gone.error(), "nowhere: not a directory");
}

TEST(PCam, BadFilesNameTheFileAndDataset) {
  Split s = randomSplit(4);
  {
    TempDir dir;
    writeSplit(dir, "test", s);
    writeBytes(dir.file(xName("test")), "this is not HDF5\n");
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) + ": not an HDF5 file");
    writeBytes(dir.file(xName("test")), "");
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) + ": empty file");
  }
  {
    TempDir dir;
    writeSplit(dir, "test", s, false);
    std::string bytes = readBytes(dir.file(xName("test")));
    writeBytes(dir.file(xName("test")), bytes.substr(0, bytes.size() / 2));
    std::string e = openError(dir);
    EXPECT_CONTAINS(e, dir.file(xName("test")) + ": cannot open as an HDF5 file (HDF5: truncated file");
  }
  {
    TempDir dir;
    writeSplit(dir, "test", s);
    std::vector<float> f(4 * 96 * 96 * 3);
    writeH5(dir.file(xName("test")), "x", H5T_NATIVE_FLOAT, {4, 96, 96, 3}, f.data());
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) + ": dataset 'x': expected uint8 pixels, found float32");
    std::vector<int8_t> signedPixels(4 * 96 * 96 * 3);
    writeH5(dir.file(xName("test")), "x", H5T_NATIVE_INT8, {4, 96, 96, 3}, signedPixels.data());
    EXPECT_CONTAINS(openError(dir), "dataset 'x': expected uint8 pixels, found int8");
    std::vector<uint8_t> four(4 * 96 * 96 * 4);
    writeH5(dir.file(xName("test")), "x", H5T_NATIVE_UINT8, {4, 96, 96, 4}, four.data());
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) +
                                        ": dataset 'x': expected uint8 [N,96,96,3] (or [N,H,W,1|3]), found shape "
                                        "[4,96,96,4]");
    writeH5(dir.file(xName("test")), "x", H5T_NATIVE_UINT8, {3, 96, 96, 3}, s.pixels.data());
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) + ": dataset 'x' holds 3 patches but " +
                                        dir.file(yName("test")) + ": dataset 'y' holds 4 labels");
    writeH5(dir.file(xName("test")), "images", H5T_NATIVE_UINT8, {4, 96, 96, 3}, s.pixels.data());
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) +
                                        ": no dataset 'x' at the root (found 'images'; is this a PCam _x file?)");
  }
  {
    TempDir dir;
    writeSplit(dir, "test", s);
    std::vector<uint8_t> labels{0, 1, 1, 7};
    writeH5(dir.file(yName("test")), "y", H5T_NATIVE_UINT8, {4, 1, 1, 1}, labels.data());
    EXPECT_CONTAINS(openError(dir), dir.file(yName("test")) +
                                        ": dataset 'y': label 3 is 7 (expected 0 = normal or 1 = tumour)");
    std::vector<int32_t> negative{0, -1, 1, 0};
    writeH5(dir.file(yName("test")), "y", H5T_NATIVE_INT32, {4, 1, 1, 1}, negative.data());
    EXPECT_CONTAINS(openError(dir), "dataset 'y': label 1 is -1");
    writeH5(dir.file(yName("test")), "y", H5T_NATIVE_UINT8, {2, 2, 1, 1}, labels.data());
    EXPECT_CONTAINS(openError(dir), "dataset 'y': expected [N,1,1,1] (or [N]), found shape [2,2,1,1]");
    std::vector<double> real{0, 1, 0, 1};
    writeH5(dir.file(yName("test")), "y", H5T_NATIVE_DOUBLE, {4, 1, 1, 1}, real.data());
    EXPECT_CONTAINS(openError(dir), "dataset 'y': expected integer labels, found float64");
    // Labels of another width read the same.
    std::vector<int64_t> wide{0, 1, 1, 0};
    writeH5(dir.file(yName("test")), "y", H5T_NATIVE_INT64, {4, 1, 1, 1}, wide.data());
    EXPECT_EQ(openError(dir), "");
  }
}

TEST(PCam, InspectsFileImages) {
  TempDir dir;
  Split s = randomSplit(3);
  s.labels = {1, 1, 0};
  writeSplit(dir, "train", s);
  std::string x = readBytes(dir.file(xName("train"))), y = readBytes(dir.file(yName("train")));
  auto xInfo = inspectPCamFile(x, "mem_x.h5", 'x');
  ASSERT_TRUE(xInfo.ok()) << xInfo.error();
  EXPECT_EQ(xInfo->count, 3);
  EXPECT_EQ(xInfo->height, 96);
  EXPECT_EQ(xInfo->channels, 3);
  auto yInfo = inspectPCamFile(y, "mem_y.h5", 'y');
  ASSERT_TRUE(yInfo.ok()) << yInfo.error();
  EXPECT_EQ(yInfo->count, 3);
  EXPECT_EQ(yInfo->tumour, 2);
  EXPECT_CONTAINS(inspectPCamFile(y, "mem_y.h5", 'x').error(), "mem_y.h5: no dataset 'x' at the root (found 'y'");
  EXPECT_CONTAINS(inspectPCamFile("", "e.h5", 'x').error(), "e.h5: empty file");
  EXPECT_CONTAINS(inspectPCamFile("junk", "j.h5", 'y').error(), "j.h5: cannot open as an HDF5 file");
}

// Overwrites the first occurrence of `from` (little-endian fields) in the file.
void patchFile(const std::string &path, const std::string &from, const std::string &to) {
  std::string bytes = readBytes(path);
  size_t at = bytes.find(from);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, to.size(), to);
  writeBytes(path, bytes);
}

template <typename T> std::string le(std::initializer_list<T> values) {
  std::string out;
  for (T v : values)
    out.append(reinterpret_cast<const char *>(&v), sizeof v);
  return out;
}

TEST(PCam, LyingHeadersAreErrorsAtOpen) {
  Split s = randomSplit(3);
  {
    // A contiguous x whose dataspace claims 300 patches over 3 patches' bytes.
    TempDir dir;
    writeSplit(dir, "test", s, false);
    patchFile(dir.file(xName("test")), le<uint64_t>({3, 96, 96, 3}), le<uint64_t>({300}));
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) +
                                        ": dataset 'x': shape [300,96,96,3] needs 8294400 bytes but 82944 are stored "
                                        "(truncated or damaged)");
  }
  {
    // Chunked, 4 patches declared, 2 written: the others would read as zeros.
    TempDir dir;
    writeSplit(dir, "test", s);
    std::vector<uint8_t> labels{0, 1, 0, 1};
    writeH5(dir.file(yName("test")), "y", H5T_NATIVE_UINT8, {4, 1, 1, 1}, labels.data());
    hid_t file = H5Fcreate(dir.file(xName("test")).c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[4] = {4, 96, 96, 3}, chunk[4] = {1, 96, 96, 3}, start[4] = {0, 0, 0, 0}, two[4] = {2, 96, 96, 3};
    hid_t space = H5Screate_simple(4, dims, nullptr), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 4, chunk);
    hid_t set = H5Dcreate2(file, "x", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t memory = H5Screate_simple(4, two, nullptr);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, two, nullptr);
    ASSERT_GE(H5Dwrite(set, H5T_NATIVE_UINT8, memory, space, H5P_DEFAULT, s.pixels.data()), 0);
    H5Sclose(memory);
    H5Dclose(set);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) +
                                        ": dataset 'x': shape [4,96,96,3] in chunks of [1,96,96,3] needs 4 chunks "
                                        "but 2 are stored (truncated or damaged)");
  }
  {
    // A damaged layout message: chunks wider than the dataset.
    TempDir dir;
    writeSplit(dir, "test", s);
    patchFile(dir.file(xName("test")), le<uint32_t>({1, 96, 96, 3, 1}), le<uint32_t>({1, 200}));
    EXPECT_CONTAINS(openError(dir), dir.file(xName("test")) +
                                        ": dataset 'x': damaged storage layout: chunks of [1,200,96,3] do not fit "
                                        "its shape [3,96,96,3]");
  }
}

// Truncated anywhere, or with damaged compressed patches: an error or
// patches, never a crash. (Random damage to HDF5's own metadata is left to
// test/fuzz/fuzz_pcam.cpp: libhdf5 1.10.8 can crash on it, see PCam.h.)
TEST(PCam, RandomDamageIsAnErrorOrPatches) {
  TempDir dir;
  Split s = randomSplit(3);
  writeSplit(dir, "train", s);
  const std::string good = readBytes(dir.file(xName("train")));
  // Where the compressed patches lie.
  std::vector<std::pair<uint64_t, uint64_t>> chunks;
  {
    hid_t file = H5Fopen(dir.file(xName("train")).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t set = H5Dopen2(file, "x", H5P_DEFAULT), space = H5Dget_space(set);
    for (hsize_t k = 0; k < 3; ++k) {
      hsize_t offset[4];
      unsigned mask = 0;
      haddr_t addr = 0;
      hsize_t size = 0;
      ASSERT_GE(H5Dget_chunk_info(set, space, k, offset, &mask, &addr, &size), 0);
      chunks.emplace_back(addr, size);
    }
    H5Sclose(space);
    H5Dclose(set);
    H5Fclose(file);
  }
  std::uniform_int_distribution<size_t> cut(0, good.size() - 1), which(0, 2);
  std::uniform_int_distribution<int> byte(0, 255);
  int ok = 0;
  for (int i = 0; i < 600; ++i) {
    std::string damaged = good;
    if (i % 2 == 0) {
      damaged.resize(cut(rng()));
    } else {
      auto [addr, size] = chunks[which(rng())];
      std::uniform_int_distribution<uint64_t> in(addr, addr + size - 1);
      for (int k = 0; k < 1 + i % 5; ++k)
        damaged[in(rng())] = static_cast<char>(byte(rng()));
    }
    auto info = inspectPCamFile(damaged, "d_x.h5", 'x');
    if (info.ok()) {
      ++ok;
      EXPECT_EQ(info->count, 3);
    } else {
      EXPECT_EQ(info.error().rfind("d_x.h5: ", 0), 0u) << info.error();
    }
  }
  EXPECT_LT(ok, 600);
}

// The fuzzer's find: a y dataset whose integer type is 0 bytes wide claims
// 120,193,278 labels in 1,797 bytes; its layout stores 0 bytes, which is
// what the shape "needs". Refused at the type, at once, instead of
// converting 120 million labels from nothing (seconds each read).
TEST(PCam, AnIntegerTypeOfZeroBytesIsDamaged) {
  const std::string path = std::string(PCE_DATASETS_TEST_DATA) + "/hdf5-zero-byte-labels.h5";
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const auto start = std::chrono::steady_clock::now();
  auto info = inspectPCamFile(bytes, "zero_y.h5", 'y');
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(info);
  EXPECT_CONTAINS(info.error(), "zero_y.h5: dataset 'y': its integer type is 0 bytes wide (damaged");
  EXPECT_LT(seconds, 1.0);
}
