//===- TransformTest.cpp - views move pixels, boxes and masks together ----===//
//
// Consistency of every label with the pixels under random views (scale
// jitter, padding, mirror), the geometry of fitView, and the resamplers
// against direct formulas. (The resamplers against PyTorch's interpolate:
// test/train/ImageDataTest.cpp.)
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Transform.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

// An image with `objects` rectangles painted in channel 0 with value 200 + k,
// the mask holding k + 1 there, and a box for each.
Sample rectangles(int64_t h, int64_t w, int objects) {
  Sample s;
  s.image = Image(h, w, 3, 0);
  s.mask = Image(h, w, 1, 0);
  std::uniform_int_distribution<int64_t> ys(0, h - 8), xs(0, w - 8);
  for (int k = 0; k < objects; ++k) {
    int64_t y0 = ys(rng()), x0 = xs(rng());
    int64_t y1 = std::min(h, y0 + 6 + int64_t(rng()() % 20)), x1 = std::min(w, x0 + 6 + int64_t(rng()() % 20));
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) {
        s.image.at(y, x, 0) = uint8_t(200 + k);
        s.mask.at(y, x) = uint8_t(k + 1);
      }
    Box b;
    b.xmin = float(x0), b.ymin = float(y0), b.xmax = float(x1), b.ymax = float(y1), b.label = k;
    s.boxes.push_back(b);
  }
  return s;
}

} // namespace

TEST(Transform, FitViewCoversTheOutputAndCentres) {
  View v = fitView(375, 500, 224, 224);
  EXPECT_EQ(v.resizedHeight, 224);
  EXPECT_EQ(v.resizedWidth, 299); // 500 * 224 / 375 = 298.67
  EXPECT_EQ(v.x0, 37);
  EXPECT_EQ(v.y0, 0);
  v = fitView(64, 64, 32, 48);
  EXPECT_EQ(v.resizedHeight, 48);
  EXPECT_EQ(v.resizedWidth, 48);
  EXPECT_EQ(v.y0, 8);
  v = fitView(32, 32, 32, 32);
  EXPECT_EQ(v.resizedHeight, 32);
  EXPECT_EQ(v.y0, 0);
  EXPECT_FALSE(v.mirror);
}

TEST(Transform, AnIdentityViewChangesNothing) {
  Sample s = rectangles(37, 23, 3);
  Sample out = applyView(s, fitView(37, 23, 37, 23));
  EXPECT_EQ(out.image.pixels, s.image.pixels);
  EXPECT_EQ(out.mask.pixels, s.mask.pixels);
  ASSERT_EQ(out.boxes.size(), s.boxes.size());
  for (size_t i = 0; i < s.boxes.size(); ++i)
    EXPECT_EQ(out.boxes[i].xmax, s.boxes[i].xmax);
}

// Under any view, every labelled mask pixel lies inside its object's box
// (to a pixel of resampling), padding is void in the mask and `fill` in the
// image, and a mirrored view is the mirror of the unmirrored one.
TEST(Transform, RandomViewsKeepMasksBoxesAndPixelsTogether) {
  AugmentOptions opt;
  opt.padding = 6, opt.scaleMin = 0.5, opt.scaleMax = 1.6, opt.mirror = true;
  std::mt19937_64 gen(rng()());
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t h = 20 + int64_t(gen() % 60), w = 20 + int64_t(gen() % 60);
    Sample s = rectangles(h, w, 3);
    View v = randomView(h, w, 40, 32, opt, gen);
    Sample out = applyView(s, v, {7, 8, 9});
    ASSERT_EQ(out.image.height, 40);
    ASSERT_EQ(out.image.width, 32);
    ASSERT_EQ(out.mask.height, 40);
    for (int64_t y = 0; y < 40; ++y)
      for (int64_t x = 0; x < 32; ++x) {
        const uint8_t m = out.mask.at(y, x);
        // the source pixel of this output pixel, before resizing
        const int64_t xr = (v.mirror ? 31 - x : x) + v.x0, yr = y + v.y0;
        const bool padding = xr < 0 || yr < 0 || xr >= v.resizedWidth || yr >= v.resizedHeight;
        if (padding) {
          ASSERT_EQ(m, kVoidLabel);
          ASSERT_EQ(out.image.at(y, x, 1), 8);
          continue;
        }
        ASSERT_NE(m, kVoidLabel);
        if (m == 0)
          continue;
        bool inside = false;
        for (const Box &b : out.boxes)
          inside |= b.label == m - 1 && x + 0.5 >= b.xmin - 1 && x + 0.5 <= b.xmax + 1 && y + 0.5 >= b.ymin - 1 &&
                    y + 0.5 <= b.ymax + 1;
        ASSERT_TRUE(inside) << "trial " << trial << ": mask pixel (" << x << "," << y << ") of object " << m - 1
                            << " outside its box";
      }
    for (const Box &b : out.boxes) {
      ASSERT_GE(b.xmin, 0);
      ASSERT_LE(b.xmax, 32);
      ASSERT_LT(b.xmin, b.xmax);
      ASSERT_LT(b.ymin, b.ymax);
    }
    View unmirrored = v;
    unmirrored.mirror = false;
    Sample plain = applyView(s, unmirrored, {7, 8, 9});
    EXPECT_EQ((v.mirror ? mirrorImage(plain.image) : plain.image).pixels, out.image.pixels);
    EXPECT_EQ((v.mirror ? mirrorImage(plain.mask) : plain.mask).pixels, out.mask.pixels);
  }
}

TEST(Transform, RandomViewsAreDeterministicPerSeedAndStayInRange) {
  AugmentOptions opt;
  opt.padding = 4, opt.scaleMin = 0.8, opt.scaleMax = 1.25, opt.mirror = true;
  std::mt19937_64 a(42), b(42);
  int mirrored = 0;
  for (int i = 0; i < 1000; ++i) {
    View u = randomView(64, 48, 32, 32, opt, a), v = randomView(64, 48, 32, 32, opt, b);
    ASSERT_EQ(u.y0, v.y0);
    ASSERT_EQ(u.x0, v.x0);
    ASSERT_EQ(u.resizedWidth, v.resizedWidth);
    ASSERT_EQ(u.mirror, v.mirror);
    // cover scale 32/48 = 2/3, jittered by 0.8..1.25
    ASSERT_GE(u.resizedWidth, std::llround(48 * 2.0 / 3 * 0.8) - 1);
    ASSERT_LE(u.resizedWidth, std::llround(48 * 2.0 / 3 * 1.25) + 1);
    ASSERT_GE(u.x0, std::min<int64_t>(0, u.resizedWidth - 32) - 4);
    ASSERT_LE(u.x0, std::max<int64_t>(0, u.resizedWidth - 32) + 4);
    mirrored += u.mirror;
  }
  EXPECT_GT(mirrored, 400);
  EXPECT_LT(mirrored, 600);
  for (int i = 0; i < 10000; ++i) {
    int64_t r = uniformInteger(a, -3, 5);
    ASSERT_GE(r, -3);
    ASSERT_LE(r, 5);
  }
}

// The resamplers against their definitions written out in double precision.
TEST(Transform, ResamplersFollowTheirDefinitions) {
  for (auto [h, w, oh, ow] : {std::tuple{10, 7, 23, 5}, {64, 64, 32, 32}, {3, 9, 9, 3}}) {
    Image img(h, w, 2);
    for (uint8_t &p : img.pixels)
      p = uint8_t(rng()() % 256);
    Image near = resizeNearest(img, oh, ow);
    Image bil = resizeBilinear(img, oh, ow);
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x)
        for (int64_t c = 0; c < 2; ++c) {
          int64_t ys = std::min<int64_t>(int64_t(std::floor(y * double(h) / oh)), h - 1);
          int64_t xs = std::min<int64_t>(int64_t(std::floor(x * double(w) / ow)), w - 1);
          ASSERT_EQ(near.at(y, x, c), img.at(ys, xs, c));
          double sy = std::max(0.0, (y + 0.5) * h / oh - 0.5), sx = std::max(0.0, (x + 0.5) * w / ow - 0.5);
          int64_t y0 = std::min<int64_t>(int64_t(sy), h - 1), x0 = std::min<int64_t>(int64_t(sx), w - 1);
          int64_t y1 = std::min<int64_t>(y0 + 1, h - 1), x1 = std::min<int64_t>(x0 + 1, w - 1);
          double ly = sy - y0, lx = sx - x0;
          double v = (1 - ly) * ((1 - lx) * img.at(y0, x0, c) + lx * img.at(y0, x1, c)) +
                     ly * ((1 - lx) * img.at(y1, x0, c) + lx * img.at(y1, x1, c));
          ASSERT_LE(std::abs(bil.at(y, x, c) - v), 0.51) << y << "," << x;
        }
  }
}

// pce-run maps detections back into their image by boxToImage: a box through
// a view and back lands where it was (boxes the view keeps whole).
TEST(Transform, BoxToImageUndoesTheView) {
  std::mt19937_64 gen(rng()());
  AugmentOptions options;
  options.padding = 6;
  options.scaleMin = 0.8;
  options.scaleMax = 1.25;
  options.mirror = true;
  int checked = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t h = 20 + int64_t(gen() % 300), w = 20 + int64_t(gen() % 300);
    const View view = trial % 2 ? fitView(h, w, 64, 48) : randomView(h, w, 64, 48, options, gen);
    Sample s;
    s.image = Image(h, w, 3);
    Box b;
    b.xmin = float(gen() % uint64_t(w / 2));
    b.ymin = float(gen() % uint64_t(h / 2));
    b.xmax = b.xmin + 1 + float(gen() % uint64_t(w / 2));
    b.ymax = b.ymin + 1 + float(gen() % uint64_t(h / 2));
    s.boxes = {b};
    Sample viewed = applyView(s, view);
    if (viewed.boxes.empty())
      continue;
    const Box &v = viewed.boxes[0];
    const bool whole = v.xmin > 0 && v.ymin > 0 && v.xmax < float(view.width) && v.ymax < float(view.height);
    Box back = boxToImage(v, view, h, w);
    const float tol = 1e-3f * float(std::max(h, w));
    if (whole) {
      EXPECT_NEAR(back.xmin, b.xmin, tol) << trial;
      EXPECT_NEAR(back.xmax, b.xmax, tol) << trial;
      EXPECT_NEAR(back.ymin, b.ymin, tol) << trial;
      EXPECT_NEAR(back.ymax, b.ymax, tol) << trial;
      ++checked;
    }
    // Clipped or not, the box maps inside the image and inside the original.
    EXPECT_GE(back.xmin, b.xmin - tol);
    EXPECT_LE(back.xmax, b.xmax + tol);
    EXPECT_GE(back.ymin, b.ymin - tol);
    EXPECT_LE(back.ymax, b.ymax + tol);
  }
  EXPECT_GT(checked, 20);
}
