//===- MakeScenesTest.cpp - pce-make-scenes writes a VOC tree VOC readers take
//
// makeScenes is run in-process on the real Fashion-MNIST files (skipped
// where Debian's dataset-fashion-mnist is not installed); the tree is read
// back only through openVoc, as any VOC data set would be, and checked
// against an independent rendering of the labels from scenes.txt (which
// item, where, how large) and Fashion-MNIST itself.
//
//===----------------------------------------------------------------------===//

#include "tools/pce-make-scenes/Scenes.h"

#include "runtime/Idx.h"
#include "runtime/datasets/Voc.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

using namespace pce;
using namespace pce::rt;
using namespace pce::rt::test;

namespace {

namespace fs = std::filesystem;

const char *kFashion = "/usr/share/datasets/fashion-mnist";

bool haveFashionMnist() {
  for (const char *name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"})
    if (!findIdxFile(kFashion, name))
      return false;
  return true;
}

// One line of scenes.txt.
struct Placed {
  std::string split, file, cls;
  int64_t item = 0, x = 0, y = 0, side = 0;
  int r = 0, g = 0, b = 0;
  int64_t xmin = 0, ymin = 0, xmax = 0, ymax = 0;
  int difficult = 0;
};

std::map<std::string, std::vector<Placed>> readLayout(const std::string &path) {
  std::map<std::string, std::vector<Placed>> layout;
  std::istringstream in(readBytes(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream f(line);
    std::string id, rgb;
    Placed p;
    f >> id >> p.split >> p.file >> p.item >> p.cls >> p.x >> p.y >> p.side >> rgb >> p.xmin >> p.ymin >> p.xmax >>
        p.ymax >> p.difficult;
    EXPECT_FALSE(f.fail()) << line;
    EXPECT_EQ(std::sscanf(rgb.c_str(), "%d,%d,%d", &p.r, &p.g, &p.b), 3) << line;
    layout[id].push_back(p);
  }
  return layout;
}

// The 8-neighbourhood void band, written out separately from the generator's.
std::vector<uint8_t> withVoidBand(const std::vector<uint8_t> &labels, int64_t S) {
  std::vector<uint8_t> out = labels;
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x)
      for (int64_t yy = std::max<int64_t>(y - 1, 0); yy <= std::min(y + 1, S - 1); ++yy)
        for (int64_t xx = std::max<int64_t>(x - 1, 0); xx <= std::min(x + 1, S - 1); ++xx)
          if (labels[size_t(yy * S + xx)] != labels[size_t(y * S + x)])
            out[size_t(y * S + x)] = kVoidLabel;
  return out;
}

// Item `p` resized: the sampling rule Scenes.h documents, computed here.
std::vector<double> resized(const IdxArray &images, const Placed &p) {
  const uint8_t *src = images.u8() + p.item * 784;
  std::vector<double> v(size_t(p.side * p.side));
  auto coord = [&](int64_t d, int64_t &lo, int64_t &hi, double &w) {
    double s = std::clamp((double(d) + 0.5) * 28.0 / double(p.side) - 0.5, 0.0, 27.0);
    lo = int64_t(std::floor(s));
    hi = std::min<int64_t>(lo + 1, 27);
    w = s - double(lo);
  };
  for (int64_t y = 0; y < p.side; ++y)
    for (int64_t x = 0; x < p.side; ++x) {
      int64_t y0, y1, x0, x1;
      double wy, wx;
      coord(y, y0, y1, wy);
      coord(x, x0, x1, wx);
      double top = src[y0 * 28 + x0] * (1 - wx) + src[y0 * 28 + x1] * wx;
      double bottom = src[y1 * 28 + x0] * (1 - wx) + src[y1 * 28 + x1] * wx;
      v[size_t(y * p.side + x)] = top * (1 - wy) + bottom * wy;
    }
  return v;
}

std::map<std::string, std::string> filesUnder(const std::string &root) {
  std::map<std::string, std::string> files;
  for (const auto &e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file())
      files[fs::relative(e.path(), root).string()] = readBytes(e.path().string());
  return files;
}

class MakeScenes : public ::testing::Test {
protected:
  void SetUp() override {
    if (!haveFashionMnist())
      GTEST_SKIP() << "Fashion-MNIST not installed at " << kFashion << " (Debian: dataset-fashion-mnist)";
  }
  SceneOptions options(const std::string &out) {
    SceneOptions o;
    o.out = out;
    o.images = 40;
    o.size = 96;
    o.seed = 20240611;
    return o;
  }
  TempDir dir_;
};

} // namespace

TEST_F(MakeScenes, VocReaderReadsEverySplit) {
  SceneOptions o = options(dir_.file("voc"));
  Status made = makeScenes(o);
  ASSERT_TRUE(made) << made.message();
  const std::map<std::string, int64_t> sizes = {{"train", 32}, {"val", 4}, {"test", 4}, {"trainval", 36}};
  for (const auto &[split, n] : sizes) {
    auto det = openVoc(o.out, split, Task::Detection);
    ASSERT_TRUE(det) << det.error();
    EXPECT_EQ((*det)->size(), n) << split;
    EXPECT_EQ((*det)->classes(), sceneClassNames());
    auto seg = openVoc(o.out, split, Task::Segmentation);
    ASSERT_TRUE(seg) << seg.error();
    EXPECT_EQ((*seg)->size(), n) << split;
    ASSERT_EQ((*seg)->classes().size(), 11u);
    EXPECT_EQ((*seg)->classes()[0], "background");
    EXPECT_EQ((*seg)->classes()[1], "ankle_boot");
    for (int64_t i = 0; i < n; ++i) {
      auto d = (*det)->load(i);
      ASSERT_TRUE(d) << d.error();
      auto s = (*seg)->load(i);
      ASSERT_TRUE(s) << s.error();
      EXPECT_EQ(d->image.pixels, s->image.pixels);
      EXPECT_EQ(d->image.width, 96);
      EXPECT_EQ(d->image.channels, 3);
      EXPECT_FALSE(d->boxes.empty());
      for (const Box &b : d->boxes) {
        EXPECT_TRUE(b.xmin >= 0 && b.xmin < b.xmax && b.xmax <= 96 && b.ymin >= 0 && b.ymin < b.ymax && b.ymax <= 96);
        EXPECT_FALSE(b.truncated);
      }
      // Every object pixel lies in a box of its class.
      for (int64_t y = 0; y < 96; ++y)
        for (int64_t x = 0; x < 96; ++x) {
          uint8_t v = s->mask.at(y, x);
          if (v == 0 || v == kVoidLabel)
            continue;
          bool inside = false;
          for (const Box &b : d->boxes)
            inside |= b.label == v - 1 && x >= b.xmin && x < b.xmax && y >= b.ymin && y < b.ymax;
          EXPECT_TRUE(inside) << split << " " << i << ": pixel (" << x << "," << y << ") of class " << int(v);
        }
    }
  }
}

TEST_F(MakeScenes, MasksBoxesAndFlagsMatchAnIndependentRendering) {
  SceneOptions o = options(dir_.file("voc"));
  Status made = makeScenes(o);
  ASSERT_TRUE(made) << made.message();
  auto train = readIdx(*findIdxFile(kFashion, "train-images-idx3-ubyte"));
  auto t10k = readIdx(*findIdxFile(kFashion, "t10k-images-idx3-ubyte"));
  auto trainLabels = readIdx(*findIdxFile(kFashion, "train-labels-idx1-ubyte"));
  auto t10kLabels = readIdx(*findIdxFile(kFashion, "t10k-labels-idx1-ubyte"));
  ASSERT_TRUE(train && t10k && trainLabels && t10kLabels);
  const auto layout = readLayout(o.out + "/scenes.txt");
  auto det = openVoc(o.out, "trainval", Task::Detection);
  ASSERT_TRUE(det) << det.error();
  auto testDet = openVoc(o.out, "test", Task::Detection);
  ASSERT_TRUE(testDet) << testDet.error();
  auto seg = openVoc(o.out, "trainval", Task::Segmentation);
  auto testSeg = openVoc(o.out, "test", Task::Segmentation);
  ASSERT_TRUE(seg && testSeg);
  const int64_t S = 96;
  int64_t objects = 0, difficult = 0, checkedColours = 0;
  for (int64_t k = 0; k < 40; ++k) {
    char id[8];
    std::snprintf(id, sizeof id, "%06lld", static_cast<long long>(k + 1));
    const bool isTest = k >= 36;
    const DataSource &d = isTest ? **testDet : **det;
    const DataSource &m = isTest ? **testSeg : **seg;
    auto ds = d.load(isTest ? k - 36 : k);
    auto ms = m.load(isTest ? k - 36 : k);
    ASSERT_TRUE(ds && ms);
    EXPECT_EQ(ds->source, o.out + "/JPEGImages/" + id + ".jpg");
    ASSERT_TRUE(layout.count(id)) << id;
    const std::vector<Placed> &placed = layout.at(id);
    ASSERT_EQ(placed.size(), ds->boxes.size()) << id;
    std::vector<uint8_t> labels(size_t(S * S), 0);
    std::vector<int> owner(size_t(S * S), -1);
    std::vector<bool> unsure(size_t(S * S), false); // within rounding of the threshold
    std::vector<std::vector<double>> values;
    std::vector<int64_t> pixels(placed.size(), 0), visible(placed.size(), 0);
    for (size_t i = 0; i < placed.size(); ++i) {
      const Placed &p = placed[i];
      // Test scenes show only items of the test file.
      EXPECT_EQ(p.split, isTest ? "test" : k < 32 ? "train" : "val");
      EXPECT_EQ(p.file.rfind(isTest ? "t10k-images" : "train-images", 0), 0u) << p.file;
      const IdxArray &images = isTest ? *t10k : *train;
      const IdxArray &classes = isTest ? *t10kLabels : *trainLabels;
      EXPECT_EQ(sceneClassNames()[size_t(sceneClassOfFashionLabel(classes.u8()[p.item]))], p.cls);
      EXPECT_TRUE(p.x >= 0 && p.y >= 0 && p.x + p.side <= S && p.y + p.side <= S && p.side >= 16 && p.side <= 48);
      values.push_back(resized(images, p));
      const std::vector<double> &v = values.back();
      const double threshold = 0.1 * *std::max_element(v.begin(), v.end());
      const auto &names = sceneClassNames();
      const int64_t cls = std::find(names.begin(), names.end(), p.cls) - names.begin();
      int64_t x0 = S, y0 = S, x1 = 0, y1 = 0;
      for (int64_t y = 0; y < p.side; ++y)
        for (int64_t x = 0; x < p.side; ++x) {
          double value = v[size_t(y * p.side + x)];
          size_t q = size_t((p.y + y) * S + p.x + x);
          if (std::abs(value - threshold) < 1e-6)
            unsure[q] = true;
          if (value > threshold) {
            labels[q] = uint8_t(cls + 1);
            owner[q] = int(i);
            ++pixels[i];
            x0 = std::min(x0, p.x + x), y0 = std::min(y0, p.y + y);
            x1 = std::max(x1, p.x + x + 1), y1 = std::max(y1, p.y + y + 1);
          }
        }
      // The XML's box (read through openVoc) is the tight box of the item's pixels.
      const Box &b = ds->boxes[i];
      EXPECT_EQ(b.label, cls) << id << " object " << i;
      EXPECT_EQ(b.xmin, x0) << id << " object " << i;
      EXPECT_EQ(b.ymin, y0) << id << " object " << i;
      EXPECT_EQ(b.xmax, x1) << id << " object " << i;
      EXPECT_EQ(b.ymax, y1) << id << " object " << i;
    }
    for (int w : owner)
      if (w >= 0)
        ++visible[size_t(w)];
    for (size_t i = 0; i < placed.size(); ++i) {
      const Box &b = ds->boxes[i];
      bool expectDifficult = std::min(b.xmax - b.xmin, b.ymax - b.ymin) < 12 || visible[i] * 2 < pixels[i];
      EXPECT_EQ(ds->boxes[i].difficult, expectDifficult) << id << " object " << i;
      EXPECT_EQ(placed[i].difficult, expectDifficult ? 1 : 0);
      ++objects;
      difficult += expectDifficult;
      // Where the item is opaque and on top, the JPEG shows its colour (the
      // luma closely; chroma is subsampled, so less so).
      double err = 0, lumaErr = 0;
      int64_t n = 0;
      const Placed &p = placed[i];
      for (int64_t y = 0; y < p.side; ++y)
        for (int64_t x = 0; x < p.side; ++x) {
          size_t q = size_t((p.y + y) * S + p.x + x);
          if (values[i][size_t(y * p.side + x)] < 0.97 * 255 || owner[q] != int(i) || ms->mask.pixels[q] == kVoidLabel)
            continue;
          const uint8_t *px = &ds->image.pixels[q * 3];
          for (int c = 0; c < 3; ++c)
            err += std::abs(double(px[c]) - double(c == 0 ? p.r : c == 1 ? p.g : p.b));
          lumaErr += std::abs(0.299 * (px[0] - p.r) + 0.587 * (px[1] - p.g) + 0.114 * (px[2] - p.b));
          ++n;
        }
      if (n >= 10) {
        EXPECT_LT(lumaErr / double(n), 12) << id << " object " << i;
        EXPECT_LT(err / double(3 * n), 40) << id << " object " << i;
        ++checkedColours;
      }
    }
    // The mask is the rendering with its void band, but for threshold ties.
    std::vector<uint8_t> expected = withVoidBand(labels, S);
    int64_t mismatches = 0;
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        bool tie = false;
        for (int64_t yy = std::max<int64_t>(y - 2, 0); yy <= std::min(y + 2, S - 1); ++yy)
          for (int64_t xx = std::max<int64_t>(x - 2, 0); xx <= std::min(x + 2, S - 1); ++xx)
            tie |= unsure[size_t(yy * S + xx)];
        if (!tie && ms->mask.at(y, x) != expected[size_t(y * S + x)])
          ++mismatches;
      }
    EXPECT_EQ(mismatches, 0) << id;
  }
  EXPECT_GT(objects, 40);
  EXPECT_GE(checkedColours, 3); // items bright enough to show their colour plainly
  EXPECT_LT(difficult, objects);
}

TEST_F(MakeScenes, PerClassListsFollowVocsFormat) {
  SceneOptions o = options(dir_.file("voc"));
  Status made = makeScenes(o);
  ASSERT_TRUE(made) << made.message();
  auto det = openVoc(o.out, "val", Task::Detection);
  ASSERT_TRUE(det) << det.error();
  const std::string ids = readBytes(o.out + "/ImageSets/Main/val.txt");
  EXPECT_EQ(ids, "000033\n000034\n000035\n000036\n");
  EXPECT_EQ(readBytes(o.out + "/ImageSets/Segmentation/val.txt"), ids);
  for (size_t c = 0; c < sceneClassNames().size(); ++c) {
    std::string expected;
    for (int64_t i = 0; i < 4; ++i) {
      auto s = (*det)->load(i);
      ASSERT_TRUE(s) << s.error();
      int flag = -1;
      for (const Box &b : s->boxes)
        if (b.label == int64_t(c))
          flag = std::max(flag, b.difficult ? 0 : 1);
      expected += "00003" + std::to_string(3 + i) + (flag == -1 ? " -1\n" : flag == 0 ? "  0\n" : "  1\n");
    }
    EXPECT_EQ(readBytes(o.out + "/ImageSets/Main/" + sceneClassNames()[c] + "_val.txt"), expected);
  }
  const std::string xml = readBytes(o.out + "/Annotations/000001.xml");
  EXPECT_EQ(xml.rfind("<annotation>\n\t<folder>", 0), 0u);
  EXPECT_CONTAINS(xml, "\t<filename>000001.jpg</filename>\n");
  EXPECT_CONTAINS(xml, "\t\t<depth>3</depth>\n");
  EXPECT_CONTAINS(xml, "\t<segmented>1</segmented>\n");
  EXPECT_CONTAINS(xml, "\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>");
}

TEST_F(MakeScenes, SameOptionsSameBytes) {
  SceneOptions a = options(dir_.file("a")), b = options(dir_.file("b")), c = options(dir_.file("c"));
  c.seed += 1;
  ASSERT_TRUE(makeScenes(a));
  ASSERT_TRUE(makeScenes(b));
  ASSERT_TRUE(makeScenes(c));
  auto fa = filesUnder(a.out), fb = filesUnder(b.out), fc = filesUnder(c.out);
  EXPECT_EQ(fa.size(), 3u * 40u + 4u * 2u + 4u * 10u + 1u);
  EXPECT_TRUE(fa == fb);
  for (const auto &[name, bytes] : fa)
    EXPECT_EQ(bytes, fb[name]) << name;
  EXPECT_NE(fa["JPEGImages/000001.jpg"], fc["JPEGImages/000001.jpg"]);
  // --force replaces the tree (a smaller one leaves nothing of the larger behind).
  a.images = 10;
  Status refused = makeScenes(a);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.message(), a.out + ": directory is not empty (pass --force to replace the VOC tree in it)");
  a.force = true;
  Status forced = makeScenes(a);
  ASSERT_TRUE(forced) << forced.message();
  EXPECT_FALSE(fs::exists(a.out + "/JPEGImages/000011.jpg"));
  auto det = openVoc(a.out, "trainval", Task::Detection);
  ASSERT_TRUE(det) << det.error();
  EXPECT_EQ((*det)->size(), 9);
}

TEST_F(MakeScenes, BadOptionsAreErrors) {
  auto error = [&](SceneOptions o) {
    Status s = makeScenes(o);
    return s ? std::string() : s.message();
  };
  SceneOptions o = options(dir_.file("x"));
  o.fashionMnist = dir_.file("nowhere");
  EXPECT_CONTAINS(error(o), "Fashion-MNIST directory " + dir_.file("nowhere") + " not found");
  fs::create_directories(dir_.file("empty"));
  o.fashionMnist = dir_.file("empty");
  EXPECT_CONTAINS(error(o), dir_.file("empty") + "/train-images-idx3-ubyte");
  o = options(dir_.file("x"));
  o.size = 16;
  EXPECT_EQ(error(o), "--size 16: a scene side in [32, 4096] pixels");
  o = options(dir_.file("x"));
  o.images = 9;
  EXPECT_CONTAINS(error(o), "--images 9: a count in [10, 10000000]");
  o = options(dir_.file("x"));
  o.minItems = 3;
  o.maxItems = 2;
  EXPECT_CONTAINS(error(o), "--items 3:2");
  o = options(dir_.file("file"));
  test::writeBytes(o.out, "x");
  EXPECT_EQ(error(o), o.out + ": exists and is not a directory");
  EXPECT_FALSE(fs::exists(dir_.file("x")));
}

#ifdef PCE_MAKE_SCENES_EXE
TEST_F(MakeScenes, CommandLine) {
  std::string out;
  const std::string exe = shellQuote(PCE_MAKE_SCENES_EXE);
  const std::string dir = dir_.file("cli");
  EXPECT_EQ(runCommand(exe + " --out " + shellQuote(dir) + " --images 12 --size 32 --seed 3 --items 2:3", &out), 0)
      << out;
  EXPECT_CONTAINS(out, "wrote 12 scenes of 32x32");
  EXPECT_TRUE(openVoc(dir, "test", Task::Segmentation));
  EXPECT_EQ(runCommand(exe + " --out " + shellQuote(dir) + " --images 12 --size 32 --seed 3", &out), 1);
  EXPECT_CONTAINS(out, "pce-make-scenes: error: " + dir + ": directory is not empty");
  EXPECT_EQ(runCommand(exe + " --out " + shellQuote(dir) + " --images 12 --size 32 --seed 3 --force", &out), 0) << out;
  EXPECT_EQ(runCommand(exe + " --out x --images 5 --size 32 --seed 3", &out), 2);
  EXPECT_CONTAINS(out, "option '--images' needs a count of at least 10, found '5'");
  EXPECT_EQ(runCommand(exe + " --out x --images 10 --size 31 --seed 3", &out), 2);
  EXPECT_CONTAINS(out, "option '--size' needs a side in [32, 4096] pixels, found '31'");
  EXPECT_EQ(runCommand(exe + " --out x --images 10 --size 32", &out), 2);
  EXPECT_CONTAINS(out, "missing --seed");
  EXPECT_EQ(runCommand(exe + " --out x --images 10 --size 32 --seed 1 --items 4", &out), 2);
  EXPECT_CONTAINS(out, "option '--items' needs MIN:MAX");
  EXPECT_EQ(runCommand(exe + " --out x --images 10 --size 32 --seed 1 --max-overlap 1.5", &out), 2);
  EXPECT_CONTAINS(out, "option '--max-overlap' needs an IoU in [0, 1], found '1.5'");
  EXPECT_EQ(runCommand(exe + " --out " + shellQuote(dir_.file("c2")) +
                           " --images 10 --size 32 --seed 1 --fashion-mnist /nonexistent",
                       &out),
            1);
  EXPECT_CONTAINS(out, "Fashion-MNIST directory /nonexistent not found");
  EXPECT_EQ(runCommand(exe + " --help", &out), 0);
  EXPECT_CONTAINS(out, "usage: pce-make-scenes");
}
#endif
