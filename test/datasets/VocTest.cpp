//===- VocTest.cpp - Pascal VOC trees: boxes, masks, splits, damage -------===//
//
// Small VOC trees written here through the real codecs (JPEGs by
// encodeJpeg, palette masks by encodePalettePng) and annotations as text in
// VOC's layout; then damaged one way at a time: every damage is an error
// naming the file and where in it, never a crash or a silent default.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Voc.h"

#include "runtime/datasets/ImageCodec.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

struct ObjectSpec {
  std::string name;
  std::string xmin, ymin, xmax, ymax;
  std::string difficult = "0", truncated = "0"; // "" leaves the element out
};

// An annotation in VOC's layout (tabs, one element a line). The <name> of
// object k is on line 11 + 12 * k, column 3.
std::string annotationXml(int64_t width, int64_t height, const std::vector<ObjectSpec> &objects,
                          const std::string &depth = "3") {
  std::string x = "<annotation>\n"
                  "\t<folder>VOC2012</folder>\n"
                  "\t<filename>x.jpg</filename>\n"
                  "\t<size>\n"
                  "\t\t<width>" + std::to_string(width) + "</width>\n"
                  "\t\t<height>" + std::to_string(height) + "</height>\n"
                  "\t\t<depth>" + depth + "</depth>\n"
                  "\t</size>\n"
                  "\t<segmented>1</segmented>\n";
  for (const ObjectSpec &o : objects) {
    x += "\t<object>\n\t\t<name>" + o.name + "</name>\n\t\t<pose>Left</pose>\n";
    x += o.truncated.empty() ? "\n" : "\t\t<truncated>" + o.truncated + "</truncated>\n";
    x += o.difficult.empty() ? "\n" : "\t\t<difficult>" + o.difficult + "</difficult>\n";
    x += "\t\t<bndbox>\n\t\t\t<xmin>" + o.xmin + "</xmin>\n\t\t\t<ymin>" + o.ymin + "</ymin>\n\t\t\t<xmax>" + o.xmax +
         "</xmax>\n\t\t\t<ymax>" + o.ymax + "</ymax>\n\t\t</bndbox>\n\t</object>\n";
  }
  return x + "</annotation>\n";
}

// A smooth RGB (or gray) image: JPEG keeps it close.
Image gradient(int64_t h, int64_t w, int64_t channels = 3) {
  Image im(h, w, channels);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < channels; ++c)
        im.at(y, x, c) = uint8_t((x * 4 + y * 2 + c * 60) % 256);
  return im;
}

// A VOC tree with two classes (cat, dog via per-class files) and three images:
// a (40x30, train): dog 5..20 x 3..12, cat difficult, 1-based coordinates as floats;
// b (32x32, train, grayscale JPEG): one cat, no <difficult>/<truncated>;
// c (24x16, val): dog truncated.
class VocTree {
public:
  VocTree() {
    for (const char *d : {"JPEGImages", "Annotations", "SegmentationClass", "ImageSets/Main", "ImageSets/Segmentation"})
      std::filesystem::create_directories(dir_.file(d));
    addImage("a", gradient(30, 40),
             annotationXml(40, 30, {{"dog", "5", "3", "20", "12"}, {"cat", "1.0", "1.0", "40.0", "30.0", "1", "1"}}));
    addImage("b", gradient(32, 32, 1), annotationXml(32, 32, {{"cat", "2", "2", "31", "31", "", ""}}));
    addImage("c", gradient(16, 24), annotationXml(24, 16, {{"dog", "1", "1", "24", "16", "0", "1"}}));
    for (const char *id : {"a", "b", "c"}) {
      Image m = maskOf(id);
      setMask(id, m);
    }
    list("Main/train.txt", "a\n  b \n\n");
    list("Main/val.txt", "c\n");
    list("Main/trainval.txt", "a\nb\nc\n");
    list("Segmentation/train.txt", "a\nb\n");
    list("Segmentation/val.txt", "c\n");
    list("Segmentation/trainval.txt", "a\nb\nc\n");
    for (const char *split : {"train", "val", "trainval"})
      for (const char *cls : {"dog", "cat"})
        list(std::string("Main/") + cls + "_" + split + ".txt", "a  1\n");
  }

  std::string root() const { return dir_.path(); }
  std::string file(const std::string &name) const { return dir_.file(name); }

  void addImage(const std::string &id, const Image &image, const std::string &xml) {
    auto jpeg = encodeJpeg(image, 95);
    ASSERT_TRUE(jpeg) << jpeg.error();
    test::writeBytes(file("JPEGImages/" + id + ".jpg"), *jpeg);
    test::writeBytes(file("Annotations/" + id + ".xml"), xml);
  }
  void setMask(const std::string &id, const Image &mask) {
    auto png = encodePalettePng(mask, vocPalette());
    ASSERT_TRUE(png) << png.error();
    test::writeBytes(file("SegmentationClass/" + id + ".png"), *png);
  }
  void list(const std::string &name, const std::string &text) { test::writeBytes(file("ImageSets/" + name), text); }

  // Background 0, a block of class 2 (dog) with a void border, one pixel of 1 (cat).
  static Image maskOf(const std::string &id) {
    const int64_t h = id == "a" ? 30 : id == "b" ? 32 : 16, w = id == "a" ? 40 : id == "b" ? 32 : 24;
    Image m(h, w, 1, 0);
    for (int64_t y = 2; y < 10; ++y)
      for (int64_t x = 3; x < 12; ++x)
        m.at(y, x) = (y == 2 || y == 9 || x == 3 || x == 11) ? kVoidLabel : 2;
    m.at(h - 1, w - 1) = 1;
    return m;
  }

private:
  TempDir dir_;
};

std::string openError(const std::string &root, const std::string &split, Task task) {
  auto voc = openVoc(root, split, task);
  return voc ? std::string() : voc.error();
}

std::string loadError(const std::string &root, const std::string &split, Task task, int64_t i) {
  auto voc = openVoc(root, split, task);
  if (!voc)
    return "open failed: " + voc.error();
  auto s = (*voc)->load(i);
  return s ? std::string() : s.error();
}

} // namespace

TEST(Voc, PaletteAndClassNamesAreVocs) {
  ASSERT_EQ(vocClassNames().size(), 20u);
  EXPECT_EQ(vocClassNames().front(), "aeroplane");
  EXPECT_EQ(vocClassNames()[14], "person");
  EXPECT_EQ(vocClassNames().back(), "tvmonitor");
  EXPECT_TRUE(std::is_sorted(vocClassNames().begin(), vocClassNames().end()));
  const auto &p = vocPalette();
  ASSERT_EQ(p.size(), 256u);
  EXPECT_EQ(p[0], (std::array<uint8_t, 3>{0, 0, 0}));
  EXPECT_EQ(p[1], (std::array<uint8_t, 3>{128, 0, 0}));
  EXPECT_EQ(p[2], (std::array<uint8_t, 3>{0, 128, 0}));
  EXPECT_EQ(p[15], (std::array<uint8_t, 3>{192, 128, 128})); // person
  EXPECT_EQ(p[255], (std::array<uint8_t, 3>{224, 224, 192}));
}

TEST(Voc, DetectionReadsBoxesFlagsAndClasses) {
  VocTree tree;
  auto voc = openVoc(tree.root(), "train", Task::Detection);
  ASSERT_TRUE(voc) << voc.error();
  const DataSource &ds = **voc;
  EXPECT_EQ(ds.task(), Task::Detection);
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.source(), tree.file("ImageSets/Main/train.txt"));
  ASSERT_EQ(ds.size(), 2);

  auto a = ds.load(0);
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->source, tree.file("JPEGImages/a.jpg"));
  EXPECT_EQ(a->image.width, 40);
  EXPECT_EQ(a->image.height, 30);
  EXPECT_EQ(a->image.channels, 3);
  EXPECT_NEAR(a->image.at(7, 9, 1), gradient(30, 40).at(7, 9, 1), 8);
  ASSERT_EQ(a->boxes.size(), 2u);
  // VOC's 1-based inclusive 5..20 is [4, 20).
  EXPECT_EQ(a->boxes[0].xmin, 4);
  EXPECT_EQ(a->boxes[0].ymin, 2);
  EXPECT_EQ(a->boxes[0].xmax, 20);
  EXPECT_EQ(a->boxes[0].ymax, 12);
  EXPECT_EQ(a->boxes[0].label, 1); // dog
  EXPECT_FALSE(a->boxes[0].difficult);
  EXPECT_FALSE(a->boxes[0].truncated);
  // "1.0".."40.0": the whole image.
  EXPECT_EQ(a->boxes[1].xmin, 0);
  EXPECT_EQ(a->boxes[1].ymin, 0);
  EXPECT_EQ(a->boxes[1].xmax, 40);
  EXPECT_EQ(a->boxes[1].ymax, 30);
  EXPECT_EQ(a->boxes[1].label, 0); // cat
  EXPECT_TRUE(a->boxes[1].difficult);
  EXPECT_TRUE(a->boxes[1].truncated);

  // A grayscale JPEG comes out as RGB; missing <difficult>/<truncated> are 0.
  auto b = ds.load(1);
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->image.channels, 3);
  EXPECT_EQ(b->image.at(5, 6, 0), b->image.at(5, 6, 2));
  ASSERT_EQ(b->boxes.size(), 1u);
  EXPECT_FALSE(b->boxes[0].difficult);
  EXPECT_FALSE(b->boxes[0].truncated);
  EXPECT_FALSE(ds.load(2));
  EXPECT_FALSE(ds.load(-1));
}

TEST(Voc, SplitsListTheirImages) {
  VocTree tree;
  auto val = openVoc(tree.root(), "val", Task::Detection);
  ASSERT_TRUE(val) << val.error();
  ASSERT_EQ((*val)->size(), 1);
  auto c = (*val)->load(0);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->source, tree.file("JPEGImages/c.jpg"));
  EXPECT_TRUE(c->boxes.at(0).truncated);
  auto trainval = openVoc(tree.root(), "trainval", Task::Detection);
  ASSERT_TRUE(trainval) << trainval.error();
  EXPECT_EQ((*trainval)->size(), 3);
  EXPECT_CONTAINS(openError(tree.root(), "test", Task::Detection), tree.file("ImageSets/Main/test.txt"));
  EXPECT_CONTAINS(openError(tree.root(), "testing", Task::Detection), "VOC split 'testing' is not one of");
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Classification), "no classification task");
}

TEST(Voc, ClassesComeFromThePerClassFilesElseVocs) {
  VocTree tree;
  EXPECT_EQ(*vocClasses(tree.root(), "train"), (std::vector<std::string>{"cat", "dog"}));
  // A split without per-class files borrows trainval's.
  EXPECT_EQ(*vocClasses(tree.root(), "test"), (std::vector<std::string>{"cat", "dog"}));
  for (const char *split : {"train", "val", "trainval"})
    for (const char *cls : {"dog", "cat"})
      std::filesystem::remove(tree.file(std::string("ImageSets/Main/") + cls + "_" + split + ".txt"));
  EXPECT_EQ(*vocClasses(tree.root(), "train"), vocClassNames());
  auto voc = openVoc(tree.root(), "train", Task::Detection);
  ASSERT_TRUE(voc) << voc.error();
  auto a = (*voc)->load(0);
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->boxes[0].label, 11); // dog among VOC's 20
  EXPECT_EQ(a->boxes[1].label, 7);  // cat
}

TEST(Voc, SegmentationReadsMasksWithVoid) {
  VocTree tree;
  auto voc = openVoc(tree.root(), "train", Task::Segmentation);
  ASSERT_TRUE(voc) << voc.error();
  const DataSource &ds = **voc;
  EXPECT_EQ(ds.task(), Task::Segmentation);
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"background", "cat", "dog"}));
  EXPECT_EQ(ds.source(), tree.file("ImageSets/Segmentation/train.txt"));
  ASSERT_EQ(ds.size(), 2);
  for (int64_t i = 0; i < 2; ++i) {
    auto s = ds.load(i);
    ASSERT_TRUE(s) << s.error();
    Image expected = VocTree::maskOf(i == 0 ? "a" : "b");
    EXPECT_EQ(s->mask.channels, 1);
    EXPECT_EQ(s->mask.height, s->image.height);
    EXPECT_EQ(s->mask.pixels, expected.pixels);
    EXPECT_EQ(s->mask.at(2, 3), kVoidLabel);
    EXPECT_EQ(s->mask.at(5, 5), 2);
    EXPECT_EQ(s->image.channels, 3);
    EXPECT_TRUE(s->boxes.empty());
  }
  // Segmentation does not need the annotation.
  std::filesystem::remove(tree.file("Annotations/b.xml"));
  auto again = openVoc(tree.root(), "train", Task::Segmentation);
  ASSERT_TRUE(again) << again.error();
  EXPECT_TRUE((*again)->load(1));
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Detection), tree.file("Annotations/b.xml") +
                  ": cannot open");
}

TEST(Voc, LoadsFromSeveralThreads) {
  VocTree tree;
  auto voc = openVoc(tree.root(), "trainval", Task::Segmentation);
  ASSERT_TRUE(voc) << voc.error();
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 10; ++r)
        ok[size_t(t)] += (*voc)->load((t + r) % 3).ok() ? 1 : 0;
    });
  for (auto &th : threads)
    th.join();
  EXPECT_EQ(ok, std::vector<int>(4, 10));
}

TEST(Voc, SplitListErrorsNameLineAndColumn) {
  VocTree tree;
  tree.list("Main/train.txt", "a\n\nb  1\n");
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Detection),
                  tree.file("ImageSets/Main/train.txt") + ":3:2: 'b  1' is not an image id");
  tree.list("Main/train.txt", "a\n  a\n");
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Detection),
                  tree.file("ImageSets/Main/train.txt") + ":2:3: image id 'a' listed twice");
  tree.list("Main/train.txt", "../etc/passwd\n");
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Detection), ":1:3: '../etc/passwd' is not an image id");
  tree.list("Main/train.txt", "\n \n");
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Detection), "train.txt: lists no images");
  std::filesystem::remove(tree.file("ImageSets/Segmentation/val.txt"));
  std::string missing = openError(tree.root(), "val", Task::Segmentation);
  EXPECT_CONTAINS(missing, tree.file("ImageSets/Segmentation/val.txt") + ": cannot open");
  EXPECT_CONTAINS(missing, "the val list of VOC segmentation");
}

TEST(Voc, MissingFilesNameTheListThatNeedsThem) {
  VocTree tree;
  std::filesystem::remove(tree.file("JPEGImages/b.jpg"));
  EXPECT_EQ(openError(tree.root(), "train", Task::Detection),
            tree.file("JPEGImages/b.jpg") + ": no such file (image listed in " + tree.file("ImageSets/Main/train.txt") +
                ":2)");
  VocTree tree2;
  std::filesystem::remove(tree2.file("SegmentationClass/c.png"));
  EXPECT_CONTAINS(openError(tree2.root(), "val", Task::Segmentation),
                  tree2.file("SegmentationClass/c.png") + ": no such file (the mask of the image listed in " +
                      tree2.file("ImageSets/Segmentation/val.txt") + ":1)");
  EXPECT_TRUE(openVoc(tree2.root(), "val", Task::Detection)); // detection needs no mask
}

TEST(Voc, AnnotationErrorsNameLineAndColumn) {
  const std::vector<std::string> classes = {"cat", "dog"};
  auto error = [&](const std::string &xml) {
    auto a = parseVocAnnotation(xml, "x.xml", classes);
    return a ? std::string() : a.error();
  };
  auto with = [&](ObjectSpec o) { return annotationXml(40, 30, {{"cat", "1", "1", "2", "2"}, o}); };
  // Object 1's <name> is on line 23; its bndbox's <xmin> on line 28 .. <ymax> on 31, column 4.
  EXPECT_EQ(error(with({"dgo", "1", "1", "2", "2"})),
            "x.xml:23:3: <name> 'dgo' is not one of the 2 classes (cat, dog)");
  EXPECT_EQ(error(with({"dog", "1", "1", "41", "2"})),
            "x.xml:30:4: <xmax> 41 is outside the image: VOC coordinates run from 1 to the width (40)");
  EXPECT_EQ(error(with({"dog", "0", "1", "4", "2"})),
            "x.xml:28:4: <xmin> 0 is outside the image: VOC coordinates run from 1 to the width (40)");
  EXPECT_EQ(error(with({"dog", "1", "1", "4", "30.5"})),
            "x.xml:31:4: <ymax> 30.5 is outside the image: VOC coordinates run from 1 to the height (30)");
  EXPECT_EQ(error(with({"dog", "9", "1", "4", "2"})), "x.xml:30:4: <xmax> 4 is less than <xmin> 9");
  EXPECT_EQ(error(with({"dog", "1", "5", "4", "2"})), "x.xml:31:4: <ymax> 2 is less than <ymin> 5");
  EXPECT_EQ(error(with({"dog", "1", "1", "4", "two"})), "x.xml:31:4: <ymax> 'two' is not a number");
  EXPECT_EQ(error(with({"dog", "1", "-1", "4", "2"})), "x.xml:29:4: <ymin> '-1' is not a number");
  EXPECT_EQ(error(with({"dog", "1", "1", "4", "2", "2"})), "x.xml:26:3: <difficult> '2' is not 0 or 1");
  EXPECT_EQ(error(with({"dog", "1", "1", "4", "2", "0", "yes"})), "x.xml:25:3: <truncated> 'yes' is not 0 or 1");
  EXPECT_EQ(error(annotationXml(0, 30, {})), "x.xml:5:3: <width> '0' is not a whole number in [1, 1073741824]");
  EXPECT_EQ(error(annotationXml(40, 30, {}, "2")),
            "x.xml:7:3: <depth> 2: an image has 1 (grayscale) or 3 (RGB) channels");
  EXPECT_EQ(error("<annotation>\n  <size><width>4</width><width>5</width></size></annotation>"),
            "x.xml:2:25: <size> has a second <width> (first on line 2)");
  EXPECT_EQ(error("<annotation><object><name>cat</name></object><size><width>4</width><height>4</height>"
                  "<depth>3</depth></size><object><name>cat</name></object></annotation>"),
            "x.xml:1:13: <object> has no <bndbox>");
  EXPECT_EQ(error("<annotation/>"), "x.xml:1:1: <annotation> has no <size>");
  EXPECT_EQ(error("<?xml version=\"1.0\"?>\n<voc/>"),
            "x.xml:2:1: the root element is <voc>, expected <annotation>");
  // Syntax errors carry libxml2's line and column.
  EXPECT_EQ(error("<annotation>\n\t<size>\n\t\t<width>4</wdth>\n"),
            "x.xml:3:18: XML syntax error: Opening and ending tag mismatch: width line 3 and wdth");
  EXPECT_CONTAINS(error(""), "x.xml:");
  // No entity from outside the file is ever read.
  std::string external = error("<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY e SYSTEM \"/etc/passwd\">]>\n"
                               "<annotation><filename>&e;</filename></annotation>");
  EXPECT_EQ(external.find("root:"), std::string::npos) << external;
}

TEST(Voc, AnnotationValuesAsVocWritesThem) {
  // Floats, surrounding whitespace, <part>s with their own boxes (VOC2012's
  // person layout), unknown elements: all read as VOC means them.
  std::string xml = "<annotation><size><width>100</width><height>50</height><depth>3</depth></size>"
                    "<object><name> person </name><part><name>head</name><bndbox><xmin>1</xmin></bndbox></part>"
                    "<actions><jumping>1</jumping></actions><occluded>1</occluded>"
                    "<bndbox><xmin> 48.0 </xmin><ymin>2.5</ymin><xmax>100</xmax><ymax>50.0</ymax></bndbox>"
                    "<difficult>1</difficult></object></annotation>";
  auto a = parseVocAnnotation(xml, "p.xml", vocClassNames());
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->width, 100);
  EXPECT_EQ(a->height, 50);
  EXPECT_EQ(a->depth, 3);
  EXPECT_FALSE(a->segmented);
  ASSERT_EQ(a->boxes.size(), 1u);
  EXPECT_EQ(a->boxes[0].label, 14);
  EXPECT_EQ(a->boxes[0].xmin, 47);
  EXPECT_EQ(a->boxes[0].ymin, 1.5f);
  EXPECT_EQ(a->boxes[0].xmax, 100);
  EXPECT_EQ(a->boxes[0].ymax, 50);
  EXPECT_TRUE(a->boxes[0].difficult);
}

TEST(Voc, DamagedAnnotationsFailAtOpen) {
  VocTree tree;
  const std::string xml = tree.file("Annotations/b.xml");
  test::writeBytes(xml, "<annotation>\n\t<size>\n\t\t<width>32</height>\n\t</size>\n</annotation>\n");
  EXPECT_EQ(openError(tree.root(), "train", Task::Detection),
            xml + ":3:21: XML syntax error: Opening and ending tag mismatch: width line 3 and height");
  test::writeBytes(xml, annotationXml(32, 32, {{"cow", "2", "2", "31", "31"}}));
  EXPECT_EQ(openError(tree.root(), "train", Task::Detection),
            xml + ":11:3: <name> 'cow' is not one of the 2 classes (cat, dog)");
  test::writeBytes(xml, annotationXml(32, 32, {{"cat", "2", "2", "31", "33"}}));
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Detection), xml + ":19:4: <ymax> 33 is outside the image");
  // Segmentation validates an annotation it finds, too.
  EXPECT_CONTAINS(openError(tree.root(), "train", Task::Segmentation), xml + ":19:4:");
}

TEST(Voc, DamagedImagesAndMasksFailAtLoad) {
  VocTree tree;
  const std::string jpeg = tree.file("JPEGImages/a.jpg");
  std::string bytes = readBytes(jpeg);
  test::writeBytes(jpeg, bytes.substr(0, bytes.size() / 2));
  std::string truncated = loadError(tree.root(), "train", Task::Detection, 0);
  EXPECT_CONTAINS(truncated, jpeg + ": byte ");
  EXPECT_CONTAINS(truncated, "not a valid JPEG");
  test::writeBytes(jpeg, bytes);

  // The annotation says 40x30; the JPEG is 41x30.
  test::writeBytes(jpeg, *encodeJpeg(gradient(30, 41)));
  EXPECT_EQ(loadError(tree.root(), "train", Task::Detection, 0),
            jpeg + ": the image is 41x30 (width x height) but " + tree.file("Annotations/a.xml") + " says 40x30");
  test::writeBytes(jpeg, bytes);

  const std::string mask = tree.file("SegmentationClass/a.png");
  test::writeBytes(mask, *encodePng(gradient(30, 40)));
  EXPECT_CONTAINS(loadError(tree.root(), "train", Task::Segmentation, 0), mask + ": byte ");
  EXPECT_CONTAINS(loadError(tree.root(), "train", Task::Segmentation, 0), "expected a palette image");
  Image m = VocTree::maskOf("a");
  m.at(4, 7) = 30;
  m.at(5, 1) = 30;
  tree.setMask("a", m);
  EXPECT_EQ(loadError(tree.root(), "train", Task::Segmentation, 0),
            mask + ": pixel (x=7, y=4) has value 30, not a class (0..2) or 255 (void)");
  tree.setMask("a", Image(29, 40, 1, 0));
  EXPECT_EQ(loadError(tree.root(), "train", Task::Segmentation, 0),
            mask + ": the mask is 40x29 (width x height) but its image " + jpeg + " is 40x30");
  std::string png = *encodePalettePng(VocTree::maskOf("a"), vocPalette());
  test::writeBytes(mask, png.substr(0, png.size() - 20));
  EXPECT_CONTAINS(loadError(tree.root(), "train", Task::Segmentation, 0), mask + ": byte ");
  // A file removed after open: the error says which list wanted it.
  auto voc = openVoc(tree.root(), "train", Task::Detection);
  ASSERT_TRUE(voc) << voc.error();
  std::filesystem::remove(jpeg);
  auto gone = (*voc)->load(0);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), jpeg + ": cannot open: No such file or directory (image listed in " +
                              tree.file("ImageSets/Main/train.txt") + ":1)");
}
