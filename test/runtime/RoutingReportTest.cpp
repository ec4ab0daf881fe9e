//===- RoutingReportTest.cpp - SEMANTICS §5 statistics, hand-computed ------===//
//
// runtime/RoutingReport.h on small routing tensors whose entropy, usage,
// routing map and mutual information are known in closed form, the errors
// for invalid input, the JSON / Markdown output, and `pce-run --routing`
// end to end on the fake classifier (whose routing is (x, 1 - x) of the
// first four pixels, a valid distribution).
//
//===----------------------------------------------------------------------===//

#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/RoutingReport.h"
#include "runtime/Safetensors.h"

#include "FakeArtifact.h"
#include "TestSupport.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

using namespace pce::rt;
using namespace pce::rt::test;

#include "RoutingTestSupport.h"

using namespace pce::rt::test::routing;


TEST(RoutingReport, UniformRoutingHasMaximalEntropy) {
  for (int64_t E : {2, 3, 4, 7}) {
    auto r = report(weights(3, 5, E, [&](int64_t, int64_t, int64_t) { return 1.0 / double(E); }));
    EXPECT_NEAR(r.entropy.nats, std::log(double(E)), 1e-6) << E; // float32 weights
    EXPECT_NEAR(r.entropy.normalized, 1.0, 1e-6) << E;
    // A tie everywhere: every patch's argmax is expert 0.
    EXPECT_EQ(r.usage[0], 1.0);
    for (int64_t e = 1; e < E; ++e)
      EXPECT_EQ(r.usage[e], 0.0);
    for (int64_t e = 0; e < E; ++e)
      EXPECT_NEAR(r.meanWeight[e], 1.0 / double(E), 1e-7);
    EXPECT_NEAR(r.loadBalance, 1.0, 1e-6); // E * 1 * (1/E)
    // The expert is constant: no information about anything.
    EXPECT_EQ(r.positionMI.nats, 0.0);
    EXPECT_EQ(r.positionMI.normalized, 0.0);
    EXPECT_EQ(r.items, 3);
    EXPECT_EQ(r.patches, 5);
    EXPECT_EQ(r.experts, E);
  }
}

TEST(RoutingReport, OneHotRoutingHasZeroEntropy) {
  auto r = report(oneHot(4, 6, 3, [](int64_t b, int64_t p) { return (b + p) % 3; }));
  EXPECT_EQ(r.entropy.nats, 0.0);
  EXPECT_EQ(r.entropy.normalized, 0.0);
  EXPECT_NEAR(r.loadBalance, 1.0, kTol); // balanced: 3 * sum (1/3)(1/3)
}

TEST(RoutingReport, EntropyByHand) {
  // Patch 0: (0.5, 0.5, 0) -> log 2; patch 1: (0.25, 0.25, 0.5) -> 1.5 log 2;
  // patch 2 cut by top-1: (0.7, 0, 0) -> -0.7 log 0.7.
  const float rows[3][3] = {{0.5f, 0.5f, 0.f}, {0.25f, 0.25f, 0.5f}, {0.7f, 0.f, 0.f}};
  auto r = report(weights(1, 3, 3, [&](int64_t, int64_t p, int64_t e) { return rows[p][e]; }));
  const double l2 = std::log(2.0), w7 = double(0.7f);
  const double expected = (l2 + 1.5 * l2 - w7 * std::log(w7)) / 3;
  EXPECT_NEAR(r.entropy.nats, expected, kTol);
  EXPECT_NEAR(r.entropy.normalized, expected / std::log(3.0), kTol);
  // argmax: 0 (tie 0/1), 2, 0
  EXPECT_NEAR(r.usage[0], 2.0 / 3, kTol);
  EXPECT_EQ(r.usage[1], 0.0);
  EXPECT_NEAR(r.usage[2], 1.0 / 3, kTol);
  EXPECT_NEAR(r.meanWeight[0], (0.5 + 0.25 + w7) / 3, 1e-7);
  EXPECT_NEAR(r.meanWeight[2], 0.5 / 3, kTol);
}

TEST(RoutingReport, SingleExpertNormalisesToZero) {
  auto r = report(weights(2, 3, 1, [](int64_t, int64_t, int64_t) { return 1.0; }));
  EXPECT_EQ(r.entropy.nats, 0.0);
  EXPECT_EQ(r.entropy.normalized, 0.0);
  EXPECT_EQ(r.usage, std::vector<double>{1.0});
  EXPECT_EQ(r.positionMI.normalized, 0.0);
}

TEST(RoutingReport, UsageAndRoutingMap) {
  // 4 images, 2 patches, 3 experts. Patch 0 chooses 0,0,1,2; patch 1 chooses 2,2,2,1.
  const int64_t choice[4][2] = {{0, 2}, {0, 2}, {1, 2}, {2, 1}};
  auto r = report(oneHot(4, 2, 3, [&](int64_t b, int64_t p) { return choice[b][p]; }));
  EXPECT_NEAR(r.usage[0], 2.0 / 8, kTol);
  EXPECT_NEAR(r.usage[1], 2.0 / 8, kTol);
  EXPECT_NEAR(r.usage[2], 4.0 / 8, kTol);
  const double map[2][3] = {{0.5, 0.25, 0.25}, {0.0, 0.25, 0.75}};
  for (int p = 0; p < 2; ++p)
    for (int e = 0; e < 3; ++e)
      EXPECT_NEAR(r.mapAt(p, e), map[p][e], kTol) << p << "," << e;
  EXPECT_EQ(r.dominant, (std::vector<int64_t>{0, 2}));
  // I(expert; position) by hand: joint / (marginals).
  double mi = 0;
  const double pe[3] = {0.25, 0.25, 0.5};
  for (int p = 0; p < 2; ++p)
    for (int e = 0; e < 3; ++e)
      if (map[p][e] > 0)
        mi += map[p][e] / 2 * std::log(map[p][e] / pe[e]);
  EXPECT_NEAR(r.positionMI.nats, mi, kTol);
  EXPECT_NEAR(r.positionMI.normalized, mi / std::log(2.0), kTol); // min(log 3, log 2)
}

TEST(RoutingReport, TiesGoToTheLowerExpert) {
  const float rows[4][3] = {{0.4f, 0.4f, 0.2f}, {0.2f, 0.4f, 0.4f}, {0.3f, 0.3f, 0.3f}, {0.f, 0.f, 0.f}};
  auto r = report(weights(1, 4, 3, [&](int64_t, int64_t p, int64_t e) { return rows[p][e]; }));
  EXPECT_EQ(r.dominant, (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_NEAR(r.usage[0], 0.75, kTol);
  EXPECT_NEAR(r.usage[1], 0.25, kTol);
  // The routing map's dominant expert breaks ties the same way.
  auto even = report(oneHot(2, 1, 2, [](int64_t b, int64_t) { return 1 - b; }));
  EXPECT_EQ(even.dominant, std::vector<int64_t>{0});
}

TEST(RoutingReport, MutualInformationIndependentOfPosition) {
  // Image b sends every patch to expert b % E: the expert says nothing about the position.
  for (int64_t E : {2, 3}) {
    auto r = report(oneHot(2 * E, 5, E, [&](int64_t b, int64_t) { return b % E; }));
    EXPECT_EQ(r.positionMI.nats, 0.0) << E;
    EXPECT_EQ(r.positionMI.normalized, 0.0) << E;
    for (int64_t p = 0; p < 5; ++p)
      for (int64_t e = 0; e < E; ++e)
        EXPECT_NEAR(r.mapAt(p, e), 1.0 / double(E), kTol);
  }
}

TEST(RoutingReport, MutualInformationPositionDeterminesExpert) {
  // P = E: a permutation of the experts over the positions.
  auto r = report(oneHot(3, 4, 4, [](int64_t, int64_t p) { return (p + 1) % 4; }));
  EXPECT_NEAR(r.positionMI.nats, std::log(4.0), kTol);
  EXPECT_NEAR(r.positionMI.normalized, 1.0, kTol);
  EXPECT_EQ(r.dominant, (std::vector<int64_t>{1, 2, 3, 0}));
  // P = 4, E = 2, p -> p mod 2 (the default position router): log 2 nats, the bound min(log 2, log 4).
  auto m = report(oneHot(5, 4, 2, [](int64_t, int64_t p) { return p % 2; }));
  EXPECT_NEAR(m.positionMI.nats, std::log(2.0), kTol);
  EXPECT_NEAR(m.positionMI.normalized, 1.0, kTol);
  // Soft weights count by their argmax only.
  auto soft = report(weights(2, 4, 2, [](int64_t, int64_t p, int64_t e) { return e == p % 2 ? 0.6 : 0.4; }));
  EXPECT_NEAR(soft.positionMI.nats, std::log(2.0), kTol);
}

TEST(RoutingReport, ClassMutualInformation) {
  // The class determines the expert: I = log E, normalised by min(log E, log classes).
  HostTensor labels = labelsOf({0, 1, 2, 0, 1, 2});
  auto w = oneHot(6, 3, 3, [&](int64_t b, int64_t) { return labels.i64()[b]; });
  auto r = report(w, &labels);
  ASSERT_TRUE(r.classMI);
  EXPECT_EQ(r.classes, 3);
  EXPECT_NEAR(r.classMI->nats, std::log(3.0), kTol);
  EXPECT_NEAR(r.classMI->normalized, 1.0, kTol);
  // With 10 classes declared (7 of them unseen) the bound is still min(log 3, log 10).
  auto r10 = report(w, &labels, 10);
  EXPECT_EQ(r10.classes, 10);
  EXPECT_NEAR(r10.classMI->normalized, 1.0, kTol);
  // The expert depends on the position only: nothing about the class.
  auto pos = report(oneHot(6, 3, 3, [](int64_t, int64_t p) { return p; }), &labels);
  EXPECT_EQ(pos.classMI->nats, 0.0);
  // Two classes, four experts, class c uses experts {2c, 2c+1} by position:
  // I = log 2, normalised by min(log 4, log 2) = 1.
  HostTensor two = labelsOf({0, 1, 1, 0});
  auto half = report(oneHot(4, 2, 4, [&](int64_t b, int64_t p) { return 2 * two.i64()[b] + p; }), &two);
  EXPECT_NEAR(half.classMI->nats, std::log(2.0), kTol);
  EXPECT_NEAR(half.classMI->normalized, 1.0, kTol);
  EXPECT_NEAR(half.positionMI.nats, std::log(2.0), kTol);
  EXPECT_NEAR(half.positionMI.normalized, 1.0, kTol); // min(log 4, log 2)
  // No labels: no class MI.
  EXPECT_FALSE(report(w).classMI);
  EXPECT_EQ(report(w).classes, 0);
  // i32 and u8 labels read the same.
  auto l32 = HostTensor::create(DType::I32, {6});
  auto l8 = HostTensor::create(DType::U8, {6});
  for (int i = 0; i < 6; ++i) {
    l32->i32()[i] = int32_t(labels.i64()[i]);
    l8->u8()[i] = uint8_t(labels.i64()[i]);
  }
  EXPECT_NEAR(report(w, &*l32).classMI->nats, std::log(3.0), kTol);
  EXPECT_NEAR(report(w, &*l8).classMI->nats, std::log(3.0), kTol);
}

// Dense tasks give each patch its own class ([N, P] labels, -1 for none).
TEST(RoutingReport, PerPatchClassMutualInformation) {
  // Patch p of image b has class (b + p) % 3 and goes to that expert: I = log 3.
  auto perPatch = HostTensor::create(DType::I64, {6, 4});
  ASSERT_TRUE(perPatch);
  for (int64_t b = 0; b < 6; ++b)
    for (int64_t p = 0; p < 4; ++p)
      perPatch->i64()[b * 4 + p] = (b + p) % 3;
  auto w = oneHot(6, 4, 3, [](int64_t b, int64_t p) { return (b + p) % 3; });
  auto r = report(w, &*perPatch);
  ASSERT_TRUE(r.classMI);
  EXPECT_EQ(r.classes, 3);
  EXPECT_NEAR(r.classMI->nats, std::log(3.0), kTol);
  // Per-patch labels equal to the image's label give the image-label MI.
  HostTensor labels = labelsOf({0, 1, 2, 0, 1, 2});
  auto replicated = HostTensor::create(DType::I64, {6, 4});
  for (int64_t b = 0; b < 6; ++b)
    for (int64_t p = 0; p < 4; ++p)
      replicated->i64()[b * 4 + p] = labels.i64()[b];
  auto random = randomRouting(DType::F32, 6, 4, 3);
  EXPECT_NEAR(report(random, &*replicated).classMI->nats, report(random, &labels).classMI->nats, kTol);
  // -1 leaves a patch out: marking every patch whose class disagrees with
  // its expert leaves a histogram where the expert is the class, so
  // I = H(class) over the patches kept.
  auto w2 = oneHot(6, 4, 3, [](int64_t b, int64_t p) { return (b * p) % 3; });
  auto kept = HostTensor::create(DType::I64, {6, 4});
  for (int64_t b = 0; b < 6; ++b)
    for (int64_t p = 0; p < 4; ++p)
      kept->i64()[b * 4 + p] = (b * p) % 3 == (b + p) % 3 ? (b + p) % 3 : -1;
  auto r2 = report(w2, &*kept);
  ASSERT_TRUE(r2.classMI);
  std::vector<double> count(3, 0);
  double total = 0;
  for (int64_t i = 0; i < 24; ++i)
    if (kept->i64()[i] >= 0)
      count[size_t(kept->i64()[i])] += 1, total += 1;
  double entropy = 0;
  for (double c : count)
    if (c > 0)
      entropy -= c / total * std::log(c / total);
  EXPECT_NEAR(r2.classMI->nats, entropy, 1e-9);
  // -1 is no class for image labels, and other negatives never are.
  kept->i64()[5] = -2;
  EXPECT_FALSE(computeRoutingReport("layer", w2, &*kept));
  HostTensor minusOne = labelsOf({0, 1, -1, 0, 1, 2});
  EXPECT_FALSE(computeRoutingReport("layer", w, &minusOne));
}

TEST(RoutingReport, BatchesAccumulateToTheWhole) {
  const int64_t B = 7, P = 6, E = 3;
  HostTensor w = randomRouting(DType::F32, B, P, E);
  std::vector<int64_t> lv;
  for (int64_t b = 0; b < B; ++b)
    lv.push_back(int64_t(rng()() % 4));
  HostTensor labels = labelsOf(lv);
  auto whole = report(w, &labels, 4);

  RoutingAccumulator acc("layer0.routing", 4);
  for (int64_t b0 = 0; b0 < B; b0 += 3) {
    const int64_t n = std::min<int64_t>(3, B - b0);
    // A padded chunk of 3: only its first n images count.
    auto chunk = HostTensor::create(DType::F32, {3, P, E});
    auto lchunk = HostTensor::create(DType::I64, {3});
    std::memcpy(chunk->f32(), w.f32() + b0 * P * E, size_t(n * P * E) * sizeof(float));
    std::memcpy(lchunk->i64(), labels.i64() + b0, size_t(n) * sizeof(int64_t));
    for (int64_t i = n * P * E; i < 3 * P * E; ++i)
      chunk->f32()[i] = std::nanf(""); // padding is never read
    ASSERT_TRUE(acc.add(*chunk, &*lchunk, n));
  }
  EXPECT_EQ(acc.items(), B);
  auto parts = acc.finish();
  ASSERT_TRUE(parts) << parts.error();
  EXPECT_NEAR(parts->entropy.nats, whole.entropy.nats, 1e-12);
  EXPECT_EQ(parts->usage, whole.usage);
  EXPECT_EQ(parts->routingMap, whole.routingMap);
  EXPECT_NEAR(parts->positionMI.nats, whole.positionMI.nats, 1e-12);
  EXPECT_NEAR(parts->classMI->nats, whole.classMI->nats, 1e-12);
  for (int64_t e = 0; e < E; ++e)
    EXPECT_NEAR(parts->meanWeight[e], whole.meanWeight[e], 1e-12);
  // Classes grow with the labels when not fixed.
  RoutingAccumulator grow("g");
  HostTensor l1 = labelsOf({0, 1}), l2 = labelsOf({5, 2});
  HostTensor w2 = oneHot(2, 1, 2, [](int64_t b, int64_t) { return b; });
  ASSERT_TRUE(grow.add(w2, &l1));
  ASSERT_TRUE(grow.add(w2, &l2));
  auto g = grow.finish();
  ASSERT_TRUE(g) << g.error();
  EXPECT_EQ(g->classes, 6);
  EXPECT_NEAR(g->classMI->nats, std::log(2.0), kTol);
}

TEST(RoutingReport, F64WeightsMatchF32) {
  HostTensor w64 = randomRouting(DType::F64, 3, 4, 5);
  auto w32 = HostTensor::create(DType::F32, w64.shape);
  for (int64_t i = 0; i < w64.numel(); ++i)
    w32->f32()[i] = float(w64.f64()[i]);
  auto a = report(w64), b = report(*w32);
  EXPECT_NEAR(a.entropy.nats, b.entropy.nats, 1e-6);
  EXPECT_EQ(a.usage, b.usage);
}

TEST(RoutingReport, PatchGrid) {
  EXPECT_EQ(inferPatchGrid(16, 28, 28), std::make_pair(int64_t(4), int64_t(4)));
  EXPECT_EQ(inferPatchGrid(49, 28, 28), std::make_pair(int64_t(7), int64_t(7)));
  EXPECT_EQ(inferPatchGrid(4, 28, 28), std::make_pair(int64_t(2), int64_t(2))); // square patches win
  EXPECT_EQ(inferPatchGrid(8, 8, 16), std::make_pair(int64_t(2), int64_t(4)));  // 4 x 4 patches
  EXPECT_EQ(inferPatchGrid(3, 6, 5), std::make_pair(int64_t(3), int64_t(1)));   // the only one
  EXPECT_EQ(inferPatchGrid(1, 28, 28), std::make_pair(int64_t(1), int64_t(1)));
  EXPECT_FALSE(inferPatchGrid(5, 28, 28)); // no factorisation divides the image
  EXPECT_EQ(inferPatchGrid(4, 4, 16), std::make_pair(int64_t(1), int64_t(4))); // 4x4 patches, not 2x8 or 1x16
  EXPECT_FALSE(inferPatchGrid(2, 4, 6)); // 4x3 or 2x6 patches: ambiguous
  EXPECT_EQ(inferPatchGrid(9), std::make_pair(int64_t(3), int64_t(3)));
  EXPECT_FALSE(inferPatchGrid(8));
  EXPECT_FALSE(inferPatchGrid(0, 4, 4));
  // computeRoutingReport knows no image: a perfect square P is a square grid.
  EXPECT_EQ(report(oneHot(1, 9, 2, [](int64_t, int64_t) { return 0; })).grid,
            std::make_pair(int64_t(3), int64_t(3)));
  EXPECT_FALSE(report(oneHot(1, 6, 2, [](int64_t, int64_t) { return 0; })).grid);
}

TEST(RoutingReport, InvalidInputIsAnError) {
  auto w = oneHot(2, 3, 2, [](int64_t, int64_t p) { return p % 2; });
  // Shapes and dtypes.
  EXPECT_CONTAINS(reportError(randomTensor(DType::F32, {2, 3})),
                  "layer0.routing: routing weights must be f32 or f64 [images, patches, experts]");
  EXPECT_CONTAINS(reportError(randomTensor(DType::I64, {2, 3, 2})), "found i64[2,3,2]");
  EXPECT_CONTAINS(reportError(*HostTensor::create(DType::F32, {2, 0, 2})), "at least one patch and one expert");
  EXPECT_CONTAINS(reportError(*HostTensor::create(DType::F32, {0, 3, 2})), "layer0.routing: no images to report on");
  HostTensor torn = w;
  torn.shape[0] = 3; // claims more than it holds
  EXPECT_CONTAINS(reportError(torn), "does not hold numel x itemsize bytes");
  // Values.
  HostTensor nan = w;
  nan.f32()[7] = std::nanf("");
  EXPECT_CONTAINS(reportError(nan), "layer0.routing: image 1, patch 0, expert 1: weight nan is not a routing weight");
  HostTensor inf = w;
  inf.f32()[0] = INFINITY;
  EXPECT_CONTAINS(reportError(inf), "image 0, patch 0, expert 0: weight inf is not a routing weight");
  HostTensor neg = w;
  neg.f32()[3] = -0.25f;
  EXPECT_CONTAINS(reportError(neg), "image 0, patch 1, expert 1: weight -0.25 is not a routing weight");
  HostTensor big = w;
  big.f32()[5] = 0.5f; // patch 2 of image 0: (1, 0.5)
  EXPECT_CONTAINS(reportError(big), "image 0, patch 2: the 2 weights sum to 1.5, more than 1");
  // Labels.
  HostTensor three = labelsOf({0, 1, 2});
  EXPECT_CONTAINS(reportError(w, &three), "layer0.routing: 3 labels for routing weights f32[2,3,2]");
  HostTensor negLabel = labelsOf({0, -1});
  EXPECT_CONTAINS(reportError(w, &negLabel), "label -1 of image 1 is not one of the classes");
  HostTensor high = labelsOf({0, 10});
  EXPECT_CONTAINS(reportError(w, &high, 10), "label 10 of image 1 is not one of the 10 classes");
  HostTensor floats = randomTensor(DType::F32, {2});
  EXPECT_CONTAINS(reportError(w, &floats), "labels must be integer (i64, i32 or u8) [images] or [images, 3 patches], found f32[2]");
  // Batches that disagree; a failed add adds nothing.
  RoutingAccumulator acc("layer1.routing");
  ASSERT_TRUE(acc.add(w));
  Status s = acc.add(oneHot(2, 4, 2, [](int64_t, int64_t) { return 0; }));
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), "layer1.routing: routing weights f32[2,4,2] do not match the earlier batches' 3 "
                               "patches and 2 experts");
  HostTensor two = labelsOf({0, 1});
  s = acc.add(w, &two);
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), "labels given for this batch but not for the earlier ones");
  ASSERT_FALSE(acc.add(nan));
  ASSERT_FALSE(acc.add(w, nullptr, 3));
  EXPECT_EQ(acc.items(), 2);
  auto r = acc.finish();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->items, 2);
  // Positions 0, 2 -> expert 0, position 1 -> expert 1: I = H(expert) = H(2/3, 1/3).
  const double h = -(2.0 / 3) * std::log(2.0 / 3) - (1.0 / 3) * std::log(1.0 / 3);
  EXPECT_NEAR(r->positionMI.nats, h, kTol);
  EXPECT_NEAR(r->positionMI.normalized, h / std::log(2.0), kTol);
  EXPECT_CONTAINS(RoutingAccumulator("empty").finish().error(), "empty: no images to report on");
}

TEST(RoutingReport, JsonAndMarkdown) {
  HostTensor labels = labelsOf({0, 1, 1});
  auto layer = report(oneHot(3, 4, 2, [](int64_t, int64_t p) { return p % 2; }), &labels, 2);
  layer.grid = inferPatchGrid(4, 8, 8);
  RoutingReport rep;
  rep.items = 3;
  rep.imageSize = std::make_pair(int64_t(8), int64_t(8));
  rep.classes = 2;
  rep.layers.push_back(layer);
  auto listed = report(oneHot(3, 3, 2, [](int64_t b, int64_t) { return b % 2; }));
  listed.name = "layer1.routing";
  rep.layers.push_back(listed);
  // Every patch to expert 0 of 3: a collapsed router with two dead experts.
  auto collapsed = report(oneHot(2, 4, 3, [](int64_t, int64_t) { return 0; }));
  collapsed.name = "block.routing";
  rep.layers.push_back(collapsed);
  rep.skipped.emplace_back("layer2.routing", "layer2.routing: image 0, patch 0, expert 0: weight nan ...");

  auto json = parseJson(writeJson(routingReportToJson(rep), 2));
  ASSERT_TRUE(json) << json.error();
  std::vector<std::string> keys;
  for (const auto &[k, v] : *json->getObject())
    keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"format", "version", "items", "image_size", "classes", "layers",
                                            "skipped", "clusters", "paths", "examples", "cluster_exemplars",
                                            "training"}));
  EXPECT_EQ(*json->find("format")->getString(), "pce-routing-report");
  EXPECT_EQ(json->find("version")->intValue(), 1);
  EXPECT_EQ(json->find("classes")->intValue(), 2);
  const auto &layers = *json->find("layers")->getArray();
  ASSERT_EQ(layers.size(), 3u);
  keys.clear();
  for (const auto &[k, v] : *layers[0].getObject())
    keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "items", "patches", "experts", "grid", "entropy",
                                            "expert_usage", "mean_weight", "load_balance", "routing_map",
                                            "dominant_expert", "mi_position", "mi_class", "class_expert",
                                            "entropy_histogram", "expert_entropy", "warnings"}));
  const JsonValue &l0 = layers[0];
  EXPECT_EQ(*l0.find("name")->getString(), "layer0.routing");
  EXPECT_EQ(l0.find("grid")->getArray()->at(1).intValue(), 2);
  EXPECT_EQ(l0.find("entropy")->find("nats")->numberValue(), 0.0);
  EXPECT_EQ(l0.find("routing_map")->getArray()->size(), 4u);
  EXPECT_EQ(l0.find("routing_map")->getArray()->at(1).getArray()->at(1).numberValue(), 1.0);
  EXPECT_EQ(l0.find("dominant_expert")->getArray()->at(3).intValue(), 1);
  EXPECT_NEAR(l0.find("mi_position")->find("nats")->numberValue(), std::log(2.0), kTol);
  EXPECT_EQ(l0.find("mi_position")->find("normalized")->numberValue(), 1.0);
  EXPECT_EQ(l0.find("mi_class")->find("classes")->intValue(), 2);
  // Each class's patches: half to each expert; every patch one-hot (entropy 0).
  ASSERT_EQ(l0.find("class_expert")->getArray()->size(), 2u);
  EXPECT_EQ(l0.find("class_expert")->getArray()->at(1).getArray()->at(0).numberValue(), 0.5);
  ASSERT_EQ(l0.find("entropy_histogram")->getArray()->size(), size_t(kEntropyBins));
  EXPECT_EQ(l0.find("entropy_histogram")->getArray()->at(0).numberValue(), 1.0);
  EXPECT_TRUE(l0.find("warnings")->getArray()->empty());
  EXPECT_TRUE(layers[1].find("grid")->isNull());
  EXPECT_TRUE(layers[1].find("mi_class")->isNull());
  EXPECT_TRUE(layers[1].find("class_expert")->isNull());
  ASSERT_EQ(layers[2].find("warnings")->getArray()->size(), 3u);
  EXPECT_EQ(*layers[2].find("warnings")->getArray()->at(0).getString(),
            "the router has collapsed: expert 0 takes 100.0% of patches (90% or more)");
  const auto &skipped = *json->find("skipped")->getArray();
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(*skipped[0].find("name")->getString(), "layer2.routing");

  std::string md = routingReportMarkdown(rep);
  EXPECT_CONTAINS(md, "# Routing report\n");
  EXPECT_CONTAINS(md, "3 images of 8 x 8, labelled (2 classes).");
  EXPECT_CONTAINS(md, "## layer0.routing\n\n3 images, 4 patches (2 x 2 grid), 2 experts.");
  EXPECT_CONTAINS(md, "| router entropy | 0.0000 | 0.0000 |\n| I(expert; position) | 0.6931 | 1.0000 |\n"
                      "| I(expert; class) | 0.0000 | 0.0000 |\n");
  EXPECT_CONTAINS(md, "| 0 | 50.00% | 0.5000 |\n| 1 | 50.00% | 0.5000 |\n");
  EXPECT_CONTAINS(md, "| | 0 | 1 |\n|---:|---:|---:|\n| 0 | 0 (100%) | 1 (100%) |\n| 1 | 0 (100%) | 1 (100%) |\n");
  EXPECT_CONTAINS(md, "| patch | dominant expert |\n|---:|---:|\n| 0 | 0 (67%) |\n");
  EXPECT_CONTAINS(md, "## Not reported\n\n- layer2.routing: layer2.routing: image 0");
  EXPECT_CONTAINS(md, "Patches by router entropy / log E: [0.0, 0.1) 100.0%, [0.1, 0.2) 0.0%,");
  EXPECT_CONTAINS(md, "[0.9, 1.0] 0.0%.\n");
  EXPECT_CONTAINS(md, "| class | 0 | 1 |\n|---:|---:|---:|\n| 0 | 50.0% | 50.0% |\n| 1 | 50.0% | 50.0% |\n");
  EXPECT_CONTAINS(md, "**Warning**: the router has collapsed: expert 0 takes 100.0% of patches (90% or more).\n\n"
                      "**Warning**: expert 1 is dead: 0.0% of patches (below 1%).\n\n");

  auto lines = routingSummaryLines(rep);
  ASSERT_EQ(lines.size(), 6u); // two layers' lines, the third's and its three warnings
  EXPECT_EQ(lines[0], "routing layer0.routing: entropy 0.0000 nats (0.0000 of log 2), usage 50.0% 50.0%, "
                      "I(expert;position) 0.6931 nats (1.0000), I(expert;class) 0.0000 nats (0.0000)");
  EXPECT_EQ(lines[1], "routing layer1.routing: entropy 0.0000 nats (0.0000 of log 2), usage 66.7% 33.3%, "
                      "I(expert;position) 0.0000 nats (0.0000)");
  EXPECT_EQ(lines[3], "warning: block.routing: the router has collapsed: expert 0 takes 100.0% of patches "
                      "(90% or more)");
  EXPECT_EQ(lines[5], "warning: block.routing: expert 2 is dead: 0.0% of patches (below 1%)");

  TempDir dir;
  ASSERT_TRUE(writeRoutingReport(rep, dir.path()));
  auto back = parseJson(readBytes(dir.file("report.json")));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(writeJson(*back), writeJson(routingReportToJson(rep)));
  EXPECT_EQ(readBytes(dir.file("report.md")), md);
  Status s = writeRoutingReport(rep, dir.file("missing/dir"));
  ASSERT_FALSE(s);
  EXPECT_CONTAINS(s.message(), "missing/dir/report.json");
}

// report.html: each picture carries the numbers it draws; names are escaped.
#ifdef PCE_RUN_EXE
namespace {
std::string idxHeaderBytes(uint8_t type, const std::vector<uint32_t> &dims) {
  std::string h = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8)
      h += static_cast<char>((d >> s) & 0xff);
  return h;
}
} // namespace

// pce-run --routing on the fake classifier: routing (x, 1 - x) of pixels 0..3
// of row 0, so the report is that of the images' first pixels; it must equal
// computeRoutingReport on the written .npy and the labels.
TEST(RoutingReport, PceRunWritesTheReport) {
  TempDir dir;
  std::string art = dir.file("art");
  std::filesystem::create_directory(art);
  writeArtifact(art, fakeClassifierManifest());
  std::map<std::string, HostTensor> params;
  params["fc.weight"] = randomTensor(DType::F32, {10, 784});
  params["fc.bias"] = randomTensor(DType::F32, {10});
  ASSERT_TRUE(writeSafetensors(dir.file("w.safetensors"), params));

  const uint32_t n = 11; // one padded batch of 8
  std::string images = idxHeaderBytes(0x08, {n, 28, 28}), labels = idxHeaderBytes(0x08, {n});
  std::vector<int64_t> lv;
  std::uniform_int_distribution<int> byte(0, 255), cls(0, 9);
  for (uint32_t i = 0; i < n; ++i) {
    std::string img(784, '\0');
    for (auto &c : img)
      c = static_cast<char>(byte(rng()));
    images += img;
    lv.push_back(cls(rng()));
    labels += static_cast<char>(lv.back());
  }
  writeBytes(dir.file("images"), images);
  writeBytes(dir.file("labels"), labels);

  std::string out;
  std::string cmd = shellQuote(PCE_RUN_EXE) + " " + shellQuote(art) + " --weights " +
                    shellQuote(dir.file("w.safetensors")) + " --idx-images " + shellQuote(dir.file("images")) +
                    " --idx-labels " + shellQuote(dir.file("labels")) + " --routing " + shellQuote(dir.file("r"));
  ASSERT_EQ(runCommand(cmd, &out), 0) << out;
  auto w = readNpy(dir.file("r/layer0.routing.npy"));
  ASSERT_TRUE(w) << w.error();
  HostTensor lt = labelsOf(lv);
  auto expected = computeRoutingReport("layer0.routing", *w, &lt, 10);
  ASSERT_TRUE(expected) << expected.error();
  expected->grid = std::make_pair(int64_t(2), int64_t(2)); // P = 4 on 28 x 28: 14 x 14 patches
  RoutingReport rep;
  rep.items = n;
  rep.imageSize = std::make_pair(int64_t(28), int64_t(28));
  rep.classes = 10;
  rep.layers.push_back(*expected);
  // pce-run's default route clustering: k = 4, seed 1.
  auto clusters = clusterRoutes({&*w}, n, 4);
  ASSERT_TRUE(clusters) << clusters.error();
  rep.clusters = *clusters;
  // The example images pce-run picked: the first images of the first 4 classes
  // met (at most 3 each), each patch with its argmax expert and weight.
  auto written = parseJson(readBytes(dir.file("r/report.json")));
  ASSERT_TRUE(written) << written.error();
  std::map<int64_t, int> perClass;
  for (int64_t i = 0; i < int64_t(n); ++i)
    if (perClass.count(lv[size_t(i)]) || perClass.size() < 4)
      if (perClass[lv[size_t(i)]] < 3) {
        ++perClass[lv[size_t(i)]];
        RoutingExample ex;
        ex.item = i;
        ex.label = lv[size_t(i)];
        ex.expert.emplace_back();
        ex.weight.emplace_back();
        for (int64_t p = 0; p < 4; ++p) {
          const float *row = w->f32() + (i * 4 + p) * 2;
          ex.expert[0].push_back(row[1] > row[0] ? 1 : 0);
          ex.weight[0].push_back(std::max(row[0], row[1]));
        }
        rep.examples.push_back(ex);
      }
  std::stable_sort(rep.examples.begin(), rep.examples.end(),
                   [](const RoutingExample &a, const RoutingExample &b) { return a.label < b.label; });
  for (int64_t i : clusters->exemplars)
    for (const auto &ex : rep.examples)
      if (ex.item == i)
        rep.clusterExemplars.push_back(ex);
  // (An exemplar that is not among the examples is checked by its item.)
  const auto &exemplars = *written->find("cluster_exemplars")->getArray();
  ASSERT_EQ(exemplars.size(), clusters->exemplars.size());
  for (size_t c = 0; c < exemplars.size(); ++c)
    EXPECT_EQ(exemplars[c].find("item")->intValue(), clusters->exemplars[c]);
  JsonValue want = routingReportToJson(rep);
  EXPECT_EQ(writeJson(*written->find("examples")), writeJson(*want.find("examples")));
  EXPECT_EQ(writeJson(*written->find("layers")), writeJson(*want.find("layers")));
  EXPECT_EQ(writeJson(*written->find("clusters")), writeJson(*want.find("clusters")));
  EXPECT_EQ(readBytes(dir.file("r/report.md")), routingReportMarkdown(rep));
  EXPECT_CONTAINS(readBytes(dir.file("r/report.html")), "<div id=\"layer0-examples\" class=\"examples\">");
  EXPECT_CONTAINS(out, "accuracy: top-1 ");
  EXPECT_CONTAINS(out, "\n" + routingSummaryLines(rep)[0] + "\n");

  // Without --routing there is no report and no summary line.
  ASSERT_EQ(runCommand(shellQuote(PCE_RUN_EXE) + " " + shellQuote(art) + " --weights " +
                           shellQuote(dir.file("w.safetensors")) + " --idx-images " + shellQuote(dir.file("images")),
                       &out),
            0)
      << out;
  EXPECT_EQ(out.find("routing "), std::string::npos) << out;

  // A routing result that is no distribution (the .npy mode on "forward", whose
  // routing is (x, y)) gets a warning and an entry under "skipped"; the .npy
  // files are written and pce-run succeeds.
  std::filesystem::create_directory(dir.file("art2"));
  writeArtifact(dir.file("art2"), fakeManifest());
  std::map<std::string, HostTensor> p2;
  p2["w"] = randomTensor(DType::F32, {3});
  p2["b"] = randomTensor(DType::F32, {3});
  ASSERT_TRUE(writeSafetensors(dir.file("w2.safetensors"), p2));
  HostTensor x = randomTensor(DType::F32, {2, 3});
  x.f32()[0] = -0.5f;
  ASSERT_TRUE(writeNpy(dir.file("x.npy"), x));
  ASSERT_EQ(runCommand(shellQuote(PCE_RUN_EXE) + " " + shellQuote(dir.file("art2")) + " --weights " +
                           shellQuote(dir.file("w2.safetensors")) + " --input " + shellQuote(dir.file("x.npy")) +
                           " --output " + shellQuote(dir.file("y.npy")) + " --routing " + shellQuote(dir.file("r2")),
                       &out),
            0)
      << out;
  EXPECT_CONTAINS(out, "pce-run: warning: no routing report: layer0.routing: image 0, patch 0, expert 0: "
                       "weight -0.5 is not a routing weight");
  auto skipped = parseJson(readBytes(dir.file("r2/report.json")));
  ASSERT_TRUE(skipped) << skipped.error();
  EXPECT_EQ(skipped->find("layers")->getArray()->size(), 0u);
  EXPECT_EQ(skipped->find("skipped")->getArray()->size(), 1u);
  EXPECT_TRUE(skipped->find("image_size")->isNull()); // input x is f32[2,3]
  EXPECT_TRUE(std::filesystem::exists(dir.file("r2/layer0.routing.npy")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("r2/report.md")));
}
#endif
