//===- DenseHeadTest.cpp - head specs and the shared dense evaluation -----===//
//
// HeadSpec: JSON round trip, every rule of readHeadSpec, the manifest's
// optional `head`. DenseEvaluator: segmentation scores against a confusion
// matrix counted from an argmax written out here (ties to the lower class,
// NaN never winning); detection: a heatmap with known peaks decodes to the
// boxes it encodes, mapped back by the caller's mapping, and scores AP 1 on
// them, 0 with the mapping shifted away.
//
//===----------------------------------------------------------------------===//

#include "runtime/Manifest.h"
#include "runtime/dense/CenterNet.h"
#include "runtime/dense/DenseEvaluation.h"
#include "runtime/dense/HeadSpec.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

HeadSpec detectionHead() {
  HeadSpec h;
  h.kind = HeadKind::Detection;
  h.classes = 3;
  h.in = {8, 4, 4};
  h.stride = 4;
  h.maxDetections = 7;
  h.scoreThreshold = 0.25;
  return h;
}

} // namespace

TEST(HeadSpec, RoundTripsThroughJson) {
  HeadSpec seg;
  seg.kind = HeadKind::Segmentation;
  seg.classes = 4;
  seg.in = {16, 8, 8};
  seg.classWeights = {1, 0.5, 2, 0};
  for (const HeadSpec &h : {seg, detectionHead()}) {
    auto back = parseHeadSpec(writeJson(headSpecJson(h)), "t");
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(back->kind, h.kind);
    EXPECT_EQ(back->classes, h.classes);
    EXPECT_EQ(back->in, h.in);
    EXPECT_EQ(back->stride, h.stride);
    EXPECT_EQ(back->maxDetections, h.maxDetections);
    EXPECT_EQ(back->scoreThreshold, h.scoreThreshold);
    EXPECT_EQ(back->classWeights, h.classWeights);
  }
  EXPECT_EQ(detectionHead().outputShape(32, 16), (std::vector<int64_t>{7, 8, 4}));
  EXPECT_EQ(seg.outputShape(32, 16), (std::vector<int64_t>{4, 32, 16}));
  EXPECT_STREQ(detectionHead().outputName(), "detections");
}

TEST(HeadSpec, RejectsWhatItCannotUse) {
  const std::pair<const char *, const char *> cases[] = {
      {R"({"kind":"panoptic","classes":2,"in":[1]})", "head.kind: unknown head kind 'panoptic'"},
      {R"({"kind":"segmentation","classes":0,"in":[1]})", "head.classes: expected at least 1 class"},
      {R"({"kind":"segmentation","classes":2})", "head: missing key 'in'"},
      {R"({"kind":"detection","classes":2,"in":[1],"stride":0,"max_detections":1,"score_threshold":0})",
       "head.stride: expected a stride >= 1"},
      {R"({"kind":"detection","classes":2,"in":[1],"stride":2,"max_detections":1,"score_threshold":1})",
       "head.score_threshold: expected a number in [0, 1)"},
      {R"({"kind":"segmentation","classes":2,"in":[1],"class_weights":[1]})",
       "head.class_weights: expected one weight per class (2), found 1"},
      {R"({"kind":"segmentation","classes":2,"in":[1],"class_weights":[1,-1]})",
       "head.class_weights: expected finite numbers >= 0"},
      {R"({"kind":"segmentation","classes":2,"in":[1],"colour":1})", "head.colour: unknown key"},
  };
  for (const auto &[text, message] : cases) {
    auto h = parseHeadSpec(text, "spec.json");
    ASSERT_FALSE(h) << text;
    EXPECT_NE(h.error().find(message), std::string::npos) << h.error();
    EXPECT_EQ(h.error().rfind("spec.json: byte ", 0), 0u) << h.error();
  }
}

TEST(HeadSpec, TravelsInTheManifest) {
  Manifest m = fakeManifest();
  m.head = detectionHead();
  auto text = writeManifestText(m);
  ASSERT_TRUE(text) << text.error();
  auto back = parseManifest(*text, "manifest.json");
  ASSERT_TRUE(back) << back.error();
  ASSERT_TRUE(back->head);
  EXPECT_EQ(back->head->stride, 4);
  EXPECT_EQ(back->head->maxDetections, 7);
  m.head.reset();
  back = parseManifest(*writeManifestText(m), "manifest.json");
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->head);
  std::string bad = *text;
  bad.replace(bad.find("\"detection\""), 11, "\"detectoin\"");
  auto refused = parseManifest(bad, "manifest.json");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("head.kind: unknown head kind 'detectoin'"), std::string::npos) << refused.error();
}

TEST(DenseEvaluator, SegmentationScoresTheArgmaxOfEveryPixel) {
  HeadSpec head;
  head.kind = HeadKind::Segmentation;
  head.classes = 4;
  const int64_t H = 5, W = 7, plane = H * W, K = head.classes;
  std::uniform_int_distribution<int> pick(0, 9);
  std::normal_distribution<float> normal;
  DenseEvaluator evaluator(head, H, W);
  ConfusionMatrix expected(K);
  for (int image = 0; image < 6; ++image) {
    std::vector<float> logits(size_t(K * plane));
    for (float &v : logits)
      v = pick(rng()) == 0 ? 0.5f : normal(rng()); // some exact ties
    if (image == 2)
      logits[3] = std::numeric_limits<float>::quiet_NaN(); // pixel 3, class 0
    std::vector<uint8_t> mask(static_cast<size_t>(plane));
    std::vector<int64_t> argmax(static_cast<size_t>(plane));
    for (int64_t p = 0; p < plane; ++p) {
      mask[size_t(p)] = pick(rng()) == 0 ? 255 : uint8_t(pick(rng()) % K);
      // The rule written out: the first class whose logit no other beats.
      int64_t best = -1;
      for (int64_t k = 0; k < K && best < 0; ++k) {
        const float v = logits[size_t(k * plane + p)];
        bool beaten = std::isnan(v);
        for (int64_t j = 0; j < K; ++j)
          beaten = beaten || logits[size_t(j * plane + p)] > v;
        if (!beaten)
          best = k;
      }
      argmax[size_t(p)] = best;
    }
    ASSERT_TRUE(evaluator.addSegmentation(logits.data(), mask.data()));
    ASSERT_TRUE(expected.add(mask.data(), argmax.data(), plane));
  }
  auto scores = evaluator.finish();
  ASSERT_TRUE(scores) << scores.error();
  SegmentationScores want = expected.scores();
  EXPECT_EQ(scores->images, 6);
  EXPECT_EQ(scores->segmentation.meanIoU, want.meanIoU);
  EXPECT_EQ(scores->segmentation.pixelAccuracy, want.pixelAccuracy);
  EXPECT_EQ(scores->segmentation.iou, want.iou);
  EXPECT_EQ(scores->headline(), want.meanIoU);
  std::string line = scores->summary();
  EXPECT_EQ(line.rfind("mIoU ", 0), 0u) << line;
}

TEST(DenseEvaluator, DetectionDecodesMapsBackAndScores) {
  const HeadSpec head = detectionHead();
  const int64_t H = 32, W = 16, h = H / head.stride, w = W / head.stride, K = head.classes, plane = h * w;
  // Two objects in input pixels; their targets are a perfect prediction.
  std::vector<TargetBox> boxes = {{DetectionBox{2, 3, 10, 15, 1}, false}, {DetectionBox{4, 18, 14, 30, 2}, false}};
  CenterNetTargets t = centerNetTargets(boxes, K, h, w, head.stride);
  std::vector<float> output(size_t((K + 4) * plane));
  std::copy(t.heatmap.begin(), t.heatmap.end(), output.begin());
  std::copy(t.size.begin(), t.size.end(), output.begin() + K * plane);
  std::copy(t.offset.begin(), t.offset.end(), output.begin() + (K + 2) * plane);
  // The image was twice the input's size: boxes map back scaled by 2.
  auto twice = [](const DetectionBox &b) { return DetectionBox{2 * b.xmin, 2 * b.ymin, 2 * b.xmax, 2 * b.ymax, b.label}; };
  std::vector<GroundTruthObject> truth;
  for (const TargetBox &b : boxes)
    truth.push_back({twice(b.box), false});
  DenseEvaluator evaluator(head, H, W);
  auto found = evaluator.addDetection(output.data(), truth, twice);
  ASSERT_TRUE(found) << found.error();
  // Only the two peaks reach the threshold 0.25 (the Gaussians' tails do not
  // form other 3x3 maxima).
  ASSERT_EQ(found->size(), 2u);
  for (const Detection &d : *found) {
    const GroundTruthObject &g = truth[d.box.label == 1 ? 0 : 1];
    EXPECT_NEAR(d.box.xmin, g.box.xmin, 1e-4);
    EXPECT_NEAR(d.box.ymax, g.box.ymax, 1e-4);
    EXPECT_EQ(d.image, 0);
  }
  // The same prediction against boxes elsewhere: nothing matches.
  std::vector<GroundTruthObject> elsewhere = truth;
  for (GroundTruthObject &g : elsewhere)
    g.box.xmin += 100, g.box.xmax += 100;
  ASSERT_TRUE(evaluator.addDetection(output.data(), elsewhere, twice));
  auto scores = evaluator.finish();
  ASSERT_TRUE(scores) << scores.error();
  EXPECT_EQ(scores->images, 2);
  EXPECT_EQ(scores->detections, 4);
  // Per class: 2 positives, one found first (score 1) and one false positive
  // of equal score; all-point AP 0.5 (precision 1 at recall 0.5 or 0.5 when
  // the false positive sorts first, as ties keep detection order).
  EXPECT_FALSE(scores->detection.present[0]);
  EXPECT_TRUE(scores->detection.present[1]);
  EXPECT_EQ(scores->detection.positives[1], 2);
  EXPECT_NEAR(scores->detection.apAll[1], 0.5, 1e-9);
  EXPECT_NEAR(scores->detection.mapAll, 0.5, 1e-9);
  JsonValue j = scores->json({"a", "b", "c"});
  ASSERT_NE(j.find("ap11"), nullptr);
  EXPECT_TRUE(j.find("ap11")->find("a")->isNull()); // absent class
}
