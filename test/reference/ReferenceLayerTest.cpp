//===- ReferenceLayerTest.cpp - the whole layer, gradients, analysis ------===//
//
// The reference's whole layer against independent forms: identities with
// plain convolutions, autograd against central finite differences, the
// analysis quantities by hand, and patchify/embed against a NumPy script.
// Inputs are fresh random tensors.
//
//===----------------------------------------------------------------------===//

#include "ReferenceTestSupport.h"

using namespace pce::ref;
using namespace pce::reftest;
using torch::indexing::Slice;

namespace {

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
