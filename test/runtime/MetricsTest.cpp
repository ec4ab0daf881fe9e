//===- MetricsTest.cpp - mIoU and VOC mAP against independent formulations -===//
//
// Segmentation: the confusion matrix's IoUs against per-class pixel sets
// counted directly, on random masks with void. Detection: boxIoU against
// pixel counting; AP against a second formulation (all-point AP as the sum
// over true positives of the best precision from that rank on, divided by
// the positives; 11-point AP by scanning every cut-off), on random
// detections; and hand-computed cases: perfect, empty, all wrong, ties in
// score, duplicates, difficult-only images, classes absent from the split.
//
//===----------------------------------------------------------------------===//

#include "runtime/metrics/Detection.h"
#include "runtime/metrics/Segmentation.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace pce::rt;
using namespace pce::rt::test;

TEST(SegmentationMetrics, ConfusionMatrixAgreesWithPixelSets) {
  std::uniform_int_distribution<int> cls(0, 9), coin(0, 9);
  for (int64_t K : {2, 5, 21}) {
    for (int64_t n : {1, 37, 4096}) {
      const size_t N = static_cast<size_t>(n);
      std::vector<uint8_t> truth(N);
      std::vector<int64_t> pred(N);
      for (int64_t i = 0; i < n; ++i) {
        truth[size_t(i)] = coin(rng()) == 0 ? 255 : uint8_t(cls(rng()) % K);
        pred[size_t(i)] = coin(rng()) < 6 && truth[size_t(i)] != 255 ? truth[size_t(i)] : cls(rng()) % K;
      }
      ConfusionMatrix m(K);
      // in two parts, merged: the same as one pass
      ConfusionMatrix part(K);
      ASSERT_TRUE(m.add(truth.data(), pred.data(), n / 2));
      ASSERT_TRUE(part.add(truth.data() + n / 2, pred.data() + n / 2, n - n / 2));
      m.merge(part);
      SegmentationScores s = m.scores();
      double sum = 0;
      int present = 0;
      int64_t valid = 0, correct = 0;
      for (int64_t k = 0; k < K; ++k) {
        int64_t inter = 0, uni = 0;
        for (int64_t i = 0; i < n; ++i) {
          if (truth[size_t(i)] == 255)
            continue;
          bool t = truth[size_t(i)] == k, p = pred[size_t(i)] == k;
          inter += t && p;
          uni += t || p;
        }
        ASSERT_EQ(s.present[size_t(k)], uni > 0);
        if (uni > 0) {
          EXPECT_NEAR(s.iou[size_t(k)], double(inter) / double(uni), 1e-12);
          sum += double(inter) / double(uni);
          ++present;
        }
      }
      for (int64_t i = 0; i < n; ++i)
        if (truth[size_t(i)] != 255)
          ++valid, correct += truth[size_t(i)] == pred[size_t(i)];
      EXPECT_EQ(s.pixels, valid);
      EXPECT_NEAR(s.meanIoU, present ? sum / present : 0.0, 1e-12);
      EXPECT_NEAR(s.pixelAccuracy, valid ? double(correct) / double(valid) : 0.0, 1e-12);
    }
  }
}

TEST(SegmentationMetrics, HandCases) {
  std::vector<uint8_t> truth = {0, 1, 1, 255, 2, 2};
  std::vector<int64_t> same = {0, 1, 1, 0, 2, 2}, wrong = {1, 2, 2, 1, 0, 0};
  ConfusionMatrix perfect(4);
  ASSERT_TRUE(perfect.add(truth.data(), same.data(), 6));
  SegmentationScores p = perfect.scores();
  EXPECT_EQ(p.meanIoU, 1.0);
  EXPECT_EQ(p.pixelAccuracy, 1.0);
  EXPECT_EQ(p.pixels, 5); // the void pixel is not counted, whatever was predicted there
  EXPECT_FALSE(p.present[3]); // class 3: in neither
  ConfusionMatrix bad(4);
  ASSERT_TRUE(bad.add(truth.data(), wrong.data(), 6));
  EXPECT_EQ(bad.scores().meanIoU, 0.0);
  EXPECT_EQ(bad.scores().pixelAccuracy, 0.0);
  std::vector<uint8_t> badTruth = {7};
  std::vector<int64_t> badPred = {4};
  EXPECT_CONTAINS(bad.add(badTruth.data(), same.data(), 1).message(), "ground truth 7 is not one of the 4 classes");
  EXPECT_CONTAINS(bad.add(truth.data(), badPred.data(), 1).message(), "prediction 4 is not one of the 4 classes");
}

namespace {

DetectionBox box(float x0, float y0, float x1, float y1, int64_t label = 0) { return {x0, y0, x1, y1, label}; }

// The second formulation of both APs, from the detections' TP/FP/ignored
// outcome in rank order (the matching is the devkit's greedy one).
std::pair<double, double> referenceAp(const std::vector<int> &outcome, int64_t positives) {
  std::vector<double> prec, rec;
  std::vector<bool> isTp;
  int64_t tp = 0, fp = 0;
  for (int o : outcome) {
    if (o == 0)
      continue; // ignored (difficult)
    (o > 0 ? tp : fp) += 1;
    prec.push_back(double(tp) / double(tp + fp));
    rec.push_back(double(tp) / double(positives));
    isTp.push_back(o > 0);
  }
  double all = 0;
  for (size_t k = 0; k < prec.size(); ++k)
    if (isTp[k])
      all += *std::max_element(prec.begin() + long(k), prec.end()) / double(positives);
  double eleven = 0;
  for (int t = 0; t <= 10; ++t) {
    double best = 0;
    for (size_t j = 0; j < prec.size(); ++j)
      if (rec[j] >= t / 10.0 - 1e-12)
        best = std::max(best, prec[j]);
    eleven += best / 11;
  }
  return {all, eleven};
}

} // namespace

TEST(DetectionMetrics, BoxIoUAgreesWithPixelCounting) {
  std::uniform_int_distribution<int> c(0, 30);
  for (int trial = 0; trial < 500; ++trial) {
    int a0 = c(rng()), a1 = a0 + 1 + c(rng()) % 12, b0 = c(rng()), b1 = b0 + 1 + c(rng()) % 12;
    int a2 = c(rng()), a3 = a2 + 1 + c(rng()) % 12, b2 = c(rng()), b3 = b2 + 1 + c(rng()) % 12;
    int64_t inter = 0, uni = 0;
    for (int y = 0; y < 50; ++y)
      for (int x = 0; x < 50; ++x) {
        bool in1 = x >= a0 && x < a1 && y >= a2 && y < a3, in2 = x >= b0 && x < b1 && y >= b2 && y < b3;
        inter += in1 && in2;
        uni += in1 || in2;
      }
    ASSERT_NEAR(boxIoU(box(a0, a2, a1, a3), box(b0, b2, b1, b3)), double(inter) / double(uni), 1e-12);
  }
}

// A worked example: 3 objects; detections by score TP, FP, TP, FP, TP.
TEST(DetectionMetrics, AWorkedExample) {
  std::vector<std::vector<GroundTruthObject>> truth = {
      {{box(0, 0, 10, 10)}, {box(20, 20, 30, 30)}}, {{box(5, 5, 15, 15)}}};
  std::vector<Detection> dets = {
      {0, box(0, 0, 10, 10), 0.9f},   {1, box(40, 40, 50, 50), 0.8f}, {0, box(20, 21, 30, 30), 0.7f},
      {0, box(60, 60, 70, 70), 0.6f}, {1, box(5, 5, 15, 16), 0.5f},
  };
  auto s = evaluateDetections(truth, dets, 1);
  ASSERT_TRUE(s) << s.error();
  // all-point: 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5; 11-point: (4 * 1 + 3 * 2/3 + 4 * 3/5) / 11
  EXPECT_NEAR(s->apAll[0], (1.0 + 2.0 / 3 + 0.6) / 3, 1e-12);
  EXPECT_NEAR(s->ap11[0], (4.0 + 2.0 + 2.4) / 11, 1e-12);
  EXPECT_EQ(s->positives[0], 3);
}

TEST(DetectionMetrics, HandCases) {
  std::vector<std::vector<GroundTruthObject>> truth = {{{box(0, 0, 10, 10, 0)}, {box(0, 0, 10, 10, 1)}}};
  // perfect
  auto perfect = evaluateDetections(truth, {{0, box(0, 0, 10, 10, 0), 1}, {0, box(0, 0, 10, 10, 1), 1}}, 2);
  ASSERT_TRUE(perfect);
  EXPECT_EQ(perfect->mapAll, 1.0);
  EXPECT_EQ(perfect->map11, 1.0);
  // empty
  auto empty = evaluateDetections(truth, {}, 2);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->mapAll, 0.0);
  EXPECT_EQ(empty->map11, 0.0);
  // all wrong: the right boxes with the wrong classes, and misplaced boxes
  auto wrong = evaluateDetections(truth, {{0, box(0, 0, 10, 10, 1), 0.9f}, {0, box(50, 50, 60, 60, 0), 0.8f}}, 2);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->apAll[0], 0.0);
  // class 1's detection lies on class 1's object: the "wrong" one is right for class 1
  EXPECT_EQ(wrong->apAll[1], 1.0);
  // a duplicate is a false positive; ties in score keep the given order
  auto dup = evaluateDetections(truth, {{0, box(0, 0, 10, 10, 0), 0.5f}, {0, box(0, 0, 10, 10, 0), 0.5f}}, 1 + 1);
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->apAll[0], 1.0); // TP then FP: recall 1 reached at precision 1
  auto tie = evaluateDetections(truth, {{0, box(50, 50, 60, 60, 0), 0.5f}, {0, box(0, 0, 10, 10, 0), 0.5f}}, 2);
  ASSERT_TRUE(tie);
  EXPECT_NEAR(tie->apAll[0], 0.5, 1e-12); // FP first: the TP comes at precision 1/2
  // a class absent from the split is left out of the mean, even with detections
  auto absent = evaluateDetections(truth, {{0, box(0, 0, 10, 10, 0), 1}, {0, box(0, 0, 5, 5, 2), 1}}, 3);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->present[2]);
  EXPECT_NEAR(absent->mapAll, 0.5, 1e-12); // (1 + 0) / 2: class 1 was missed
}

TEST(DetectionMetrics, DifficultObjectsAreNeitherPositivesNorFalsePositives) {
  std::vector<std::vector<GroundTruthObject>> truth = {{{box(0, 0, 10, 10), true}},
                                                       {{box(0, 0, 10, 10), false}}};
  // A detection on the difficult object, then one on the positive: AP 1.
  auto s = evaluateDetections(truth, {{0, box(0, 0, 10, 10), 0.9f}, {1, box(0, 0, 10, 10), 0.8f}}, 1);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->positives[0], 1);
  EXPECT_EQ(s->apAll[0], 1.0);
  // Only difficult objects of a class: the class is not present.
  auto only = evaluateDetections({{{box(0, 0, 10, 10), true}}}, {{0, box(0, 0, 10, 10), 0.9f}}, 1);
  ASSERT_TRUE(only);
  EXPECT_FALSE(only->present[0]);
  EXPECT_EQ(only->mapAll, 0.0);
  auto bad = evaluateDetections(truth, {{5, box(0, 0, 1, 1), 1}}, 1);
  ASSERT_FALSE(bad);
  EXPECT_CONTAINS(bad.error(), "detection 0: image 5 is not one of the 2 images");
}

// Random splits: the devkit procedure against the second AP formulation.
TEST(DetectionMetrics, RandomSplitsAgreeWithTheSecondFormulation) {
  std::uniform_int_distribution<int> pos(0, 40), size(4, 20), count(0, 4), coin(0, 5);
  std::uniform_real_distribution<float> score(0, 1);
  for (int trial = 0; trial < 100; ++trial) {
    const int images = 1 + trial % 7;
    std::vector<std::vector<GroundTruthObject>> truth(static_cast<size_t>(images));
    std::vector<Detection> dets;
    for (int i = 0; i < images; ++i) {
      for (int k = count(rng()); k > 0; --k) {
        float x = float(pos(rng())), y = float(pos(rng())), w = float(size(rng()));
        truth[size_t(i)].push_back({box(x, y, x + w, y + w), coin(rng()) == 0});
        if (coin(rng()) < 4) // a detection near it
          dets.push_back({i, box(x + float(coin(rng())), y, x + w, y + w + float(coin(rng()))), score(rng())});
      }
      for (int k = count(rng()); k > 0; --k) { // strays and duplicates
        float x = float(pos(rng())), y = float(pos(rng()));
        dets.push_back({i, box(x, y, x + 10, y + 10), score(rng())});
      }
    }
    auto s = evaluateDetections(truth, dets, 1);
    ASSERT_TRUE(s) << s.error();
    // outcome of each detection in score order, by an explicit matching
    std::vector<size_t> order(dets.size());
    for (size_t d = 0; d < order.size(); ++d)
      order[d] = d;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dets[a].score > dets[b].score; });
    std::vector<std::vector<bool>> used(truth.size());
    for (size_t i = 0; i < truth.size(); ++i)
      used[i].assign(truth[i].size(), false);
    std::vector<int> outcome;
    int64_t positives = 0;
    for (const auto &objs : truth)
      for (const auto &o : objs)
        positives += !o.difficult;
    for (size_t d : order) {
      const auto &objs = truth[size_t(dets[d].image)];
      double best = 0;
      int at = -1;
      for (size_t j = 0; j < objs.size(); ++j) {
        double ov = boxIoU(dets[d].box, objs[j].box);
        if (ov > best)
          best = ov, at = int(j);
      }
      if (at < 0 || best < 0.5)
        outcome.push_back(-1);
      else if (objs[size_t(at)].difficult)
        outcome.push_back(0);
      else if (used[size_t(dets[d].image)][size_t(at)])
        outcome.push_back(-1);
      else
        used[size_t(dets[d].image)][size_t(at)] = true, outcome.push_back(1);
    }
    if (positives == 0) {
      EXPECT_FALSE(s->present[0]);
      continue;
    }
    auto [all, eleven] = referenceAp(outcome, positives);
    EXPECT_NEAR(s->apAll[0], all, 1e-9) << "trial " << trial;
    EXPECT_NEAR(s->ap11[0], eleven, 1e-9) << "trial " << trial;
  }
}
