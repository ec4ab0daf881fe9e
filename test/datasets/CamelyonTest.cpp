//===- CamelyonTest.cpp - Camelyon16 slides, ASAP XML and masks -----------===//
//
// Pyramidal tiled TIFFs written here through libtiff (1024x768 level 0, then
// 512x384 and 256x192 reduced-resolution directories, deflate, so pixels read
// back exactly): pink "tissue" in the left half, white-grey "glass" in the
// right. An ASAP XML puts a tumour square with an exclusion square inside
// it. Masks are checked pixel by pixel against an independent formulation
// (per-pixel point-in-polygon and the tissue rule on the painted pixels).
// Malformed XML, missing attributes, non-TIFF and damaged TIFF files are
// errors naming the file (and line:column), never a crash. (The XML format
// itself and the rasteriser on random polygons: AsapXmlTest.cpp.)
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Camelyon.h"

#include "AsapFixtures.h"
#include "SlideFixtures.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <thread>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// tumour.tif (annotated) and normal.tif (no XML).
void writeDataSet(const TempDir &dir, uint32_t tile = 128) {
  std::filesystem::create_directories(dir.file("images"));
  std::filesystem::create_directories(dir.file("annotations"));
  writeSlide(dir.file("images/tumour.tif"), tile);
  std::filesystem::copy_file(dir.file("images/tumour.tif"), dir.file("images/normal.tif"));
  writeBytes(dir.file("annotations/tumour.xml"), asapXml(lesions()));
}

// The mask of the tile written pixel by pixel from the rule in Camelyon.h.
Image expectedMask(const std::vector<Poly> &polys, double d, int64_t x0, int64_t y0, int64_t ts, bool voidGlass,
                   int tissueLevel, double threshold = 0.07) {
  Image mask(ts, ts, 1);
  const Image &map = slidePixels()[tissueLevel];
  double dT = std::pow(2.0, tissueLevel);
  for (int64_t y = 0; y < ts; ++y)
    for (int64_t x = 0; x < ts; ++x) {
      double cx = (static_cast<double>(x0 + x) + 0.5) * d, cy = (static_cast<double>(y0 + y) + 0.5) * d;
      bool tumour = false, excluded = false;
      for (const Poly &p : polys) {
        bool in = winding(p.points, cx, cy) != 0;
        (std::string(p.group) == "_2" ? excluded : tumour) |= in;
      }
      auto tx = static_cast<int64_t>(cx / dT), ty = static_cast<int64_t>(cy / dT);
      bool tissue = tx < map.width && ty < map.height &&
                    isTissue(map.at(ty, tx, 0), map.at(ty, tx, 1), map.at(ty, tx, 2), threshold);
      mask.at(y, x) = excluded ? kVoidLabel : tumour ? 1 : (voidGlass && !tissue) ? kVoidLabel : 0;
    }
  return mask;
}

int64_t mismatches(const Image &a, const Image &b) {
  int64_t n = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i)
    n += a.pixels[i] != b.pixels[i];
  return n;
}

std::string openError(const TempDir &dir, const CamelyonOptions &o = {}, const std::string &split = "train") {
  auto source = openCamelyon16(dir.path(), split, o);
  return source ? std::string() : source.error();
}

} // namespace

TEST(Camelyon, TilesImagesAndMasksAtLevel0) {
  TempDir dir;
  writeDataSet(dir);
  CamelyonOptions o;
  o.tissueMaxSide = 300; // the tissue map at level 2 (256x192)
  auto opened = openCamelyon16Tiles(dir.path(), "train", o);
  ASSERT_TRUE(opened.ok()) << opened.error();
  const CamelyonSource &data = **opened;
  EXPECT_EQ(data.task(), Task::Segmentation);
  EXPECT_EQ(data.classes(), (std::vector<std::string>{"normal", "tumour"}));
  ASSERT_EQ(data.slides().size(), 2u);
  EXPECT_EQ(data.slides()[0].stem, "normal");
  EXPECT_EQ(data.slides()[0].annotationPath, "");
  EXPECT_EQ(data.slides()[1].stem, "tumour");
  EXPECT_EQ(data.slides()[1].annotations.count(RegionKind::Tumour), 2);
  EXPECT_EQ(data.slides()[1].annotations.count(RegionKind::Exclusion), 1);
  EXPECT_EQ(data.slides()[1].width, 1024); // OpenSlide reads the fixture's pyramid
  EXPECT_EQ(data.slides()[1].height, 768);
  EXPECT_EQ(data.slides()[1].downsample, 1.0);
  EXPECT_EQ(data.slides()[1].tissueLevel, 2);
  EXPECT_EQ(data.slides()[1].tissuePixels, 128 * 192);
  // The left half is tissue: tiles at x 0 and 256, y 0, 256, 512, per slide.
  ASSERT_EQ(data.size(), 12);
  EXPECT_EQ(data.slides()[1].tiles, 6);
  CamelyonTile t = data.tile(7);
  EXPECT_EQ(t.slide, 1);
  EXPECT_EQ(t.x, 256);
  EXPECT_EQ(t.y, 0);
  for (int64_t i = 0; i < data.size(); ++i) {
    CamelyonTile tile = data.tile(i);
    auto sample = data.load(i);
    ASSERT_TRUE(sample.ok()) << sample.error();
    ASSERT_EQ(sample->image.height, 256);
    ASSERT_EQ(sample->image.channels, 3);
    ASSERT_EQ(sample->mask.width, 256);
    ASSERT_EQ(sample->mask.channels, 1);
    int64_t wrong = 0;
    for (int64_t y = 0; y < 256; ++y)
      for (int64_t x = 0; x < 256; ++x)
        for (int c = 0; c < 3; ++c)
          wrong += sample->image.at(y, x, c) != slidePixels()[0].at(tile.y + y, tile.x + x, c);
    EXPECT_EQ(wrong, 0) << "tile " << i;
    const std::vector<Poly> none;
    Image want = expectedMask(tile.slide == 1 ? lesions() : none, 1, tile.x, tile.y, 256, true, 2);
    EXPECT_EQ(mismatches(sample->mask, want), 0) << "tile " << i;
    EXPECT_CONTAINS(sample->source, "(level 0, tile at x " + std::to_string(tile.x));
  }
  auto first = data.load(6); // tumour.tif at (0, 0)
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->mask.at(150, 150), 1);
  EXPECT_EQ(first->mask.at(250, 250), kVoidLabel);
  EXPECT_EQ(first->mask.at(50, 50), 0);
  EXPECT_EQ(first->mask.at(150, 99), 0); // centre 99.5 is left of x = 100
  EXPECT_EQ(first->mask.at(150, 100), 1);
  EXPECT_EQ(first->mask.at(200, 199), 1);
  EXPECT_EQ(first->mask.at(200, 200), kVoidLabel);
  auto corner = data.load(9); // tumour.tif at (256, 256): the square ends at 400
  ASSERT_TRUE(corner.ok());
  EXPECT_EQ(corner->mask.at(143, 143), 1);
  EXPECT_EQ(corner->mask.at(143, 144), 0);
  EXPECT_EQ(corner->mask.at(144, 143), 0);
  EXPECT_FALSE(data.load(12).ok());
  EXPECT_CONTAINS(data.load(-1).error(), "tile -1 is out of range (the split has 12)");
}

TEST(Camelyon, TissueRuleCountsTiles) {
  TempDir dir;
  writeDataSet(dir);
  CamelyonOptions o;
  o.stride = 128; // origins x 0..768 (7), y 0..512 (5); x 384 is half tissue
  auto half = openCamelyon16Tiles(dir.path(), "train", o);
  ASSERT_TRUE(half.ok()) << half.error();
  EXPECT_EQ((*half)->slides()[0].tissueLevel, 0);
  EXPECT_EQ((*half)->size(), 2 * 4 * 5);
  o.minTissue = 0.6;
  auto more = openCamelyon16Tiles(dir.path(), "train", o);
  ASSERT_TRUE(more.ok()) << more.error();
  EXPECT_EQ((*more)->size(), 2 * 3 * 5);
  o.minTissue = 0;
  o.tissueMaxSide = 600; // level 1
  auto all = openCamelyon16Tiles(dir.path(), "train", o);
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_EQ((*all)->size(), 2 * 7 * 5);
  EXPECT_EQ((*all)->slides()[1].tissueLevel, 1);
  // Glass is void in the mask unless asked otherwise; tumour stays tumour.
  int64_t glass = -1, edge = -1, spill = -1;
  for (int64_t i = 0; i < (*all)->size(); ++i) {
    CamelyonTile t = (*all)->tile(i);
    if (t.slide == 1 && t.x == 768 && t.y == 0)
      glass = i;
    if (t.slide == 1 && t.x == 384 && t.y == 0)
      edge = i;
    if (t.slide == 1 && t.x == 384 && t.y == 384)
      spill = i;
  }
  auto g = (*all)->load(glass);
  ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(std::count(g->mask.pixels.begin(), g->mask.pixels.end(), kVoidLabel), 256 * 256);
  auto e = (*all)->load(edge);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->mask.at(10, 127), 0);          // x 511: tissue, outside the lesions
  EXPECT_EQ(e->mask.at(10, 128), kVoidLabel); // x 512: glass
  auto s = (*all)->load(spill);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(mismatches(s->mask, expectedMask(lesions(), 1, 384, 384, 256, true, 1)), 0);
  EXPECT_EQ(s->mask.at(130, 200), 1); // (584, 514): inside the triangle, on glass
  o.nonTissueVoid = false;
  auto kept = openCamelyon16Tiles(dir.path(), "train", o);
  ASSERT_TRUE(kept.ok());
  auto k = (*kept)->load(glass);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(std::count(k->mask.pixels.begin(), k->mask.pixels.end(), 0), 256 * 256);
}

TEST(Camelyon, MasksAtReducedLevelsMatchTheRule) {
  TempDir dir;
  writeDataSet(dir);
  for (int level : {1, 2})
    for (int64_t tissueMaxSide : {2048, 600, 300}) {
      CamelyonOptions o;
      o.level = level;
      o.tileSize = level == 1 ? 96 : 64;
      o.stride = 40;
      o.minTissue = 0.25;
      o.tissueMaxSide = tissueMaxSide;
      auto opened = openCamelyon16Tiles(dir.path(), "train", o);
      ASSERT_TRUE(opened.ok()) << opened.error();
      const CamelyonSource &data = **opened;
      int tissueLevel = data.slides()[1].tissueLevel;
      EXPECT_EQ(data.slides()[1].downsample, double(1 << level));
      ASSERT_GT(data.size(), 0);
      for (int64_t i = 0; i < data.size(); ++i) {
        CamelyonTile t = data.tile(i);
        if (t.slide != 1)
          continue;
        auto sample = data.load(i);
        ASSERT_TRUE(sample.ok()) << sample.error();
        Image want = expectedMask(lesions(), 1 << level, t.x, t.y, o.tileSize, true, tissueLevel);
        EXPECT_EQ(mismatches(sample->mask, want), 0) << "level " << level << " tile " << i;
        EXPECT_EQ(sample->image.at(5, 7, 1), slidePixels()[level].at(t.y + 5, t.x + 7, 1));
      }
    }
}

TEST(Camelyon, SplitLists) {
  TempDir dir;
  writeDataSet(dir);
  writeBytes(dir.file("test.txt"), "# held out\ntumour.tif\n\n");
  auto train = openCamelyon16Tiles(dir.path(), "train");
  ASSERT_TRUE(train.ok()) << train.error();
  ASSERT_EQ((*train)->slides().size(), 1u);
  EXPECT_EQ((*train)->slides()[0].stem, "normal");
  auto test = openCamelyon16Tiles(dir.path(), "test");
  ASSERT_TRUE(test.ok()) << test.error();
  EXPECT_EQ((*test)->slides()[0].stem, "tumour");
  EXPECT_CONTAINS(openError(dir, {}, "val"), dir.file("val.txt") + ": no such file");
  EXPECT_CONTAINS(openError(dir, {}, "dev"), "unknown split 'dev' (expected train, val or test)");
  writeBytes(dir.file("val.txt"), "normal\nmissing\n");
  EXPECT_CONTAINS(openError(dir, {}, "val"), dir.file("val.txt") + ":2: no slide " + dir.file("images/missing.tif"));
  writeBytes(dir.file("val.txt"), "normal\nnormal.tif\n");
  EXPECT_CONTAINS(openError(dir, {}, "val"), dir.file("val.txt") + ":2: slide normal is listed twice");
}

// The layout CAMELYON16 is published in: training/{normal,tumor},
// testing/images, and lesion_annotations beside each.
TEST(Camelyon, ReadsThePublishedLayout) {
  TempDir dir;
  namespace fs = std::filesystem;
  for (const char *d : {"training/normal", "training/tumor", "training/lesion_annotations", "testing/images",
                        "testing/lesion_annotations"})
    fs::create_directories(dir.file(d));
  writeSlide(dir.file("training/tumor/tumor_001.tif"));
  fs::copy_file(dir.file("training/tumor/tumor_001.tif"), dir.file("training/normal/normal_001.tif"));
  fs::copy_file(dir.file("training/tumor/tumor_001.tif"), dir.file("testing/images/test_001.tif"));
  writeBytes(dir.file("training/lesion_annotations/tumor_001.xml"), asapXml(lesions()));
  writeBytes(dir.file("testing/lesion_annotations/test_001.xml"), asapXml(lesions()));
  auto train = openCamelyon16Tiles(dir.path(), "train");
  ASSERT_TRUE(train.ok()) << train.error();
  ASSERT_EQ((*train)->slides().size(), 2u);
  EXPECT_EQ((*train)->slides()[0].stem, "normal_001");
  EXPECT_TRUE((*train)->slides()[0].annotationPath.empty());
  EXPECT_EQ((*train)->slides()[1].annotationPath, dir.file("training/lesion_annotations/tumor_001.xml"));
  auto test = openCamelyon16Tiles(dir.path(), "test");
  ASSERT_TRUE(test.ok()) << test.error();
  ASSERT_EQ((*test)->slides().size(), 1u);
  EXPECT_EQ((*test)->slides()[0].annotationPath, dir.file("testing/lesion_annotations/test_001.xml"));
  // the same tiles and masks as the flat layout's tumour slide
  TempDir flat;
  writeDataSet(flat);
  auto same = openCamelyon16Tiles(flat.path(), "train");
  ASSERT_TRUE(same.ok()) << same.error();
  ASSERT_EQ((*test)->size(), (*same)->slides()[1].tiles);
  // a validation split is carved by a list, and leaves training
  writeBytes(dir.file("val.txt"), "normal_001\n");
  train = openCamelyon16Tiles(dir.path(), "train");
  ASSERT_TRUE(train.ok()) << train.error();
  ASSERT_EQ((*train)->slides().size(), 1u);
  EXPECT_EQ((*train)->slides()[0].stem, "tumor_001");
  writeBytes(dir.file("val.txt"), "normal_002\n");
  EXPECT_CONTAINS(openError(dir, {}, "val"), "val.txt:1: no slide " + dir.file("training/tumor/normal_002.tif") +
                                                 " (nor in " + dir.file("training/normal") + ")");
}

TEST(Camelyon, LoadsFromManyThreads) {
  TempDir dir;
  writeDataSet(dir);
  CamelyonOptions o;
  o.tileSize = 128;
  auto opened = openCamelyon16Tiles(dir.path(), "train", o);
  ASSERT_TRUE(opened.ok()) << opened.error();
  const CamelyonSource &data = **opened;
  std::vector<Sample> once;
  for (int64_t i = 0; i < data.size(); ++i)
    once.push_back(*data.load(i));
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round)
        for (int64_t i = (t + round) % 4; i < data.size(); i += 4) {
          auto s = data.load(i);
          bad[t] += !s.ok() || s->image.pixels != once[i].image.pixels || s->mask.pixels != once[i].mask.pixels;
        }
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST(Camelyon, BadAnnotationsAndSlides) {
  TempDir dir;
  writeDataSet(dir);
  const std::string xml = dir.file("annotations/tumour.xml");
  writeBytes(xml, "<ASAP_Annotations>\n<Annotations>\n<Annotation Name=\"t\" Type=\"Polygon\" PartOfGroup=\"_0\">\n"
                  "<Coordinates>\n  <Coordinate Order=\"0\" Y=\"4\"/>\n");
  EXPECT_CONTAINS(openError(dir), xml + ":6:1: Premature end of data in tag Coordinates line 4");
  writeBytes(xml, "<ASAP_Annotations>\n<Annotations>\n<Annotation Name=\"t\" Type=\"Polygon\" PartOfGroup=\"_0\">\n"
                  "<Coordinates>\n  <Coordinate Order=\"0\" Y=\"4\"/>\n</Coordinates></Annotation></Annotations>"
                  "</ASAP_Annotations>");
  EXPECT_EQ(openError(dir), xml + ":5:3: <Coordinate> has no X attribute");
  writeBytes(xml, asapXml(lesions()));

  const std::string tif = dir.file("images/normal.tif");
  const std::string good = readBytes(tif);
  writeBytes(tif, "GIF89a not a slide at all");
  EXPECT_EQ(openError(dir), tif + ": byte 0: 47 49 46 38 is not a TIFF header (II*\\0 or MM\\0*)");
  writeBytes(tif, "II");
  EXPECT_EQ(openError(dir), tif + ": byte 2: file ends inside the TIFF header (not a TIFF file)");
  writeBytes(tif, good.substr(0, good.size() / 3));
  EXPECT_CONTAINS(openError(dir), tif + ": OpenSlide cannot read this TIFF as a slide");
  // Any cut is an error at open or at load, naming the slide.
  int failed = 0;
  for (double cut : {0.1, 0.5, 0.75, 0.9, 0.97, 0.99, 0.999}) {
    writeBytes(tif, good.substr(0, static_cast<size_t>(good.size() * cut)));
    auto opened = openCamelyon16(dir.path(), "train", {});
    if (!opened.ok()) {
      EXPECT_CONTAINS(opened.error(), tif);
      ++failed;
      continue;
    }
    for (int64_t i = 0; i < (*opened)->size(); ++i) {
      auto s = (*opened)->load(i);
      if (!s.ok()) {
        EXPECT_CONTAINS(s.error(), "OpenSlide");
        ++failed;
        break;
      }
    }
  }
  EXPECT_GT(failed, 0);

  // Damaged tile data opens (the directories are intact) and fails to load.
  writeBytes(tif, good);
  {
    TIFF *t = TIFFOpen(tif.c_str(), "r");
    ASSERT_TRUE(t);
    uint64_t *offsets = nullptr;
    ASSERT_TRUE(TIFFGetField(t, TIFFTAG_TILEOFFSETS, &offsets));
    uint64_t first = offsets[0];
    TIFFClose(t);
    std::string damaged = good;
    for (size_t k = 0; k < 64; ++k)
      damaged[first + k] = static_cast<char>(0xA5);
    writeBytes(tif, damaged);
  }
  CamelyonOptions small;
  small.tissueMaxSide = 300; // the tissue map (level 2) is intact
  auto opened = openCamelyon16Tiles(dir.path(), "train", small);
  ASSERT_TRUE(opened.ok()) << opened.error();
  auto broken = (*opened)->load(0); // normal.tif at (0, 0): the damaged tile
  ASSERT_FALSE(broken.ok());
  EXPECT_CONTAINS(broken.error(), tif + ": OpenSlide: reading level 0 at (0, 0), 256x256: ");
  writeBytes(tif, good);

  CamelyonOptions o;
  o.level = 3;
  EXPECT_CONTAINS(openError(dir, o), tif + ": level 3 asked for, but the slide has 3 (0..2)");
  o.level = 0;
  o.minTissue = 1.5;
  EXPECT_CONTAINS(openError(dir, o), "minimum tissue fraction 1.500000 is not in [0, 1]");
  o.minTissue = 1;
  o.saturationThreshold = 0.9; // nothing is tissue
  EXPECT_CONTAINS(openError(dir, o), "no tile of 256 pixels at level 0 holds at least 1.000000 tissue in 2 slides");
  std::filesystem::remove_all(dir.file("images"));
  EXPECT_CONTAINS(openError(dir), dir.file("images") + ": no such directory");
}

TEST(Camelyon, LevelsSmallerThanATiffTileAreNotUsed) {
  TempDir dir;
  writeDataSet(dir, 256); // level 2 (256x192) is shorter than its 256x256 tile
  CamelyonOptions o;
  o.tissueMaxSide = 300;
  auto opened = openCamelyon16Tiles(dir.path(), "train", o);
  ASSERT_TRUE(opened.ok()) << opened.error();
  EXPECT_EQ((*opened)->slides()[0].tissueLevel, 1);
  EXPECT_EQ((*opened)->size(), 12);
  o.level = 2;
  o.tileSize = 64;
  EXPECT_CONTAINS(openError(dir, o), "level 2 (256x192) is smaller than one TIFF tile");
}

