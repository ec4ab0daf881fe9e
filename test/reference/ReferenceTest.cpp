//===- ReferenceTest.cpp - the float64 reference against independent forms -===//
//
// Every check compares the reference (Reference.h) with a formulation that does not
// use it: torch::conv2d / batch_norm / adaptive_max_pool2d, slicing of a padded
// image, hand-written loops, hand-computed numbers, a NumPy script, and central
// finite differences for gradients. Inputs are fresh random tensors.
//
//===----------------------------------------------------------------------===//

#include "ReferenceTestSupport.h"

using namespace pce::ref;
using namespace pce::reftest;
using torch::indexing::Slice;

namespace {

//===----------------------------------------------------------------------===//
// §1 patchify / unpatchify
//===----------------------------------------------------------------------===//

TEST(Patchify, CoordinateChannelsAtKnownOffsets) {
  torch::manual_seed(101);
  // H=8, W=6, ph=4, pw=2, r=1: nph=2, npw=3.
  auto x = randn({2, 3, 8, 6});
  auto p = patchify(x, {4, 2, 1, Halo::Context});
  ASSERT_EQ(p.sizes(), torch::IntArrayRef({2, 6, 7, 6, 4}));
  auto at = [&](int64_t b, int64_t patch, int64_t c, int64_t i, int64_t j) {
    return p[b][patch][c][i + 1][j + 1].item<double>(); // offsets relative to the core
  };
  // Row coordinate lin(4, i): i=-1 -> -5/3 (extrapolated), 0 -> -1, 1 -> -1/3, 3 -> 1, 4 -> 5/3.
  EXPECT_DOUBLE_EQ(at(0, 0, 3, -1, 0), -5.0 / 3);
  EXPECT_DOUBLE_EQ(at(1, 4, 3, 0, 1), -1.0);
  EXPECT_DOUBLE_EQ(at(0, 2, 3, 1, 0), -1.0 / 3);
  EXPECT_DOUBLE_EQ(at(0, 5, 3, 3, -1), 1.0);
  EXPECT_DOUBLE_EQ(at(0, 5, 3, 4, 2), 5.0 / 3);
  // Column coordinate lin(2, j): j=-1 -> -3, 0 -> -1, 1 -> 1, 2 -> 3.
  EXPECT_DOUBLE_EQ(at(0, 1, 4, 2, -1), -3.0);
  EXPECT_DOUBLE_EQ(at(0, 1, 4, 2, 0), -1.0);
  EXPECT_DOUBLE_EQ(at(0, 1, 4, 2, 1), 1.0);
  EXPECT_DOUBLE_EQ(at(1, 3, 4, -1, 2), 3.0);
  // Patch row lin(2, a), patch column lin(3, b); constant over the whole patch, halo included.
  // patch 5 = (a=1, b=2), patch 1 = (0, 1), patch 3 = (1, 0).
  for (int64_t i = -1; i <= 4; ++i)
    for (int64_t j = -1; j <= 2; ++j) {
      EXPECT_DOUBLE_EQ(at(0, 5, 5, i, j), 1.0);
      EXPECT_DOUBLE_EQ(at(0, 5, 6, i, j), 1.0);
      EXPECT_DOUBLE_EQ(at(1, 1, 5, i, j), -1.0);
      EXPECT_DOUBLE_EQ(at(1, 1, 6, i, j), 0.0);
      EXPECT_DOUBLE_EQ(at(0, 3, 5, i, j), 1.0);
      EXPECT_DOUBLE_EQ(at(0, 3, 6, i, j), -1.0);
    }
  // Pixels: patch 4 = (a=1, b=1) covers rows 4..7, cols 2..3.
  EXPECT_DOUBLE_EQ(at(1, 4, 2, 0, 0), x[1][2][4][2].item<double>());
  EXPECT_DOUBLE_EQ(at(1, 4, 2, -1, -1), x[1][2][3][1].item<double>()); // neighbour's pixel
  EXPECT_DOUBLE_EQ(at(1, 4, 0, 4, 2), 0.0);                            // below the image
  EXPECT_DOUBLE_EQ(at(0, 0, 1, -1, 0), 0.0);                           // above the image
  EXPECT_DOUBLE_EQ(at(0, 2, 1, 0, 2), 0.0);                            // right of the image

  // n == 1: lin is 0 everywhere (1x1 patches, a single patch).
  auto q = patchify(randn({1, 1, 3, 3}), {1, 3, 2, Halo::Context});
  EXPECT_EQ(q.index({Slice(), Slice(), 1}).abs().max().item<double>(), 0.0); // lin(1, i)
  auto single = patchify(randn({1, 1, 3, 5}), {3, 5, 0, Halo::Context});
  EXPECT_EQ(single.index({Slice(), Slice(), Slice(3, 5)}).abs().max().item<double>(), 0.0);
}

TEST(Patchify, HaloPixelsMatchZeroPaddedImageWindows) {
  torch::manual_seed(102);
  for (const auto &s : shapes())
    for (int64_t r : {0, 1, 2}) {
      SCOPED_TRACE(describe(s) + " r=" + std::to_string(r));
      auto x = randn({s.B, s.C, s.H, s.W});
      auto p = patchify(x, {s.ph, s.pw, r, Halo::Context});
      const int64_t nph = s.H / s.ph, npw = s.W / s.pw;
      ASSERT_EQ(p.sizes(), torch::IntArrayRef({s.B, nph * npw, s.C + 4, s.ph + 2 * r, s.pw + 2 * r}));
      auto padded = torch::constant_pad_nd(x, {r, r, r, r}, 0.0);
      auto planes = torch::constant_pad_nd(coordinatePlanes(s.B, s.H, s.W, s.ph, s.pw),
                                           {r, r, r, r}, 0.0);
      auto iso = patchify(x, {s.ph, s.pw, r, Halo::Isolated});
      for (int64_t a = 0; a < nph; ++a)
        for (int64_t b = 0; b < npw; ++b) {
          auto window = padded.index({Slice(), Slice(), Slice(a * s.ph, a * s.ph + s.ph + 2 * r),
                                      Slice(b * s.pw, b * s.pw + s.pw + 2 * r)});
          auto got = p.index({Slice(), a * npw + b});
          EXPECT_TRUE(torch::equal(got.index({Slice(), Slice(0, s.C)}), window));
          // The core's coordinates are those of the pixel's own patch.
          auto core = got.index({Slice(), Slice(s.C, s.C + 4), Slice(r, r + s.ph), Slice(r, r + s.pw)});
          auto ownPlanes = planes.index({Slice(), Slice(), Slice(a * s.ph + r, a * s.ph + r + s.ph),
                                         Slice(b * s.pw + r, b * s.pw + r + s.pw)});
          EXPECT_CLOSE(core, ownPlanes, 1e-15);
          // Isolated: the zero-padded core, coordinates unchanged.
          auto isoGot = iso.index({Slice(), a * npw + b});
          auto coreImage = x.index({Slice(), Slice(), Slice(a * s.ph, a * s.ph + s.ph),
                                    Slice(b * s.pw, b * s.pw + s.pw)});
          EXPECT_TRUE(torch::equal(isoGot.index({Slice(), Slice(0, s.C)}),
                                   torch::constant_pad_nd(coreImage, {r, r, r, r}, 0.0)));
          EXPECT_TRUE(torch::equal(isoGot.index({Slice(), Slice(s.C)}),
                                   got.index({Slice(), Slice(s.C)})));
        }
    }
}

TEST(Patchify, InvalidShapesThrow) {
  auto x = randn({1, 1, 6, 6});
  EXPECT_THROW(patchify(x, {4, 3, 0, Halo::Context}), c10::Error);
  EXPECT_THROW(patchify(x, {3, 4, 0, Halo::Context}), c10::Error);
  EXPECT_THROW(patchify(randn({6, 6}), {3, 3, 0, Halo::Context}), c10::Error);
}

TEST(Patchify, UnpatchifyInvertsTheCore) {
  torch::manual_seed(103);
  for (const auto &s : shapes()) {
    SCOPED_TRACE(describe(s));
    auto x = randn({s.B, s.C, s.H, s.W});
    auto p = patchify(x, {s.ph, s.pw, 2, Halo::Context});
    auto pixels = patchCore(p, 2).index({Slice(), Slice(), Slice(0, s.C)});
    EXPECT_TRUE(torch::equal(unpatchify(pixels, s.H, s.W), x));
    // Patch p = a*npw + b lands at rows a*ph.., cols b*pw..
    auto y = randn({s.B, (s.H / s.ph) * (s.W / s.pw), 2, s.ph, s.pw});
    auto img = unpatchify(y, s.H, s.W);
    const int64_t npw = s.W / s.pw, last = y.size(1) - 1;
    const int64_t a = last / npw, b = last % npw;
    EXPECT_TRUE(torch::equal(img.index({Slice(), Slice(), Slice(a * s.ph, (a + 1) * s.ph),
                                        Slice(b * s.pw, (b + 1) * s.pw)}),
                             y.index({Slice(), last})));
  }
}

//===----------------------------------------------------------------------===//
// §2 embed
//===----------------------------------------------------------------------===//

TEST(Embed, SppBinBoundsByHand) {
  // ph = 7, l = 4: floor(u*7/4) .. ceil((u+1)*7/4)-1 -> [0,1], [1,3], [3,5], [5,6].
  const std::pair<int64_t, int64_t> expected7[] = {{0, 2}, {1, 4}, {3, 6}, {5, 7}};
  for (int64_t u = 0; u < 4; ++u)
    EXPECT_EQ(sppBin(7, 4, u), expected7[u]) << "u=" << u;
  // n = 2 < l = 4: bins overlap: [0,1), [0,1), [1,2), [1,2).
  const std::pair<int64_t, int64_t> expected2[] = {{0, 1}, {0, 1}, {1, 2}, {1, 2}};
  for (int64_t u = 0; u < 4; ++u)
    EXPECT_EQ(sppBin(2, 4, u), expected2[u]) << "u=" << u;
  EXPECT_EQ(sppBin(5, 1, 0), (std::pair<int64_t, int64_t>(0, 5)));
  EXPECT_EQ(sppBin(6, 2, 1), (std::pair<int64_t, int64_t>(3, 6)));

  // The pooled value of channel c, bin (u, v) sits at c*l*l + u*l + v of its level.
  torch::manual_seed(201);
  auto z = randn({2, 3, 7, 5});
  auto pooled = spp(z, {1, 2, 4});
  ASSERT_EQ(pooled.sizes(), torch::IntArrayRef({2, 3 * 21}));
  // Level 4 starts after 3*1 + 3*4 entries; channel 2, bin (u=2, v=1): rows 3..5, cols 1..2.
  const double want = z.index({1, 2, Slice(3, 6), Slice(1, 3)}).max().item<double>();
  EXPECT_EQ(pooled[1][15 + 2 * 16 + 2 * 4 + 1].item<double>(), want);
  // Level 1 is the global max per channel.
  EXPECT_EQ(pooled[0][1].item<double>(), z[0][1].max().item<double>());
}

TEST(Embed, MatchesConv1x1AndAdaptiveMaxPool) {
  torch::manual_seed(202);
  struct Case { int64_t B, C, H, W, ph, pw, r, De; std::vector<int64_t> levels; };
  const std::vector<Case> cases = {
      {2, 1, 14, 10, 7, 5, 1, 5, {1, 2, 4}}, {1, 3, 4, 6, 2, 3, 0, 7, {1, 2, 4}},
      {7, 3, 6, 6, 6, 6, 2, 3, {1, 2, 4}},   {2, 1, 3, 4, 1, 1, 1, 5, {1, 2, 4}},
      {1, 3, 8, 8, 4, 4, 1, 2, {1, 3}},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE("ph=" + std::to_string(c.ph) + " pw=" + std::to_string(c.pw));
    auto x = randn({c.B, c.C, c.H, c.W});
    auto We = randn({c.De, c.C + 4}), be = randn({c.De});
    auto patches = patchify(x, {c.ph, c.pw, c.r, Halo::Context});
    auto emb = embed(patches, c.r, We, be, {c.levels});
    const int64_t P = patches.size(1);
    // Independent: the core by slicing, conv1x1 with torch::conv2d, torch's pooling.
    auto core = patches.index({Slice(), Slice(), Slice(), Slice(c.r, c.r + c.ph),
                               Slice(c.r, c.r + c.pw)})
                    .reshape({c.B * P, c.C + 4, c.ph, c.pw});
    auto z = torch::conv2d(core, We.reshape({c.De, c.C + 4, 1, 1}), be);
    std::vector<torch::Tensor> levels;
    int64_t bins = 0;
    for (int64_t l : c.levels) {
      levels.push_back(std::get<0>(torch::adaptive_max_pool2d(z, {l, l})).reshape({c.B * P, -1}));
      bins += l * l;
    }
    auto want = torch::cat(levels, 1).reshape({c.B, P, -1});
    ASSERT_EQ(emb.size(2), c.De * bins);
    EXPECT_CLOSE(emb, want, 1e-13);
  }
}

//===----------------------------------------------------------------------===//
// §3 routers
//===----------------------------------------------------------------------===//

TEST(Route, DenseRowsSumToOne) {
  torch::manual_seed(301);
  for (const auto &s : shapes())
    for (auto kind : {RouterKind::Uniform, RouterKind::Position, RouterKind::Cosine,
                      RouterKind::Mlp, RouterKind::Gumbel})
      for (bool training : {false, true}) {
        SCOPED_TRACE(describe(s) + " kind=" + std::to_string(int(kind)) +
                     " training=" + std::to_string(training));
        auto l = makeLayer(s, kind, false);
        l.cfg.router.training = training;
        auto x = randn({s.B, s.C, s.H, s.W});
        auto emb = embed(patchify(x, l.cfg.patch), l.cfg.patch.r, l.params.We, l.params.be);
        auto w = routeDense(emb, l.cfg.router, l.params.router);
        ASSERT_EQ(w.sizes(), torch::IntArrayRef({s.B, emb.size(1), s.E}));
        EXPECT_LE((w.sum(-1) - 1).abs().max().item<double>(), 1e-12);
        EXPECT_GE(w.min().item<double>(), 0.0);
      }
}

TEST(Route, TopKTiesRenormalizeAndRandomRows) {
  auto w = torch::tensor({0.3, 0.3, 0.3, 0.1, 0.1, 0.4, 0.4, 0.1, 0.25, 0.25, 0.25, 0.25}, kF64)
               .reshape({1, 3, 4});
  auto k2 = applyTopK(w, 2, false);
  auto want2 = torch::tensor({0.3, 0.3, 0.0, 0.0, 0.0, 0.4, 0.4, 0.0, 0.25, 0.25, 0.0, 0.0}, kF64)
                   .reshape({1, 3, 4});
  EXPECT_TRUE(torch::equal(k2, want2));
  auto k1 = applyTopK(w, 1, true);
  auto want1 = torch::tensor({1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0}, kF64)
                   .reshape({1, 3, 4});
  EXPECT_TRUE(torch::equal(k1, want1));
  auto k3 = applyTopK(w, 3, true);
  EXPECT_CLOSE(k3[0][0], torch::tensor({1.0 / 3, 1.0 / 3, 1.0 / 3, 0.0}, kF64), 1e-15);
  EXPECT_CLOSE(k3[0][1], torch::tensor({1.0 / 9, 4.0 / 9, 4.0 / 9, 0.0}, kF64), 1e-15);
  EXPECT_TRUE(torch::equal(applyTopK(w, 0, true), w));
  EXPECT_TRUE(torch::equal(applyTopK(w, 4, false), w));

  // Random rows (no ties) against torch::topk.
  torch::manual_seed(302);
  auto r = torch::softmax(randn({7, 5, 6}), -1);
  for (int64_t k : {1, 2, 5}) {
    auto got = applyTopK(r, k, false);
    auto idx = std::get<1>(torch::topk(r, k, -1));
    auto want = torch::zeros_like(r).scatter(-1, idx, r.gather(-1, idx));
    EXPECT_TRUE(torch::equal(got, want)) << "k=" << k;
    auto renorm = applyTopK(r, k, true);
    EXPECT_CLOSE(renorm, want / want.sum(-1, true), 1e-15);
  }
}

TEST(Route, PositionRouterFollowsTheTable) {
  torch::manual_seed(303);
  const int64_t B = 3, P = 6, E = 4;
  auto emb = torch::zeros({B, P, 0}, kF64);
  RouterConfig cfg;
  cfg.kind = RouterKind::Position;
  cfg.numExperts = E;
  cfg.beta = 60;
  cfg.sigma = 0;
  RouterParams params;
  params.positionNoise = randn({B, P, E});
  for (bool training : {false, true}) {
    cfg.training = training;
    cfg.positionTable = {};
    auto w = routeDense(emb, cfg, params);
    EXPECT_TRUE(torch::equal(w.argmax(-1), (torch::arange(P) % E).expand({B, P})));
    cfg.positionTable = {3, 3, 0, 1, 2, 0};
    w = routeDense(emb, cfg, params);
    EXPECT_TRUE(torch::equal(w.argmax(-1), torch::tensor({3, 3, 0, 1, 2, 0}, torch::kLong).expand({B, P})));
    EXPECT_GE(std::get<0>(w.max(-1)).min().item<double>(), 1 - 1e-20);
  }
  // With noise: softmax(beta*onehot + sigma*xi) in training, softmax(beta*onehot) otherwise.
  cfg.beta = 1.5;
  cfg.sigma = 0.4;
  cfg.positionTable = {};
  auto onehot = torch::one_hot(torch::arange(P) % E, E).to(torch::kDouble);
  cfg.training = true;
  EXPECT_CLOSE(routeDense(emb, cfg, params),
               torch::softmax(1.5 * onehot + 0.4 * params.positionNoise, -1), 1e-15);
  cfg.training = false;
  EXPECT_CLOSE(routeDense(emb, cfg, params), torch::softmax(1.5 * onehot, -1).expand({B, P, E}),
               1e-15);
}

TEST(Route, CosineAndMlpAgainstHandLoops) {
  torch::manual_seed(304);
  const int64_t B = 2, P = 3, D = 6, E = 3, Hd = 4;
  auto emb = randn({B, P, D});
  RouterParams params;
  params.keys = randn({E, D});
  params.W1 = randn({Hd, D});
  params.b1 = randn({Hd});
  params.W2 = randn({E, Hd});
  params.b2 = randn({E});
  RouterConfig cfg;
  cfg.numExperts = E;
  cfg.tau = 0.7;
  auto e = emb.accessor<double, 3>();
  auto K = params.keys.accessor<double, 2>();
  auto W1 = params.W1.accessor<double, 2>(), W2 = params.W2.accessor<double, 2>();
  auto b1 = params.b1.accessor<double, 1>(), b2 = params.b2.accessor<double, 1>();
  auto cosine = torch::zeros({B, P, E}, kF64), mlp = torch::zeros({B, P, E}, kF64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t p = 0; p < P; ++p) {
      std::vector<double> sc(E), lg(E), h(Hd);
      for (int64_t q = 0; q < Hd; ++q) {
        double acc = b1[q];
        for (int64_t d = 0; d < D; ++d)
          acc += W1[q][d] * e[b][p][d];
        h[q] = std::max(acc, 0.0);
      }
      for (int64_t x = 0; x < E; ++x) {
        double dot = 0, ne = 0, nk = 0;
        for (int64_t d = 0; d < D; ++d) {
          dot += e[b][p][d] * K[x][d];
          ne += e[b][p][d] * e[b][p][d];
          nk += K[x][d] * K[x][d];
        }
        sc[x] = dot / std::max(std::sqrt(ne) * std::sqrt(nk), 1e-12) / 0.7;
        lg[x] = b2[x];
        for (int64_t q = 0; q < Hd; ++q)
          lg[x] += W2[x][q] * h[q];
      }
      auto softmaxInto = [&](const std::vector<double> &v, torch::Tensor &out) {
        double m = *std::max_element(v.begin(), v.end()), z = 0;
        for (double t : v)
          z += std::exp(t - m);
        for (int64_t x = 0; x < E; ++x)
          out[b][p][x] = std::exp(v[x] - m) / z;
      };
      softmaxInto(sc, cosine);
      softmaxInto(lg, mlp);
    }
  cfg.kind = RouterKind::Cosine;
  EXPECT_CLOSE(routeDense(emb, cfg, params), cosine, 1e-14);
  cfg.kind = RouterKind::Gumbel; // inference: softmax(s / tau)
  EXPECT_CLOSE(routeDense(emb, cfg, params), cosine, 1e-14);
  cfg.kind = RouterKind::Mlp;
  EXPECT_CLOSE(routeDense(emb, cfg, params), mlp, 1e-14);

  // Learnable temperature: logTau = log(0.7) gives the same weights and a gradient.
  cfg.kind = RouterKind::Cosine;
  cfg.logTau = torch::scalar_tensor(std::log(0.7), kF64).requires_grad_();
  auto w = routeDense(emb, cfg, params);
  EXPECT_CLOSE(w, cosine, 1e-14);
  auto g = torch::autograd::grad({(w * randn({B, P, E})).sum()}, {cfg.logTau})[0];
  EXPECT_TRUE(g.defined());
  EXPECT_GT(std::abs(g.item<double>()), 0.0);
}

TEST(Route, GumbelHardIsOneHotWithTheSoftGradient) {
  torch::manual_seed(305);
  for (int64_t E : {1, 3, 5}) {
    const int64_t B = 7, P = 4, D = 10;
    auto emb = randn({B, P, D}).requires_grad_();
    RouterParams params;
    params.keys = randn({E, D}).requires_grad_();
    params.gumbelNoise = -(-torch::rand({B, P, E}, kF64).clamp(1e-12, 1 - 1e-12).log()).log();
    RouterConfig cfg;
    cfg.kind = RouterKind::Gumbel;
    cfg.numExperts = E;
    cfg.tau = 0.5;
    cfg.gumbelTau = 0.7;
    cfg.training = true;
    auto R = randn({B, P, E});

    auto soft = routeDense(emb, cfg, params);
    // Independent soft weights: softmax((s/tau + g)/tau_g) with torch's cosine_similarity.
    auto s = torch::cosine_similarity(emb.detach().unsqueeze(2), params.keys.detach(), -1, 1e-12);
    EXPECT_CLOSE(soft, torch::softmax((s / 0.5 + params.gumbelNoise) / 0.7, -1), 1e-13);
    auto softGrads = torch::autograd::grad({(soft * R).sum()}, {emb, params.keys});

    cfg.hard = true;
    auto hard = routeDense(emb, cfg, params);
    auto oneHot = torch::one_hot(soft.argmax(-1), E).to(torch::kDouble);
    EXPECT_CLOSE(hard, oneHot, 1e-15);
    EXPECT_TRUE(torch::equal(hard.argmax(-1), soft.argmax(-1)));
    auto hardGrads = torch::autograd::grad({(hard * R).sum()}, {emb, params.keys});
    EXPECT_CLOSE(hardGrads[0], softGrads[0], 1e-15);
    EXPECT_CLOSE(hardGrads[1], softGrads[1], 1e-15);
    if (E > 1) {
      EXPECT_GT(softGrads[1].abs().max().item<double>(), 0.0);
    }
  }
}

//===----------------------------------------------------------------------===//
// §4 experts, BN, mixing, attention
//===----------------------------------------------------------------------===//

TEST(Experts, InferenceMatchesConvAndBatchNorm) {
  torch::manual_seed(401);
  for (const auto &s : shapes()) {
    SCOPED_TRACE(describe(s));
    auto l = makeLayer(s, RouterKind::Uniform, false);
    auto x = randn({s.B, s.C, s.H, s.W});
    auto patches = patchify(x, l.cfg.patch);
    auto res = experts(patches, l.params.experts, false);
    const int64_t P = patches.size(1);
    ASSERT_EQ(res.y.sizes(), torch::IntArrayRef({s.B, P, s.E, s.Co, s.ph, s.pw}));
    const auto &ep = l.params.experts;
    auto flat = patches.reshape({s.B * P, s.C + 4, s.ph + 2 * (s.k / 2), s.pw + 2 * (s.k / 2)});
    for (int64_t e = 0; e < s.E; ++e) {
      auto want = torch::relu(torch::batch_norm(torch::conv2d(flat, ep.kernels[e]), ep.gamma[e],
                                                ep.beta[e], ep.runningMean[e], ep.runningVar[e],
                                                false, 0.1, 1e-5, false));
      EXPECT_CLOSE(res.y.index({Slice(), Slice(), e}).reshape(want.sizes()), want, 1e-13);
    }
    EXPECT_TRUE(torch::equal(res.runningMean, ep.runningMean));
  }
}

TEST(Experts, TrainingDenseMatchesTorchBatchNorm) {
  torch::manual_seed(402);
  for (const auto &s : shapes()) {
    SCOPED_TRACE(describe(s));
    auto l = makeLayer(s, RouterKind::Uniform, false);
    auto x = randn({s.B, s.C, s.H, s.W});
    auto patches = patchify(x, l.cfg.patch);
    auto res = experts(patches, l.params.experts, true);
    const int64_t P = patches.size(1);
    const auto &ep = l.params.experts;
    auto flat = patches.reshape({s.B * P, s.C + 4, s.ph + 2 * (s.k / 2), s.pw + 2 * (s.k / 2)});
    for (int64_t e = 0; e < s.E; ++e) {
      auto rm = ep.runningMean[e].clone(), rv = ep.runningVar[e].clone();
      auto want = torch::relu(torch::batch_norm(torch::conv2d(flat, ep.kernels[e]), ep.gamma[e],
                                                ep.beta[e], rm, rv, true, 0.1, 1e-5, false));
      EXPECT_CLOSE(res.y.index({Slice(), Slice(), e}).reshape(want.sizes()), want, 1e-12);
      EXPECT_CLOSE(res.runningMean[e], rm, 1e-14);
      EXPECT_CLOSE(res.runningVar[e], rv, 1e-14);
      EXPECT_EQ(res.count[e].item<int64_t>(), s.B * P * s.ph * s.pw);
    }
  }
}

TEST(Experts, TrainingTopKUsesOnlyRoutedPatches) {
  torch::manual_seed(403);
  for (const auto &s0 : shapes()) {
    Shape s = s0;
    s.E = 3;
    s.B = std::max<int64_t>(s.B, 4); // enough patches that every expert gets some
    SCOPED_TRACE(describe(s));
    auto l = makeLayer(s, RouterKind::Mlp, false);
    l.cfg.router.topK = 1;
    l.cfg.training = true;
    auto x = randn({s.B, s.C, s.H, s.W});
    auto res = layer(x, l.cfg, l.params);
    auto patches = patchify(x, l.cfg.patch);
    const int64_t P = patches.size(1), r = s.k / 2;
    auto flat = patches.reshape({s.B * P, s.C + 4, s.ph + 2 * r, s.pw + 2 * r});
    auto chosen = res.weights.reshape({s.B * P, s.E}) != 0;
    // Exactly one expert per patch under top-1.
    EXPECT_TRUE(torch::equal(chosen.sum(-1), torch::ones({s.B * P}, torch::kLong)));
    const auto &ep = l.params.experts;
    for (int64_t e = 0; e < s.E; ++e) {
      auto mine = chosen.select(1, e);
      const int64_t n = mine.sum().item<int64_t>();
      EXPECT_EQ(res.experts.count[e].item<int64_t>(), n * s.ph * s.pw);
      if (n == 0) { // no data: running statistics unchanged
        EXPECT_TRUE(torch::equal(res.experts.runningMean[e], ep.runningMean[e]));
        continue;
      }
      auto conv = torch::conv2d(flat.index({mine}), ep.kernels[e]);
      auto rm = ep.runningMean[e].clone(), rv = ep.runningVar[e].clone();
      auto want = torch::relu(torch::batch_norm(conv, ep.gamma[e], ep.beta[e], rm, rv, true, 0.1,
                                                1e-5, false));
      auto got = res.experts.y.reshape({s.B * P, s.E, s.Co, s.ph, s.pw}).select(1, e).index({mine});
      EXPECT_CLOSE(got, want, 1e-12);
      EXPECT_CLOSE(res.experts.runningMean[e], rm, 1e-14);
      EXPECT_CLOSE(res.experts.runningVar[e], rv, 1e-14);
      EXPECT_CLOSE(res.experts.mean[e], conv.mean({0, 2, 3}), 1e-14);
      // Non-trivial: statistics over all patches would differ.
      if (n < s.B * P) {
        EXPECT_GT(relErr(res.experts.mean[e],
                         torch::conv2d(flat, ep.kernels[e]).mean({0, 2, 3})), 1e-8);
      }
    }
  }
}

TEST(Mix, SumConcatAndPerPatchSE) {
  torch::manual_seed(404);
  for (const auto &s : shapes()) {
    SCOPED_TRACE(describe(s));
    const int64_t P = (s.H / s.ph) * (s.W / s.pw), N = s.B * P;
    auto y = randn({s.B, P, s.E, s.Co, s.ph, s.pw});
    auto w = torch::softmax(randn({s.B, P, s.E}), -1);
    // Sum, as a loop over experts.
    auto sum = torch::zeros({s.B, P, s.Co, s.ph, s.pw}, kF64);
    for (int64_t e = 0; e < s.E; ++e)
      sum = sum + w.index({Slice(), Slice(), e}).reshape({s.B, P, 1, 1, 1}) *
                      y.index({Slice(), Slice(), e});
    EXPECT_CLOSE(mixSum(y, w), sum, 1e-14);
    // Concat: channels e*Co + c = w_e*y_e[c], then torch::conv2d with a 1x1 kernel.
    const int64_t Co2 = s.Co + 1;
    auto Wc = randn({Co2, s.E * s.Co}), bc = randn({Co2});
    std::vector<torch::Tensor> parts;
    for (int64_t e = 0; e < s.E; ++e)
      parts.push_back((w.index({Slice(), Slice(), e}).reshape({s.B, P, 1, 1, 1}) *
                       y.index({Slice(), Slice(), e}))
                          .reshape({N, s.Co, s.ph, s.pw}));
    auto cat = torch::cat(parts, 1);
    auto want = torch::conv2d(cat, Wc.reshape({Co2, s.E * s.Co, 1, 1}), bc)
                    .reshape({s.B, P, Co2, s.ph, s.pw});
    auto mixed = mixConcat(y, w, Wc, bc);
    EXPECT_CLOSE(mixed, want, 1e-13);
    // SE per patch: average pool over each patch's core, linear layers with torch::linear.
    const int64_t Hd = 2;
    auto W1 = randn({Hd, Co2}), b1 = randn({Hd}), W2 = randn({Co2, Hd}), b2 = randn({Co2});
    auto flatMixed = mixed.reshape({N, Co2, s.ph, s.pw});
    auto pooled = torch::adaptive_avg_pool2d(flatMixed, {1, 1}).reshape({N, Co2});
    auto gate = torch::sigmoid(torch::linear(torch::relu(torch::linear(pooled, W1, b1)), W2, b2));
    auto se = (flatMixed * gate.reshape({N, Co2, 1, 1})).reshape(mixed.sizes());
    EXPECT_CLOSE(attentionSE(mixed, W1, b1, W2, b2), se, 1e-13);
  }
}

} // namespace
