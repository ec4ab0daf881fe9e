//===- TinyImageNetTest.cpp - Tiny-ImageNet-200 in its published layout ---===//
//
// A small tree written here as the distribution lays it out (wnids.txt,
// words.txt, per-class image folders and box files, val/ with its
// annotations), JPEGs through libjpeg; then each way the index can lie.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/TinyImageNet.h"

#include "runtime/datasets/ImageCodec.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace pce::rt;
using namespace pce::rt::test;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kWnids = {"n01443537", "n01629819", "n02085620"};

void writeText(const fs::path &p, const std::string &text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

void writeJpeg(const fs::path &p, const Image &img) {
  auto bytes = encodeJpeg(img, 98);
  fs::create_directories(p.parent_path());
  if (!bytes || !pce::rt::writeBytes(p.string(), *bytes))
    throw std::runtime_error("cannot write " + p.string());
}

// A flat image whose colour encodes (class, k), so a test can tell which file was decoded.
Image marked(int64_t c, int64_t k, int64_t channels) {
  Image img(kTinyImageNetSide, kTinyImageNetSide, channels);
  for (int64_t i = 0; i < int64_t(img.pixels.size()); ++i)
    img.pixels[size_t(i)] = uint8_t(40 * c + 10 * k + 20 * (i % channels));
  return img;
}

struct Fixture {
  TempDir dir;
  fs::path root() const { return fs::path(dir.path()) / "tiny-imagenet-200"; }

  Fixture() {
    writeText(root() / "wnids.txt", kWnids[0] + "\n" + kWnids[1] + "\r\n" + kWnids[2] + "\n\n");
    writeText(root() / "words.txt", "n00001740\tentity\n" + kWnids[0] + "\tgoldfish, Carassius auratus\n" +
                                        kWnids[1] + "\tEuropean fire salamander, Salamandra salamandra\n");
    for (size_t c = 0; c < kWnids.size(); ++c) {
      const fs::path d = root() / "train" / kWnids[c];
      std::string boxes;
      for (int k = 0; k < 2; ++k) {
        std::string name = kWnids[c] + "_" + std::to_string(k) + ".JPEG";
        // class 1's second image is grayscale, as some of the real ones are
        Image img = marked(int64_t(c), k, c == 1 && k == 1 ? 1 : 3);
        fs::create_directories(d / "images");
        writeJpeg(d / "images" / name, img);
        boxes += name + "\t" + std::to_string(k) + "\t2\t" + std::to_string(60 + k) + "\t63\n";
      }
      writeText(d / (kWnids[c] + "_boxes.txt"), boxes);
    }
    std::string val;
    for (int k = 0; k < 3; ++k) {
      std::string name = "val_" + std::to_string(k) + ".JPEG";
      fs::create_directories(root() / "val" / "images");
      writeJpeg(root() / "val" / "images" / name, marked(2 - k, 3, 3));
      val += name + "\t" + kWnids[size_t(2 - k)] + "\t0\t0\t63\t63\n";
    }
    writeText(root() / "val" / "val_annotations.txt", val);
  }

  std::string openError(const std::string &split = "train") const {
    auto ds = openTinyImageNet(root().string(), split);
    return ds ? std::string() : ds.error();
  }
};

} // namespace

TEST(TinyImageNet, ReadsTheTrainingTreeWithNamesLabelsAndBoxes) {
  Fixture f;
  auto ds = openTinyImageNet(f.root().string(), "train");
  ASSERT_TRUE(ds) << ds.error();
  const DataSource &d = **ds;
  EXPECT_EQ(d.task(), Task::Classification);
  EXPECT_EQ(d.size(), 6);
  EXPECT_EQ(d.classes(), (std::vector<std::string>{"goldfish", "European fire salamander", "n02085620"}));
  for (int64_t i = 0; i < d.size(); ++i) {
    auto s = d.load(i);
    ASSERT_TRUE(s) << s.error();
    const int64_t c = i / 2, k = i % 2;
    EXPECT_EQ(s->label, c);
    EXPECT_EQ(*d.classOf(i), c);
    EXPECT_EQ(s->image.channels, 3); // the grayscale one too
    EXPECT_EQ(s->image.height, 64);
    EXPECT_CONTAINS(s->source, kWnids[size_t(c)] + "_" + std::to_string(k) + ".JPEG");
    // pixel (0,0): the colour written (JPEG error is tiny on flat content)
    Image expected = marked(c, k, c == 1 && k == 1 ? 1 : 3);
    for (int ch = 0; ch < 3; ++ch)
      EXPECT_NEAR(s->image.at(30, 30, ch), expected.at(30, 30, expected.channels == 1 ? 0 : ch), 3);
    ASSERT_EQ(s->boxes.size(), 1u);
    EXPECT_EQ(s->boxes[0].xmin, float(k));
    EXPECT_EQ(s->boxes[0].ymin, 2.0f);
    EXPECT_EQ(s->boxes[0].xmax, float(61 + k)); // inclusive 60+k becomes exclusive 61+k
    EXPECT_EQ(s->boxes[0].ymax, 64.0f);
  }
  auto out = d.load(6);
  ASSERT_FALSE(out);
}

TEST(TinyImageNet, ValIsTheLabelledHeldOutSplit) {
  Fixture f;
  auto ds = openTinyImageNet(f.root().string(), "val");
  ASSERT_TRUE(ds) << ds.error();
  EXPECT_EQ((*ds)->size(), 3);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_EQ(*(*ds)->classOf(i), 2 - i);
  EXPECT_CONTAINS(f.openError("test"), "test images have no labels; its labelled held-out split is 'val'");
  EXPECT_CONTAINS(f.openError("holdout"), "unknown split 'holdout'");
}

TEST(TinyImageNet, IndexErrorsPointAtLineAndColumn) {
  {
    Fixture f;
    writeText(f.root() / "val" / "val_annotations.txt", "val_0.JPEG\tn02085620\t0\t0\t63\t63\n"
                                                        "val_1.JPEG\tn99999999\t0\t0\t63\t63\n");
    EXPECT_CONTAINS(f.openError("val"), "val_annotations.txt:2:12: WordNet id 'n99999999' is not in");
  }
  {
    Fixture f;
    const fs::path boxes = f.root() / "train" / kWnids[0] / (kWnids[0] + "_boxes.txt");
    writeText(boxes, kWnids[0] + "_0.JPEG\t0\tx\t60\t63\n" + kWnids[0] + "_1.JPEG\t1\t2\t61\t63\n");
    EXPECT_CONTAINS(f.openError(), "_boxes.txt:1:20: expected a pixel coordinate in 0..63, found 'x'");
    writeText(boxes, kWnids[0] + "_0.JPEG\t0\t2\t64\t63\n" + kWnids[0] + "_1.JPEG\t1\t2\t61\t63\n");
    EXPECT_CONTAINS(f.openError(), "_boxes.txt:1:22: expected a pixel coordinate");
    writeText(boxes, kWnids[0] + "_0.JPEG\t9\t2\t3\t63\n" + kWnids[0] + "_1.JPEG\t1\t2\t61\t63\n");
    EXPECT_CONTAINS(f.openError(), "_boxes.txt:1:18: box corner (x1, y1) lies before (x0, y0)");
    writeText(boxes, kWnids[0] + "_0.JPEG\t0\t2\t60\n");
    EXPECT_CONTAINS(f.openError(), "_boxes.txt:1:1: expected 5 tab-separated fields (file x0 y0 x1 y1), found 4");
    writeText(boxes, kWnids[0] + "_0.JPEG\t0\t2\t60\t63\n");
    EXPECT_CONTAINS(f.openError(), "_1.JPEG: has no line in");
    writeText(boxes, kWnids[0] + "_0.JPEG\t0\t2\t60\t63\n" + kWnids[0] + "_1.JPEG\t1\t2\t61\t63\n" +
                         kWnids[0] + "_7.JPEG\t1\t2\t61\t63\n");
    EXPECT_CONTAINS(f.openError(), "_boxes.txt:3:1: no image 'n01443537_7.JPEG' in");
  }
  {
    Fixture f;
    writeText(f.root() / "wnids.txt", kWnids[0] + "\n" + kWnids[0] + "\n");
    EXPECT_CONTAINS(f.openError(), "wnids.txt:2:1: WordNet id 'n01443537' listed twice");
    writeText(f.root() / "wnids.txt", kWnids[0] + "\n../../etc\n");
    EXPECT_CONTAINS(f.openError(), "wnids.txt:2:1: a WordNet id is letters, digits, '_' and '-'");
    fs::remove(f.root() / "wnids.txt");
    EXPECT_CONTAINS(f.openError(), "wnids.txt: not found (the class list of Tiny-ImageNet-200)");
  }
  {
    Fixture f;
    fs::remove_all(f.root() / "train" / kWnids[2]);
    EXPECT_CONTAINS(f.openError(), kWnids[2] + "/images: not found (the training images of n02085620)");
  }
}

TEST(TinyImageNet, ADamagedJpegIsAnErrorOfThatExample) {
  Fixture f;
  const fs::path img = f.root() / "train" / kWnids[1] / "images" / (kWnids[1] + "_0.JPEG");
  std::string bytes;
  {
    std::ifstream in(img, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  writeText(img, bytes.substr(0, bytes.size() / 2));
  auto ds = openTinyImageNet(f.root().string(), "train");
  ASSERT_TRUE(ds) << ds.error(); // the index is fine
  auto s = (*ds)->load(2);
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.error(), img.string() + ": byte ");
  EXPECT_TRUE((*ds)->load(3)); // the others still load
}
