//===- ReferenceTest.cpp - the float64 reference against independent forms -===//
//
// Every check compares the reference (Reference.h) with a formulation that does not
// use it: torch::conv2d / batch_norm / adaptive_max_pool2d, slicing of a padded
// image, hand-written loops, hand-computed numbers, a NumPy script, and central
// finite differences for gradients. Inputs are fresh random tensors.
//
//===----------------------------------------------------------------------===//

#include "Reference.h"

#include <torch/csrc/autograd/autograd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <unistd.h>

using namespace pce::ref;
using torch::indexing::Slice;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

torch::Tensor randn(torch::IntArrayRef shape) { return torch::randn(shape, kF64); }

/// max|a - b| / max(1, max|b|)  (SEMANTICS.md §6's measure).
double relErr(const torch::Tensor &a, const torch::Tensor &b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes())
    return INFINITY;
  if (a.numel() == 0)
    return 0;
  const double diff = (a.detach() - b.detach()).abs().max().item<double>();
  const double scale = std::max(1.0, b.detach().abs().max().item<double>());
  return std::isnan(diff) ? INFINITY : diff / scale;
}

#define EXPECT_CLOSE(a, b, tol) EXPECT_LE(relErr((a), (b)), (tol))

/// lin() of SEMANTICS.md §1, vectorised over an index tensor t.
torch::Tensor linPlane(int64_t n, const torch::Tensor &t) {
  if (n == 1)
    return torch::zeros_like(t);
  return 2.0 * t / static_cast<double>(n - 1) - 1.0;
}

/// The 4 coordinate planes of each pixel's own patch, [B,4,H,W], built with tensor
/// arithmetic on pixel indices (no patch loops).
torch::Tensor coordinatePlanes(int64_t B, int64_t H, int64_t W, int64_t ph, int64_t pw) {
  auto rows = torch::arange(H, kF64), cols = torch::arange(W, kF64);
  auto i = torch::fmod(rows, ph), a = torch::floor(rows / ph);
  auto j = torch::fmod(cols, pw), b = torch::floor(cols / pw);
  auto rowPlane = [&](const torch::Tensor &v) { return v.reshape({H, 1}).expand({H, W}); };
  auto colPlane = [&](const torch::Tensor &v) { return v.reshape({1, W}).expand({H, W}); };
  auto planes = torch::stack({rowPlane(linPlane(ph, i)), colPlane(linPlane(pw, j)),
                              rowPlane(linPlane(H / ph, a)), colPlane(linPlane(W / pw, b))});
  return planes.unsqueeze(0).expand({B, 4, H, W});
}

struct Shape {
  int64_t B, C, H, W, ph, pw, E, Co, k;
};

std::string describe(const Shape &s) {
  std::ostringstream os;
  os << "B=" << s.B << " C=" << s.C << " H=" << s.H << " W=" << s.W << " ph=" << s.ph
     << " pw=" << s.pw << " E=" << s.E << " Co=" << s.Co << " k=" << s.k;
  return os.str();
}

/// Shapes covering H != W, ph != pw, a single patch, E = 1, k in {1,3,5}, C in {1,3},
/// B in {1,7}. The kernel size is overridden by tests that need a fixed k.
const std::vector<Shape> &shapes() {
  static const std::vector<Shape> all = {
      {1, 1, 4, 4, 2, 2, 2, 2, 1},   // square
      {7, 3, 6, 8, 3, 2, 3, 4, 3},   // H != W, ph != pw, B = 7
      {2, 3, 5, 7, 5, 7, 3, 2, 3},   // a single patch
      {1, 1, 8, 6, 4, 3, 1, 3, 5},   // E = 1
      {7, 1, 6, 6, 3, 3, 4, 1, 5},   // Co = 1
      {2, 3, 4, 6, 1, 2, 2, 3, 1},   // ph = 1
  };
  return all;
}

struct Layer {
  LayerConfig cfg;
  LayerParams params;
};

/// A layer with random parameters. identical: every expert has the same kernel and BN.
Layer makeLayer(const Shape &s, RouterKind kind, bool identical) {
  Layer l;
  l.cfg.patch = {s.ph, s.pw, s.k / 2, Halo::Context};
  l.cfg.router.kind = kind;
  l.cfg.router.numExperts = s.E;
  l.cfg.router.tau = 0.3;
  l.cfg.router.beta = 2.0;
  l.cfg.router.sigma = 0.7;
  l.cfg.router.gumbelTau = 0.8;
  const int64_t Cin = s.C + 4, De = Cin, D = 21 * De, Hd = 5;
  const int64_t P = (s.H / s.ph) * (s.W / s.pw);
  auto &p = l.params;
  p.We = randn({De, Cin}) * 0.5;
  p.be = randn({De}) * 0.1;
  p.router.keys = randn({s.E, D});
  p.router.W1 = randn({Hd, D}) * 0.2;
  p.router.b1 = randn({Hd}) * 0.1;
  p.router.W2 = randn({s.E, Hd});
  p.router.b2 = randn({s.E}) * 0.1;
  p.router.positionNoise = randn({s.B, P, s.E});
  p.router.gumbelNoise = -(-torch::rand({s.B, P, s.E}, kF64).clamp(1e-12, 1 - 1e-12).log()).log();
  const int64_t nk = identical ? 1 : s.E;
  auto rep = [&](torch::Tensor t) {
    if (!identical)
      return t;
    std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
    sizes[0] = s.E;
    return t.expand(sizes).clone();
  };
  auto &x = p.experts;
  x.kernels = rep(randn({nk, s.Co, Cin, s.k, s.k}) / std::sqrt(double(Cin * s.k * s.k)));
  x.gamma = rep(1.0 + 0.3 * randn({nk, s.Co}));
  x.beta = rep(0.3 * randn({nk, s.Co}));
  x.runningMean = rep(0.2 * randn({nk, s.Co}));
  x.runningVar = rep(0.5 + torch::rand({nk, s.Co}, kF64));
  p.Wc = randn({s.Co, s.E * s.Co}) * 0.5;
  p.bc = randn({s.Co}) * 0.1;
  p.seW1 = randn({3, s.Co});
  p.seb1 = randn({3}) * 0.1;
  p.seW2 = randn({s.Co, 3});
  p.seb2 = randn({s.Co}) * 0.1;
  return l;
}

/// Conv-BN-ReLU over a whole image with torch ops, with expert 0's BN parameters.
torch::Tensor convBnRelu(const torch::Tensor &input, const torch::Tensor &kernel, int64_t padding,
                         const ExpertParams &bn, bool training, torch::Tensor &runMean,
                         torch::Tensor &runVar) {
  auto conv = torch::conv2d(input, kernel, {}, 1, padding);
  runMean = bn.runningMean[0].clone();
  runVar = bn.runningVar[0].clone();
  return torch::relu(torch::batch_norm(conv, bn.gamma[0], bn.beta[0], runMean, runVar, training,
                                       bn.momentum, bn.eps, /*cudnn_enabled=*/false));
}

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

//===----------------------------------------------------------------------===//
// §1 the two identities of the whole layer
//===----------------------------------------------------------------------===//

struct RouterCase {
  RouterKind kind;
  int64_t topK;
  bool hard;
  bool training; // BN batch statistics (dense routers only) and router noise
};

const std::vector<RouterCase> identityRouters = {
    {RouterKind::Uniform, 0, false, false}, {RouterKind::Position, 0, false, true},
    {RouterKind::Cosine, 0, false, false},  {RouterKind::Mlp, 0, false, true},
    {RouterKind::Gumbel, 0, false, true},   {RouterKind::Gumbel, 0, true, true},
    {RouterKind::Cosine, 2, false, false},  {RouterKind::Mlp, 1, false, false},
};

void configureRouter(Layer &l, const RouterCase &rc) {
  l.cfg.router.topK = rc.topK;
  l.cfg.router.renormalize = rc.topK > 0; // weights must sum to 1 for the identity
  l.cfg.router.hard = rc.hard;
  l.cfg.training = rc.training;
}

TEST(LayerIdentity, K1IdenticalExpertsIsConv1x1OverImageAndCoordinates) {
  torch::manual_seed(501);
  for (const auto &s0 : shapes())
    for (const auto &rc : identityRouters) {
      Shape s = s0;
      s.k = 1;
      SCOPED_TRACE(describe(s) + " kind=" + std::to_string(int(rc.kind)) + " topK=" +
                   std::to_string(rc.topK) + " training=" + std::to_string(rc.training));
      auto l = makeLayer(s, rc.kind, /*identical=*/true);
      configureRouter(l, rc);
      auto x = randn({s.B, s.C, s.H, s.W});
      auto res = layer(x, l.cfg, l.params);

      auto input = torch::cat({x, coordinatePlanes(s.B, s.H, s.W, s.ph, s.pw)}, 1);
      torch::Tensor rm, rv;
      auto want = convBnRelu(input, l.params.experts.kernels[0], 0, l.params.experts, rc.training,
                             rm, rv);
      EXPECT_CLOSE(res.out, want, 1e-12);
      if (rc.training)
        for (int64_t e = 0; e < s.E; ++e) {
          EXPECT_CLOSE(res.experts.runningMean[e], rm, 1e-13);
          EXPECT_CLOSE(res.experts.runningVar[e], rv, 1e-13);
        }
    }
}

TEST(LayerIdentity, ZeroCoordinateWeightsIsPlainConvWithContextHalo) {
  torch::manual_seed(502);
  for (const auto &s0 : shapes())
    for (int64_t k : {1, 3, 5})
      for (const auto &rc : identityRouters) {
        Shape s = s0;
        s.k = k;
        SCOPED_TRACE(describe(s) + " kind=" + std::to_string(int(rc.kind)) + " topK=" +
                     std::to_string(rc.topK) + " training=" + std::to_string(rc.training));
        auto l = makeLayer(s, rc.kind, /*identical=*/true);
        configureRouter(l, rc);
        auto &K = l.params.experts.kernels;
        K = K.clone();
        K.index_put_({Slice(), Slice(), Slice(s.C, s.C + 4)}, 0.0);
        auto x = randn({s.B, s.C, s.H, s.W});
        auto res = layer(x, l.cfg, l.params);

        torch::Tensor rm, rv;
        auto imageKernel = K[0].index({Slice(), Slice(0, s.C)});
        auto want = convBnRelu(x, imageKernel, k / 2, l.params.experts, rc.training, rm, rv);
        EXPECT_CLOSE(res.out, want, 1e-12);
      }
}

TEST(LayerIdentity, IsolatedHaloOrCoordinatesBreakIt) {
  // The identities are not vacuous: with k = 3 an isolated halo, or non-zero coordinate
  // weights, change the output at patch borders.
  torch::manual_seed(503);
  Shape s{2, 3, 6, 8, 3, 4, 2, 3, 3};
  auto l = makeLayer(s, RouterKind::Uniform, true);
  auto x = randn({s.B, s.C, s.H, s.W});
  auto withCoords = layer(x, l.cfg, l.params).out;
  auto K = l.params.experts.kernels.clone();
  K.index_put_({Slice(), Slice(), Slice(s.C, s.C + 4)}, 0.0);
  l.params.experts.kernels = K;
  auto context = layer(x, l.cfg, l.params).out;
  l.cfg.patch.halo = Halo::Isolated;
  auto isolated = layer(x, l.cfg, l.params).out;
  EXPECT_GT(relErr(withCoords, context), 1e-3);
  EXPECT_GT(relErr(isolated, context), 1e-3);
}

//===----------------------------------------------------------------------===//
// Gradients: torch autograd of the reference against central finite differences
//===----------------------------------------------------------------------===//

/// Compares autograd of sum(f() * R) with central differences for up to `perTensor`
/// elements of each input (all of them when the input is small).
void expectGradientsMatchFiniteDifferences(const std::function<torch::Tensor()> &f,
                                           const std::vector<torch::Tensor> &inputs,
                                           const std::vector<std::string> &names,
                                           int64_t perTensor = 12) {
  auto out = f();
  auto R = randn(out.sizes());
  auto grads = torch::autograd::grad({(out * R).sum()}, inputs, {}, false, false,
                                     /*allow_unused=*/true);
  const double eps = 1e-6;
  auto loss = [&] {
    at::NoGradGuard noGrad;
    return (f() * R).sum().item<double>();
  };
  for (size_t t = 0; t < inputs.size(); ++t) {
    SCOPED_TRACE(names[t]);
    ASSERT_TRUE(grads[t].defined()) << "no gradient reaches " << names[t];
    auto g = grads[t].contiguous();
    double *data = inputs[t].data_ptr<double>();
    const int64_t n = inputs[t].numel();
    auto pick = torch::randperm(n, torch::kLong).index({Slice(0, std::min(n, perTensor))});
    for (int64_t i = 0; i < pick.size(0); ++i) {
      const int64_t idx = pick[i].item<int64_t>();
      const double saved = data[idx];
      data[idx] = saved + eps;
      const double up = loss();
      data[idx] = saved - eps;
      const double down = loss();
      data[idx] = saved;
      const double fd = (up - down) / (2 * eps);
      const double ag = g.data_ptr<double>()[idx];
      EXPECT_NEAR(ag, fd, 1e-6 * std::max(1.0, std::abs(fd))) << names[t] << "[" << idx << "]";
    }
  }
}

struct GradCase {
  const char *name;
  RouterKind kind;
  int64_t topK;
  bool training;
  MixKind mix;
  AttentionKind attention;
  bool learnTau;
};

void PrintTo(const GradCase &c, std::ostream *os) { *os << c.name; }

class LayerGradient : public ::testing::TestWithParam<GradCase> {};

TEST_P(LayerGradient, AutogradMatchesCentralDifferences) {
  const auto &gc = GetParam();
  torch::manual_seed(600 + static_cast<int>(gc.kind) * 7 + gc.topK + gc.training);
  Shape s{2, 1, 4, 6, 2, 3, 3, 2, 3};
  auto l = makeLayer(s, gc.kind, false);
  l.cfg.router.topK = gc.topK;
  l.cfg.training = gc.training;
  l.cfg.mix = gc.mix;
  l.cfg.attention = gc.attention;
  auto x = randn({s.B, s.C, s.H, s.W});
  auto &p = l.params;
  std::vector<torch::Tensor> inputs = {x, p.experts.kernels, p.experts.gamma, p.experts.beta};
  std::vector<std::string> names = {"x", "kernels", "gamma", "beta"};
  auto add = [&](torch::Tensor t, const char *name) {
    inputs.push_back(t);
    names.push_back(name);
  };
  if (gc.kind == RouterKind::Cosine || gc.kind == RouterKind::Gumbel) {
    add(p.We, "We");
    add(p.be, "be");
    add(p.router.keys, "keys");
  }
  if (gc.kind == RouterKind::Mlp) {
    add(p.We, "We");
    add(p.be, "be");
    add(p.router.W1, "mlp W1");
    add(p.router.b1, "mlp b1");
    add(p.router.W2, "mlp W2");
    add(p.router.b2, "mlp b2");
  }
  if (gc.learnTau) {
    l.cfg.router.logTau = torch::scalar_tensor(std::log(0.4), kF64);
    add(l.cfg.router.logTau, "logTau");
  }
  if (gc.mix == MixKind::Concat) {
    add(p.Wc, "Wc");
    add(p.bc, "bc");
  }
  if (gc.attention == AttentionKind::SE) {
    add(p.seW1, "se W1");
    add(p.seb1, "se b1");
    add(p.seW2, "se W2");
    add(p.seb2, "se b2");
  }
  for (auto &t : inputs)
    t.requires_grad_();
  expectGradientsMatchFiniteDifferences([&] { return layer(x, l.cfg, l.params).out; }, inputs,
                                        names);
}

INSTANTIATE_TEST_SUITE_P(
    Routers, LayerGradient,
    ::testing::Values(
        GradCase{"uniform", RouterKind::Uniform, 0, false, MixKind::Sum, AttentionKind::None, false},
        GradCase{"uniform_training", RouterKind::Uniform, 0, true, MixKind::Sum, AttentionKind::None, false},
        GradCase{"position_training", RouterKind::Position, 0, true, MixKind::Sum, AttentionKind::None, false},
        GradCase{"cosine_learned_tau", RouterKind::Cosine, 0, false, MixKind::Sum, AttentionKind::None, true},
        GradCase{"cosine_top1_training", RouterKind::Cosine, 1, true, MixKind::Sum, AttentionKind::None, false},
        GradCase{"mlp_concat_se", RouterKind::Mlp, 0, false, MixKind::Concat, AttentionKind::SE, false},
        GradCase{"mlp_top2_training", RouterKind::Mlp, 2, true, MixKind::Sum, AttentionKind::None, false},
        GradCase{"gumbel_soft_training", RouterKind::Gumbel, 0, true, MixKind::Sum, AttentionKind::None, false},
        GradCase{"gumbel_inference_concat", RouterKind::Gumbel, 0, false, MixKind::Concat, AttentionKind::None, true}),
    [](const ::testing::TestParamInfo<GradCase> &info) { return std::string(info.param.name); });

//===----------------------------------------------------------------------===//
// §3 / §5 auxiliary and analysis quantities
//===----------------------------------------------------------------------===//

TEST(Analysis, LoadBalancingLoss) {
  // Balanced one-hot routing: 1. Everything on expert 1: E.
  auto balanced = torch::one_hot(torch::arange(8) % 4, 4).to(torch::kDouble).reshape({2, 4, 4});
  EXPECT_NEAR(loadBalancingLoss(balanced).item<double>(), 1.0, 1e-15);
  auto collapsed = torch::one_hot(torch::full({2, 4}, 1, torch::kLong), 4).to(torch::kDouble);
  EXPECT_NEAR(loadBalancingLoss(collapsed).item<double>(), 4.0, 1e-15);
  // Soft weights: by hand, and differentiable through the mean weight.
  torch::manual_seed(701);
  auto w = torch::softmax(randn({3, 5, 4}), -1).requires_grad_();
  auto rows = w.detach().reshape({15, 4});
  auto acc = rows.accessor<double, 2>();
  std::vector<double> f(4, 0), m(4, 0);
  for (int64_t n = 0; n < 15; ++n) {
    int64_t best = 0;
    for (int64_t e = 1; e < 4; ++e)
      if (acc[n][e] > acc[n][best])
        best = e;
    f[best] += 1.0 / 15;
    for (int64_t e = 0; e < 4; ++e)
      m[e] += acc[n][e] / 15;
  }
  double want = 0;
  for (int64_t e = 0; e < 4; ++e)
    want += 4 * f[e] * m[e];
  auto lb = loadBalancingLoss(w);
  EXPECT_NEAR(lb.item<double>(), want, 1e-14);
  auto g = torch::autograd::grad({lb}, {w})[0];
  // d/dw[n,e] = E * f_e / N
  EXPECT_NEAR(g[0][0][2].item<double>(), 4 * f[2] / 15, 1e-15);
}

TEST(Analysis, EmaKeyUpdate) {
  torch::manual_seed(702);
  const int64_t E = 3, D = 4;
  auto keys = randn({E, D});
  auto emb = randn({2, 3, D});
  // Patches choose experts 0,0,2 / 2,0,0: expert 1 unchosen.
  auto w = torch::one_hot(torch::tensor({0, 0, 2, 2, 0, 0}, torch::kLong), E).to(torch::kDouble).reshape({2, 3, E});
  auto updated = emaKeyUpdate(keys, emb, w, 0.9);
  auto e = emb.reshape({6, D});
  auto mean0 = (e[0] + e[1] + e[4] + e[5]) / 4, mean2 = (e[2] + e[3]) / 2;
  EXPECT_CLOSE(updated[0], 0.9 * keys[0] + 0.1 * mean0, 1e-15);
  EXPECT_TRUE(torch::equal(updated[1], keys[1]));
  EXPECT_CLOSE(updated[2], 0.9 * keys[2] + 0.1 * mean2, 1e-15);
  EXPECT_FALSE(updated.requires_grad());
}

TEST(Analysis, EntropyUsageAndMutualInformation) {
  // Uniform weights: entropy log E, normalised 1. One-hot: 0 (0 log 0 = 0).
  auto uniform = torch::full({2, 3, 4}, 0.25, kF64);
  EXPECT_NEAR(routerEntropy(uniform).mean, std::log(4.0), 1e-15);
  EXPECT_NEAR(routerEntropy(uniform).normalized, 1.0, 1e-15);
  auto oneHot = torch::one_hot(torch::arange(6) % 4, 4).to(torch::kDouble).reshape({2, 3, 4});
  EXPECT_EQ(routerEntropy(oneHot).mean, 0.0);
  auto half = torch::tensor({0.5, 0.5, 0.0}, kF64).reshape({1, 1, 3});
  EXPECT_NEAR(routerEntropy(half).mean, std::log(2.0), 1e-15);
  EXPECT_NEAR(routerEntropy(half).normalized, std::log(2.0) / std::log(3.0), 1e-15);

  // Position p always goes to expert p (E = P = 4): usage uniform, MI = log 4, normalised 1.
  auto byPosition = torch::one_hot(torch::arange(4).expand({5, 4}), 4).to(torch::kDouble);
  EXPECT_CLOSE(expertUsage(byPosition), torch::full({4}, 0.25, kF64), 1e-15);
  EXPECT_CLOSE(routingMap(byPosition), torch::eye(4, kF64), 1e-15);
  auto mi = positionMutualInformation(byPosition);
  EXPECT_NEAR(mi.nats, std::log(4.0), 1e-14);
  EXPECT_NEAR(mi.normalized, 1.0, 1e-14);
  // Expert = image index mod 2, the same at every position: I(expert; position) = 0.
  auto byImage = torch::one_hot((torch::arange(4) % 2).unsqueeze(1).expand({4, 3}), 2)
                     .to(torch::kDouble);
  EXPECT_NEAR(positionMutualInformation(byImage).nats, 0.0, 1e-15);
  auto map = routingMap(byImage);
  EXPECT_CLOSE(map, torch::full({3, 2}, 0.5, kF64), 1e-15);
  // ... and it equals the class when the label is the image index mod 2.
  auto labels = torch::tensor({0, 1, 0, 1}, torch::kLong);
  auto ci = classMutualInformation(byImage, labels, 2);
  EXPECT_NEAR(ci.nats, std::log(2.0), 1e-14);
  EXPECT_NEAR(ci.normalized, 1.0, 1e-14);
  // A hand-computed joint: a = (0,0,1,1), b = (0,1,1,1): I = sum p log p/(pa pb).
  auto a = torch::tensor({0, 0, 1, 1}, torch::kLong), b = torch::tensor({0, 1, 1, 1}, torch::kLong);
  const double want = 0.25 * std::log(0.25 / (0.5 * 0.25)) + 0.25 * std::log(0.25 / (0.5 * 0.75)) +
                      0.5 * std::log(0.5 / (0.5 * 0.75));
  EXPECT_NEAR(mutualInformation(a, 2, b, 2).nats, want, 1e-15);
}

//===----------------------------------------------------------------------===//
// An independent NumPy implementation of patchify + embed
//===----------------------------------------------------------------------===//

void writeNpy(const std::string &path, const torch::Tensor &t) {
  auto c = t.detach().contiguous().to(torch::kDouble);
  std::string shape = "(";
  for (int64_t d : c.sizes())
    shape += std::to_string(d) + ", ";
  shape += ")";
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char *>(c.data_ptr<double>()), c.numel() * sizeof(double));
}

torch::Tensor readNpy(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  char magic[10];
  in.read(magic, 10);
  if (!in || std::string(magic + 1, 5) != "NUMPY")
    return {};
  const int version = magic[6];
  size_t len = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
  if (version >= 2) { // 4-byte header length
    char more[2];
    in.read(more, 2);
    len |= (static_cast<size_t>(static_cast<unsigned char>(more[0])) << 16) |
           (static_cast<size_t>(static_cast<unsigned char>(more[1])) << 24);
  }
  std::string header(len, ' ');
  in.read(header.data(), len);
  if (header.find("'<f8'") == std::string::npos || header.find("False") == std::string::npos)
    return {};
  auto open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  std::vector<int64_t> shape;
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  for (std::string item; std::getline(dims, item, ',');)
    if (item.find_first_of("0123456789") != std::string::npos)
      shape.push_back(std::stoll(item));
  auto t = torch::empty(shape, kF64);
  in.read(reinterpret_cast<char *>(t.data_ptr<double>()), t.numel() * sizeof(double));
  return in ? t : torch::Tensor();
}

TEST(NumPy, PatchifyAndEmbedAgreeWithAnIndependentScript) {
  const std::string python = PCE_NUMPY_PYTHON;
  if (python.empty() || std::system((python + " -c 'import numpy' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "no python3 with numpy";
  torch::manual_seed(801);
  struct Case { int64_t B, C, H, W, ph, pw, r; Halo halo; };
  const Case cases[] = {{2, 3, 6, 8, 3, 4, 1, Halo::Context},
                        {1, 1, 7, 5, 7, 5, 2, Halo::Context},
                        {3, 1, 4, 6, 2, 2, 1, Halo::Isolated}};
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("pce_reference_numpy_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const auto &c : cases) {
    SCOPED_TRACE("ph=" + std::to_string(c.ph) + " pw=" + std::to_string(c.pw));
    auto x = randn({c.B, c.C, c.H, c.W});
    auto We = randn({c.C + 3, c.C + 4}), be = randn({c.C + 3});
    writeNpy((dir / "x.npy").string(), x);
    writeNpy((dir / "We.npy").string(), We);
    writeNpy((dir / "be.npy").string(), be);
    std::ostringstream cmd;
    cmd << python << " " << PCE_NUMPY_SCRIPT << " " << dir.string() << " " << c.ph << " " << c.pw
        << " " << c.r << " " << (c.halo == Halo::Context ? "context" : "isolated") << " 1,2,4";
    ASSERT_EQ(std::system(cmd.str().c_str()), 0) << cmd.str();
    auto patchesNp = readNpy((dir / "patches_np.npy").string());
    auto embNp = readNpy((dir / "emb_np.npy").string());
    ASSERT_TRUE(patchesNp.defined() && embNp.defined());
    auto patches = patchify(x, {c.ph, c.pw, c.r, c.halo});
    EXPECT_CLOSE(patches, patchesNp, 1e-15);
    EXPECT_CLOSE(embed(patches, c.r, We, be), embNp, 1e-13);
  }
  std::filesystem::remove_all(dir);
}

} // namespace
