//===- CenterNetTest.cpp - centre-point targets and decoding --------------===//
//
// The Gaussian radius against the IoUs it promises (computed directly with
// the perturbed boxes), the targets of known boxes value by value, and the
// round trip: targets decoded as if a network had predicted them exactly
// give back the boxes (and an AP of 1 by the VOC evaluator).
//
//===----------------------------------------------------------------------===//

#include "runtime/dense/CenterNet.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace pce::rt;
using namespace pce::rt::test;

TEST(CenterNet, RadiusKeepsEachPerturbationAtTheOverlapAndIsTight) {
  std::uniform_real_distribution<double> side(2, 60);
  for (int trial = 0; trial < 1000; ++trial) {
    const double h = side(rng()), w = side(rng());
    const double r = gaussianRadius(h, w, 0.7);
    auto ious = [&](double s) {
      DetectionBox b{0, 0, float(w), float(h), 0};
      DetectionBox moved{float(s), float(s), float(w + s), float(h + s), 0};
      DetectionBox shrunk{float(s), float(s), float(w - s), float(h - s), 0};
      DetectionBox grown{float(-s), float(-s), float(w + s), float(h + s), 0};
      return std::min({boxIoU(b, moved), w > 2 * s && h > 2 * s ? boxIoU(b, shrunk) : 0.0, boxIoU(b, grown)});
    };
    ASSERT_GE(ious(r), 0.7 - 1e-5) << h << "x" << w << " r " << r;
    ASSERT_LT(ious(r + 0.05), 0.7) << h << "x" << w << " r " << r;
  }
}

TEST(CenterNet, TargetsOfKnownBoxes) {
  // A 64x48 box at (16, 8) in input pixels, stride 4: 16x12 cells, centre (12, 8).
  std::vector<TargetBox> boxes = {{{16, 8, 80, 56, 1}, false}, {{0, 0, 8, 8, 0}, true}, {{0, 0, 8, 8, 5}, false}};
  CenterNetTargets t = centerNetTargets(boxes, 2, 16, 16, 4);
  const size_t plane = 256;
  const double cx = (16 + 80) / 8.0, cy = (8 + 56) / 8.0;
  const int64_t px = 12, py = 8;
  EXPECT_EQ(t.heatmap[plane + py * 16 + px], 1.0f);
  EXPECT_EQ(t.mask[py * 16 + px], 1);
  EXPECT_FLOAT_EQ(t.size[py * 16 + px], 16.0f);         // width / stride
  EXPECT_FLOAT_EQ(t.size[plane + py * 16 + px], 12.0f); // height / stride
  EXPECT_FLOAT_EQ(t.offset[py * 16 + px], float(cx - px));
  EXPECT_FLOAT_EQ(t.offset[plane + py * 16 + px], float(cy - py));
  // the Gaussian one cell away, with sigma from the radius
  const int64_t r = int64_t(gaussianRadius(12, 16));
  ASSERT_GE(r, 1);
  const double sigma = (2.0 * double(r) + 1) / 6;
  EXPECT_NEAR(t.heatmap[plane + py * 16 + px + 1], std::exp(-1 / (2 * sigma * sigma)), 1e-6);
  EXPECT_EQ(t.heatmap[plane + py * 16 + px + r + 1], 0.0f); // beyond the radius
  // the difficult box and the out-of-range class leave no trace
  for (size_t i = 0; i < plane; ++i)
    ASSERT_EQ(t.heatmap[i], 0.0f);
  int peaks = 0;
  for (uint8_t m : t.mask)
    peaks += m;
  EXPECT_EQ(peaks, 1);
}

TEST(CenterNet, DecodingPerfectOutputsGivesTheBoxesBack) {
  std::uniform_int_distribution<int> cell(0, 15), side(2, 10), cls(0, 2);
  for (int trial = 0; trial < 100; ++trial) {
    // objects on distinct cells at least 3 apart (so each peak is its own)
    std::vector<TargetBox> boxes;
    std::vector<std::vector<GroundTruthObject>> truth(1);
    for (int k = 0; k < 4; ++k) {
      const int w = side(rng()) * 4, h = side(rng()) * 4;
      // centres anywhere the whole box stays inside the 64x64 input
      const int x = std::clamp(cell(rng()) * 4 + 2, w / 2, 64 - w / 2);
      const int y = std::clamp(cell(rng()) * 4 + 2, h / 2, 64 - h / 2);
      bool far = true;
      for (const TargetBox &b : boxes)
        far &= std::abs((b.box.xmin + b.box.xmax) / 2 - float(x)) >= 12 ||
                std::abs((b.box.ymin + b.box.ymax) / 2 - float(y)) >= 12;
      if (!far)
        continue;
      DetectionBox b{float(x) - float(w) / 2, float(y) - float(h) / 2, float(x) + float(w) / 2,
                     float(y) + float(h) / 2, cls(rng())};
      boxes.push_back({b, false});
    }
    CenterNetTargets t = centerNetTargets(boxes, 3, 16, 16, 4);
    std::vector<Detection> d = decodeCenterNet(t.heatmap.data(), t.size.data(), t.offset.data(), 3, 16, 16, 4,
                                               64, 64, 100, 0.99f);
    ASSERT_EQ(d.size(), boxes.size()) << "trial " << trial;
    for (const TargetBox &b : boxes) {
      bool found = false;
      for (const Detection &x : d)
        found |= x.box.label == b.box.label && std::abs(x.box.xmin - b.box.xmin) < 1e-3f &&
                 std::abs(x.box.ymax - b.box.ymax) < 1e-3f && std::abs(x.box.xmax - b.box.xmax) < 1e-3f;
      ASSERT_TRUE(found) << "trial " << trial;
      truth[0].push_back({b.box, false});
    }
    auto s = evaluateDetections(truth, d, 3);
    ASSERT_TRUE(s);
    for (int64_t k = 0; k < 3; ++k) {
      if (s->present[size_t(k)]) {
        EXPECT_EQ(s->apAll[size_t(k)], 1.0);
      }
    }
  }
}

TEST(CenterNet, PeaksThresholdAndTopK) {
  // one class, 5x5: a peak 0.9 at (2,2) with a 0.8 neighbour; a lone 0.5 at (0,4)
  std::vector<float> heat(25, 0.1f), size(50, 1.0f), offset(50, 0.0f);
  heat[2 * 5 + 2] = 0.9f;
  heat[2 * 5 + 3] = 0.8f; // not a peak: its neighbour is higher
  heat[4 * 5 + 0] = 0.5f;
  auto d = decodeCenterNet(heat.data(), size.data(), offset.data(), 1, 5, 5, 1, 5, 5, 10, 0.3f);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].score, 0.9f);
  EXPECT_EQ(d[1].score, 0.5f);
  EXPECT_FLOAT_EQ(d[0].box.xmin, 1.5f); // centre 2, width 1
  EXPECT_FLOAT_EQ(d[1].box.ymax, 4.5f);
  EXPECT_EQ(decodeCenterNet(heat.data(), size.data(), offset.data(), 1, 5, 5, 1, 5, 5, 1, 0.3f).size(), 1u);
  EXPECT_EQ(decodeCenterNet(heat.data(), size.data(), offset.data(), 1, 5, 5, 1, 5, 5, 10, 0.6f).size(), 1u);
  // boxes are clipped to the input
  size[2 * 5 + 2] = 10.0f;
  d = decodeCenterNet(heat.data(), size.data(), offset.data(), 1, 5, 5, 1, 5, 5, 10, 0.3f);
  EXPECT_EQ(d[0].box.xmin, 0.0f);
  EXPECT_EQ(d[0].box.xmax, 5.0f);
}
