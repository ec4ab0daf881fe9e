//===- RoutingReportReferenceTest.cpp - runtime report vs float64 reference ===//
//
// runtime/RoutingReport.h (plain C++, float32 weights, histograms) against the
// float64 LibTorch reference of SEMANTICS.md §5 (Reference.h: routerEntropy,
// expertUsage, routingMap, positionMutualInformation, classMutualInformation,
// loadBalancingLoss) on fresh random routing tensors: dense softmax, top-k cut
// (renormalised or not), the position router, and coarse weights full of ties.
// The reference sees the float32 weights widened to float64 (exactly), so the
// two agree to 1e-6 relative. The seed is printed; PCE_TEST_SEED=<n> repeats it.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/Reference.h"

#include "runtime/RoutingClusters.h"
#include "runtime/RoutingPaths.h"
#include "runtime/RoutingReport.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>

namespace rt = pce::rt;
namespace ref = pce::ref;

namespace {

uint64_t seed() {
  static const uint64_t s = [] {
    uint64_t v;
    if (const char *env = std::getenv("PCE_TEST_SEED"))
      v = std::strtoull(env, nullptr, 10);
    else
      v = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    std::printf("[routing-report-reference] random seed %llu (set PCE_TEST_SEED to repeat)\n",
                static_cast<unsigned long long>(v));
    return v;
  }();
  return s;
}

std::mt19937_64 &rng() {
  static std::mt19937_64 gen(seed());
  return gen;
}

// Seeds torch from the printed seed and the test's own offset.
void seedTorch(uint64_t offset) { torch::manual_seed(seed() + offset); }

// |a - b| <= 1e-6 |b| (+1e-12 for values that are zero up to rounding).
void expectClose(double ours, double want, const std::string &what) {
  EXPECT_LE(std::abs(ours - want), 1e-6 * std::abs(want) + 1e-12)
      << what << ": runtime " << ours << ", reference " << want;
}

// f32 [B,P,E] HostTensor holding w (float64) rounded to float32; w is replaced
// by the float32 values widened back, so both sides see the same numbers.
rt::HostTensor toHost(torch::Tensor &w) {
  auto w32 = w.to(torch::kFloat).contiguous();
  w = w32.to(torch::kDouble);
  auto t = rt::HostTensor::create(rt::DType::F32, {w.size(0), w.size(1), w.size(2)});
  EXPECT_TRUE(t) << t.error();
  std::memcpy(t->f32(), w32.data_ptr<float>(), size_t(w32.numel()) * sizeof(float));
  return std::move(*t);
}

rt::HostTensor labelsToHost(const torch::Tensor &labels) {
  auto l = labels.to(torch::kLong).contiguous();
  auto t = rt::HostTensor::create(rt::DType::I64, {l.size(0)});
  EXPECT_TRUE(t) << t.error();
  std::memcpy(t->i64(), l.data_ptr<int64_t>(), size_t(l.numel()) * sizeof(int64_t));
  return std::move(*t);
}

// Compares every quantity of the runtime's report of w [B,P,E] (and labels) with
// the reference.
void compare(torch::Tensor w, const torch::Tensor &labels, int64_t classes, const std::string &what) {
  SCOPED_TRACE(what);
  rt::HostTensor host = toHost(w); // w now holds the float32 values
  rt::HostTensor hostLabels;
  if (labels.defined())
    hostLabels = labelsToHost(labels);
  auto got = rt::computeRoutingReport("layer0.routing", host, labels.defined() ? &hostLabels : nullptr,
                                      labels.defined() ? classes : 0);
  ASSERT_TRUE(got) << got.error();
  const int64_t P = w.size(1), E = w.size(2);

  auto entropy = ref::routerEntropy(w);
  expectClose(got->entropy.nats, entropy.mean, "entropy");
  expectClose(got->entropy.normalized, entropy.normalized, "entropy / log E");

  auto usage = ref::expertUsage(w);
  auto mean = w.reshape({-1, E}).mean(0);
  for (int64_t e = 0; e < E; ++e) {
    expectClose(got->usage[e], usage[e].item<double>(), "usage of expert " + std::to_string(e));
    expectClose(got->meanWeight[e], mean[e].item<double>(), "mean weight of expert " + std::to_string(e));
  }
  expectClose(got->loadBalance, ref::loadBalancingLoss(w).item<double>(), "load balance");

  auto map = ref::routingMap(w);
  ASSERT_EQ(map.size(0), P);
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t e = 0; e < E; ++e)
      expectClose(got->mapAt(p, e), map[p][e].item<double>(),
                  "routing map [" + std::to_string(p) + "," + std::to_string(e) + "]");
    // The dominant expert: the reference map's argmax (ties: lower index).
    EXPECT_EQ(got->dominant[p], map[p].argmax().item<int64_t>()) << "patch " << p;
  }

  auto pos = ref::positionMutualInformation(w);
  expectClose(got->positionMI.nats, pos.nats, "I(expert; position)");
  expectClose(got->positionMI.normalized, pos.normalized, "I(expert; position) normalised");

  if (labels.defined()) {
    ASSERT_TRUE(got->classMI);
    EXPECT_EQ(got->classes, classes);
    auto cls = ref::classMutualInformation(w, labels, classes);
    expectClose(got->classMI->nats, cls.nats, "I(expert; class)");
    expectClose(got->classMI->normalized, cls.normalized, "I(expert; class) normalised");
    // Class x expert: per class, the share of its patches whose argmax is e.
    auto choice = ref::argmaxExpert(w);                            // [B,P]
    auto perImage = torch::one_hot(choice, E).to(torch::kDouble).sum(1); // [B,E]
    auto byClass = torch::zeros({classes, E}, torch::kDouble).index_add_(0, labels, perImage);
    auto totals = byClass.sum(1, true);
    auto shares = torch::where(totals > 0, byClass / totals.clamp_min(1), torch::zeros_like(byClass));
    ASSERT_EQ(int64_t(got->classExpert.size()), classes * E);
    for (int64_t c = 0; c < classes; ++c)
      for (int64_t e = 0; e < E; ++e)
        expectClose(got->classExpert[c * E + e], shares[c][e].item<double>(),
                    "class x expert [" + std::to_string(c) + "," + std::to_string(e) + "]");
  } else {
    EXPECT_FALSE(got->classMI);
    EXPECT_TRUE(got->classExpert.empty());
  }

  // Entropy histogram: each patch's entropy / log E in float64, binned. A
  // patch within 1e-9 of a bin edge may fall on either side of it.
  auto rows = w.reshape({-1, E});
  auto h = -torch::where(rows > 0, rows * rows.clamp_min(1e-300).log(), torch::zeros_like(rows)).sum(1);
  auto level = E > 1 ? h / std::log(double(E)) : torch::zeros_like(h);
  auto scaled = level * double(rt::kEntropyBins);
  auto bins = scaled.floor().clamp(0, rt::kEntropyBins - 1).to(torch::kLong);
  auto edge = ((scaled - scaled.round()).abs() < 1e-9) & (scaled.round() > 0) & (scaled.round() < rt::kEntropyBins);
  const double n = double(rows.size(0)), slack = edge.sum().item<double>() / n;
  auto want = torch::bincount(bins, {}, rt::kEntropyBins).to(torch::kDouble) / n;
  ASSERT_EQ(int64_t(got->entropyHistogram.size()), rt::kEntropyBins);
  for (int64_t i = 0; i < rt::kEntropyBins; ++i)
    EXPECT_LE(std::abs(got->entropyHistogram[i] - want[i].item<double>()), slack + 1e-12)
        << "entropy bin " << i;
  // Per expert: the mean entropy / log E of the patches whose argmax it is.
  auto choice = ref::argmaxExpert(w).reshape({-1});
  ASSERT_EQ(int64_t(got->expertEntropy.size()), E);
  for (int64_t e = 0; e < E; ++e) {
    auto mine = choice == e;
    const double want = mine.any().item<bool>() ? level.index({mine}).mean().item<double>() : 0.0;
    expectClose(got->expertEntropy[e], want, "entropy of expert " + std::to_string(e));
  }
  // The warnings follow from the usage by one rule.
  EXPECT_EQ(got->warnings, rt::routingWarnings(got->usage));
}

struct Size {
  int64_t B, P, E, classes;
};
const Size kSizes[] = {{1, 1, 1, 1}, {2, 4, 2, 3}, {5, 16, 4, 10}, {16, 49, 4, 10}, {7, 6, 8, 2}, {33, 9, 3, 5}};

std::string describe(const Size &s) {
  return "B=" + std::to_string(s.B) + " P=" + std::to_string(s.P) + " E=" + std::to_string(s.E) +
         " classes=" + std::to_string(s.classes);
}

// Random labels in [0, classes), and a copy of w where the class biases the
// router towards expert (label mod E), so I(expert; class) is not just noise.
torch::Tensor randomLabels(const Size &s) { return torch::randint(0, s.classes, {s.B}, torch::kLong); }

torch::Tensor classBiasedLogits(const Size &s, const torch::Tensor &labels, double scale) {
  auto logits = torch::randn({s.B, s.P, s.E}, torch::kDouble) * scale;
  auto bias = torch::one_hot(labels.remainder(s.E), s.E).to(torch::kDouble).unsqueeze(1); // [B,1,E]
  return logits + 1.5 * bias;
}

} // namespace

TEST(RoutingReportReference, DenseSoftmax) {
  seedTorch(1);
  for (const Size &s : kSizes)
    for (double scale : {0.1, 1.0, 4.0}) {
      auto labels = randomLabels(s);
      auto w = torch::softmax(classBiasedLogits(s, labels, scale), -1);
      compare(w, labels, s.classes, describe(s) + " scale=" + std::to_string(scale));
      compare(w, torch::Tensor(), 0, describe(s) + " unlabelled");
    }
}

TEST(RoutingReportReference, TopKCut) {
  seedTorch(2);
  for (const Size &s : kSizes)
    for (int64_t k : {1, 2})
      for (bool renormalize : {false, true}) {
        auto labels = randomLabels(s);
        auto w = ref::applyTopK(torch::softmax(classBiasedLogits(s, labels, 2.0), -1), k, renormalize);
        compare(w, labels, s.classes,
                describe(s) + " k=" + std::to_string(k) + " renormalize=" + std::to_string(renormalize));
      }
}

TEST(RoutingReportReference, PositionRouter) {
  seedTorch(3);
  for (const Size &s : kSizes) {
    ref::RouterConfig cfg;
    cfg.kind = ref::RouterKind::Position;
    cfg.numExperts = s.E;
    cfg.beta = 2.0;
    cfg.sigma = 1.0; // training noise: the position mostly, not always, decides
    cfg.training = true;
    cfg.topK = 1;
    auto emb = torch::zeros({s.B, s.P, 1}, torch::kDouble);
    auto w = ref::route(emb, cfg, ref::RouterParams{});
    compare(w, randomLabels(s), s.classes, describe(s) + " position router");
    cfg.sigma = 0.0; // the position alone: I(expert; position) = log min(E, P) when P >= E
    compare(ref::route(emb, cfg, ref::RouterParams{}), randomLabels(s), s.classes,
            describe(s) + " position router, no noise");
  }
}

TEST(RoutingReportReference, CoarseWeightsWithTies) {
  seedTorch(4);
  // Weights from a few levels, normalised: many exact ties for the argmax.
  for (const Size &s : kSizes) {
    auto levels = torch::randint(0, 3, {s.B, s.P, s.E}, torch::kLong).to(torch::kDouble);
    levels.select(2, 0).clamp_min_(1.0); // no all-zero rows
    auto w = levels / levels.sum(-1, true);
    compare(w, randomLabels(s), s.classes, describe(s) + " ties");
    // Exactly uniform rows: every argmax is expert 0.
    compare(torch::full({s.B, s.P, s.E}, 1.0 / double(s.E), torch::kDouble), randomLabels(s), s.classes,
            describe(s) + " uniform");
  }
}

TEST(RoutingReportReference, BatchesAgreeWithTheWholeSet) {
  seedTorch(5);
  const Size s{23, 16, 4, 10};
  auto labels = randomLabels(s);
  auto w = torch::softmax(classBiasedLogits(s, labels, 1.0), -1);
  rt::HostTensor all = toHost(w);
  rt::RoutingAccumulator acc("layer0.routing", s.classes);
  std::uniform_int_distribution<int64_t> step(1, 6);
  for (int64_t b0 = 0; b0 < s.B;) {
    const int64_t n = std::min(step(rng()), s.B - b0);
    auto part = w.slice(0, b0, b0 + n).clone();
    rt::HostTensor host = toHost(part);
    rt::HostTensor hl = labelsToHost(labels.slice(0, b0, b0 + n));
    ASSERT_TRUE(acc.add(host, &hl));
    b0 += n;
  }
  auto got = acc.finish();
  ASSERT_TRUE(got) << got.error();
  expectClose(got->entropy.nats, ref::routerEntropy(w).mean, "entropy");
  expectClose(got->positionMI.nats, ref::positionMutualInformation(w).nats, "I(expert; position)");
  expectClose(got->classMI->nats, ref::classMutualInformation(w, labels, s.classes).nats, "I(expert; class)");
  auto usage = ref::expertUsage(w);
  for (int64_t e = 0; e < s.E; ++e)
    expectClose(got->usage[e], usage[e].item<double>(), "usage");
}

TEST(RoutingWarnings, DeadOverloadedAndCollapsed) {
  EXPECT_TRUE(rt::routingWarnings({0.25, 0.25, 0.25, 0.25}).empty());
  EXPECT_TRUE(rt::routingWarnings({1.0}).empty()) << "one expert has nothing to balance";
  // The main job's layer 1: an expert nobody used.
  auto dead = rt::routingWarnings({0.40, 0.0, 0.35, 0.25});
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0], "expert 1 is dead: 0.0% of patches (below 1%)");
  auto over = rt::routingWarnings({0.609, 0.079, 0.173, 0.139});
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0], "expert 0 is overloaded: 60.9% of patches (more than 2 x the balanced 25.0%)");
  // Two experts: 70/30 is no overload (2 x 50% cannot be exceeded) but 95/5 is a collapse.
  EXPECT_TRUE(rt::routingWarnings({0.7, 0.3}).empty());
  auto collapsed = rt::routingWarnings({0.005, 0.95, 0.03, 0.015});
  ASSERT_EQ(collapsed.size(), 2u);
  EXPECT_EQ(collapsed[0], "the router has collapsed: expert 1 takes 95.0% of patches (90% or more)");
  EXPECT_EQ(collapsed[1], "expert 0 is dead: 0.5% of patches (below 1%)");
}

// Route clustering against float64 LibTorch: the k-means result is a fixed
// point (every image nearest its own centroid, every centroid its members'
// mean), each exemplar is its cluster's image nearest the centroid, and the
// silhouette equals an independent computation over the same images.
TEST(RoutingClustersReference, KMeansFixedPointAndSilhouette) {
  seedTorch(6);
  for (auto [B, P, E, groups] : {std::array<int64_t, 4>{60, 4, 3, 3}, {200, 16, 4, 4}, {7, 2, 2, 5}}) {
    SCOPED_TRACE("B=" + std::to_string(B) + " P=" + std::to_string(P) + " E=" + std::to_string(E));
    // Images from `groups` routing patterns plus noise; two routing results.
    auto pattern = torch::randint(0, groups, {B}, torch::kLong);
    auto centres = torch::randn({groups, P, E}, torch::kDouble) * 3;
    auto w1 = torch::softmax(centres.index_select(0, pattern) + torch::randn({B, P, E}, torch::kDouble), -1);
    auto w2 = torch::softmax(torch::randn({B, 3, 2}, torch::kDouble), -1);
    rt::HostTensor h1 = toHost(w1), h2 = toHost(w2);
    auto got = rt::clusterRoutes({&h1, &h2}, B, groups, 7);
    ASSERT_TRUE(got) << got.error();
    const int64_t k = std::min(groups, B), dims = P * E + 6;
    ASSERT_EQ(got->k, k);
    ASSERT_EQ(got->dims, dims);
    auto x = torch::cat({w1.reshape({B, -1}), w2.reshape({B, -1})}, 1); // the float32 values, widened
    auto centroids = torch::from_blob(got->centroids.data(), {k, dims}, torch::kDouble).clone();
    auto assignment = torch::from_blob(got->assignment.data(), {B}, torch::kLong).clone();
    auto d = torch::cdist(x, centroids);
    if (got->iterations < 100) {
      // Nearest centroid (up to rounding between equally near centroids).
      auto own = d.gather(1, assignment.unsqueeze(1)).squeeze(1);
      EXPECT_LE((own - std::get<0>(d.min(1))).max().item<double>(), 1e-9);
      for (int64_t c = 0; c < k; ++c) {
        auto members = (assignment == c).nonzero().squeeze(1);
        EXPECT_EQ(members.size(0), got->sizes[size_t(c)]);
        if (members.size(0) == 0)
          continue;
        EXPECT_LE((x.index_select(0, members).mean(0) - centroids[c]).abs().max().item<double>(), 1e-9);
        auto within = d.index_select(0, members).select(1, c);
        EXPECT_NEAR(d[got->exemplars[size_t(c)]][c].item<double>(), within.min().item<double>(), 1e-12);
      }
    }
    // Silhouette over the evenly spaced sample, from the pairwise distances.
    const int64_t m = std::min<int64_t>(B, rt::kSilhouetteImages);
    std::vector<int64_t> sample;
    for (int64_t s = 0; s < m; ++s)
      sample.push_back(s * B / m);
    auto idx = torch::tensor(sample, torch::kLong);
    auto xs = x.index_select(0, idx), as = assignment.index_select(0, idx);
    auto pd = torch::cdist(xs, xs);
    double total = 0;
    for (int64_t i = 0; i < m; ++i) {
      auto own = (as == as[i]);
      own[i] = false;
      if (own.sum().item<int64_t>() == 0)
        continue;
      const double a = pd[i].masked_select(own).mean().item<double>();
      double b = INFINITY;
      for (int64_t c = 0; c < k; ++c) {
        auto in = (as == c);
        if (c == as[i].item<int64_t>() || in.sum().item<int64_t>() == 0)
          continue;
        b = std::min(b, pd[i].masked_select(in).mean().item<double>());
      }
      if (std::isinf(b) || std::max(a, b) == 0)
        continue;
      total += (b - a) / std::max(a, b);
    }
    EXPECT_EQ(got->silhouetteImages, m);
    expectClose(got->silhouette, total / double(m), "silhouette");
  }
}

TEST(RoutingClustersReference, BadInputIsAnError) {
  auto w = rt::HostTensor::create(rt::DType::F32, {2, 3, 4});
  ASSERT_TRUE(w);
  EXPECT_FALSE(rt::clusterRoutes({}, 2, 2));
  EXPECT_FALSE(rt::clusterRoutes({&*w}, 0, 2));
  EXPECT_FALSE(rt::clusterRoutes({&*w}, 2, 0));
  auto bad = rt::clusterRoutes({&*w}, 3, 2); // more images than the tensor holds
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("[>= 3, P, E]"), std::string::npos) << bad.error();
}

// A collapsed router: every image routes alike, so all images share one
// cluster and the others are empty, with exemplar -1 (which pce-run and
// pce-train's phase reports skip: pce-train once indexed the images with it).
TEST(RoutingClustersReference, IdenticalRoutesLeaveEmptyClusters) {
  auto w = rt::HostTensor::create(rt::DType::F32, {6, 2, 3});
  ASSERT_TRUE(w);
  for (int64_t i = 0; i < 6 * 2 * 3; ++i)
    w->f32()[i] = i % 3 == 0 ? 1.0f : 0.0f;
  auto got = rt::clusterRoutes({&*w}, 6, 3);
  ASSERT_TRUE(got) << got.error();
  int64_t used = 0;
  for (int64_t c = 0; c < got->k; ++c) {
    if (got->sizes[c] == 0) {
      EXPECT_EQ(got->exemplars[c], -1) << "cluster " << c;
    } else {
      ++used;
      EXPECT_GE(got->exemplars[c], 0);
      EXPECT_LT(got->exemplars[c], 6);
    }
  }
  EXPECT_EQ(used, 1);
}

// Routing paths against an independent formulation: patch centres in
// floating point, argmax by LibTorch, paths counted in a std::map of strings.
TEST(RoutingPathsReference, CountsMatchAnIndependentFormulation) {
  seedTorch(7);
  struct Case {
    int64_t B;
    std::vector<std::pair<int64_t, int64_t>> grids;
    std::vector<int64_t> experts;
  };
  for (const Case &c : {Case{9, {{4, 4}, {7, 7}}, {4, 4}}, Case{5, {{2, 3}, {4, 6}, {1, 1}}, {3, 2, 5}},
                        Case{12, {{7, 7}, {2, 2}}, {2, 3}}}) {
    std::vector<torch::Tensor> ws;
    std::vector<rt::HostTensor> hosts;
    for (size_t l = 0; l < c.grids.size(); ++l) {
      auto w = torch::softmax(torch::randn({c.B, c.grids[l].first * c.grids[l].second, c.experts[l]},
                                           torch::kDouble) * 2, -1);
      hosts.push_back(toHost(w));
      ws.push_back(w);
    }
    std::vector<const rt::HostTensor *> ptrs;
    for (const auto &h : hosts)
      ptrs.push_back(&h);
    auto got = rt::computeRoutingPaths(ptrs, c.grids, c.B, 1000);
    ASSERT_TRUE(got) << got.error();
    const int64_t rows0 = c.grids[0].first, cols0 = c.grids[0].second, P = rows0 * cols0;
    std::map<std::string, int64_t> want;
    for (int64_t i = 0; i < c.B; ++i)
      for (int64_t p = 0; p < P; ++p) {
        const double y = (double(p / cols0) + 0.5) / double(rows0), x = (double(p % cols0) + 0.5) / double(cols0);
        std::string key;
        for (size_t l = 0; l < c.grids.size(); ++l) {
          const int64_t q = int64_t(std::floor(y * double(c.grids[l].first))) * c.grids[l].second +
                            int64_t(std::floor(x * double(c.grids[l].second)));
          key += std::to_string(ws[l][i][q].argmax().item<int64_t>()) + ",";
        }
        ++want[key];
      }
    EXPECT_EQ(got->distinct, int64_t(want.size()));
    ASSERT_EQ(got->top.size(), want.size()); // keep = 1000 keeps them all
    double total = 0;
    for (const rt::RoutingPath &path : got->top) {
      std::string key;
      for (int64_t e : path.experts)
        key += std::to_string(e) + ",";
      ASSERT_TRUE(want.count(key)) << key;
      EXPECT_NEAR(path.share, double(want[key]) / double(c.B * P), 1e-12) << key;
      total += path.share;
    }
    EXPECT_NEAR(total, 1.0, 1e-9);
    for (size_t i = 1; i < got->top.size(); ++i)
      EXPECT_GE(got->top[i - 1].share, got->top[i].share);
    EXPECT_EQ(int64_t(got->perPosition.size()), P);
  }
  auto one = rt::HostTensor::create(rt::DType::F32, {2, 4, 2});
  ASSERT_TRUE(one);
  EXPECT_FALSE(rt::computeRoutingPaths({&*one}, {{2, 2}}, 2)) << "one layer has no path";
  EXPECT_FALSE(rt::computeRoutingPaths({&*one, &*one}, {{2, 2}, {1, 3}}, 2)) << "a grid that is not P";
}
